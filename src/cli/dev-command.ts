import type { Command } from "commander";
import { dev } from "../dev/dev.ts";
import { formatReport } from "../dev/report.ts";
import { projectFromArgs } from "./project-args.ts";

export function devCommand(program: Command): void {
  program
    .command("dev")
    .argument("[targets...]")
    .option("-f, --file <tug.yaml>", "project file (default: ./tug.yaml)")
    .option("--json", "stream one JSON object per update on stdout")
    .description("build, run and watch targets; live-update them on every change (Ctrl-C stops everything)")
    .action(async (names: string[], flags: { file?: string; json?: boolean }) => {
      const { project } = await projectFromArgs([], flags);
      const session = await dev(project, {
        targets: names,
        onReport: (r) => {
          if (flags.json) process.stdout.write(`${JSON.stringify(r)}\n`);
          else process.stderr.write(`${formatReport(r)}\n`);
        },
        onLog: (target, line) => process.stderr.write(`${target} | ${line}\n`),
        imageRuntime: async (target, engine, p) =>
          (await import("../dev/image-runtime.ts")).imageRuntime(target, engine, p),
      });
      await new Promise<void>((resolve) => {
        const shutdown = () => {
          process.off("SIGINT", shutdown);
          process.off("SIGTERM", shutdown);
          resolve();
        };
        process.on("SIGINT", shutdown);
        process.on("SIGTERM", shutdown);
      });
      await session.stop();
    });
}
