import { resolve } from "node:path";
import type { Command } from "commander";
import { addConfigOption, type ConfigFlags } from "./config-option.ts";
import { cli } from "./context.ts";
import { addLambdaFlags, type LambdaFlags } from "./handler-args.ts";
import { projectFromArgs } from "./project-args.ts";

export function explainCommand(program: Command): void {
  addLambdaFlags(
    addConfigOption(
      program.command("explain").argument("<target>", "an image, a lambda or a layer (or FILE:FUNCTION)"),
    )
      .option("--out <dir>", "where tug build wrote lambda zips (DIR/lambdas; default .tug/out)")
      .option(
        "--path <path>",
        "say whether this context file is an input, or which ignore-file line excludes it",
      )
      .option("--json", "print JSON")
      .description("say why a target was (or would be) rebuilt: which inputs changed"),
  ).action(
    async (
      arg: string,
      flags: ConfigFlags & { json?: boolean; out?: string; path?: string } & LambdaFlags,
    ) => {
      const { project, targets } = await projectFromArgs([arg], flags);
      const name = targets[0] ?? arg;
      if (flags.path !== undefined) {
        const { explainPath } = await import("../image/explain-path.ts");
        const e = await explainPath(project, name, flags.path);
        if (flags.json) cli.stdout.write(`${JSON.stringify({ target: name, ...e })}\n`);
        else cli.stdout.write(`${name}  ${e.path}: ${e.reason}${e.exists ? "" : " (no such file yet)"}\n`);
        return;
      }
      const { explainTarget } = await import("../image/explain-target.ts");
      const steps = await explainTarget(project, name, flags.out ? { out: resolve(flags.out) } : {});
      if (flags.json) {
        cli.stdout.write(`${JSON.stringify({ target: name, steps })}\n`);
        return;
      }
      for (const s of steps) {
        const head = {
          "up-to-date": "up to date (cache hit)",
          rebuild: "would be rebuilt",
          missing: "would be rebuilt",
        }[s.status];
        cli.stdout.write(`${name}  ${s.step}: ${head}\n`);
        for (const r of s.reasons) cli.stdout.write(`  - ${r}\n`);
        if (s.status === "up-to-date" && s.lastRebuildReasons.length > 0) {
          cli.stdout.write("  last rebuilt because:\n");
          for (const r of s.lastRebuildReasons.slice(0, 20)) cli.stdout.write(`  - ${r}\n`);
        }
      }
    },
  );
}
