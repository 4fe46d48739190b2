import { Argument, type Command } from "commander";
import { cli } from "./context.ts";

export function completionCommand(program: Command): void {
  program
    .command("completion")
    .description("print a shell completion script: source <(tug completion bash)")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(["bash", "zsh", "fish"]))
    .action(async (shell: "bash" | "zsh" | "fish") => {
      const { bashCompletion, fishCompletion, zshCompletion } = await import("./completion.ts");
      const generate = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion }[shell];
      cli.stdout.write(generate(program));
    });
}
