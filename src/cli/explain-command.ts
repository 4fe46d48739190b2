import type { Command } from "commander";
import { explainTarget } from "../build/explain-target.ts";
import { projectFromArgs } from "./project-args.ts";

export function explainCommand(program: Command): void {
  program
    .command("explain")
    .argument("<target>")
    .option("-f, --file <tug.yaml>", "project file")
    .option("--json", "print JSON")
    .description("say why a target was (or would be) rebuilt: which inputs changed")
    .action(async (name: string, flags: { file?: string; json?: boolean }) => {
      const { project } = await projectFromArgs([], flags);
      const steps = await explainTarget(project, name);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ target: name, steps })}\n`);
        return;
      }
      for (const s of steps) {
        const head = {
          "up-to-date": "up to date (cache hit)",
          rebuild: "would be rebuilt",
          missing: "would be rebuilt",
        }[s.status];
        process.stdout.write(`${name}  ${s.step}: ${head}\n`);
        for (const r of s.reasons) process.stdout.write(`  - ${r}\n`);
        if (s.status === "up-to-date" && s.lastRebuildReasons.length > 0) {
          process.stdout.write("  last rebuilt because:\n");
          for (const r of s.lastRebuildReasons.slice(0, 20)) process.stdout.write(`  - ${r}\n`);
        }
      }
    });
}
