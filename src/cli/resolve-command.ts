import { resolve } from "node:path";
import type { Command } from "commander";
import { remoteCacheSetting } from "../config/remote-cache.ts";
import { addBuildFlags, type CommonBuildFlags } from "./build-command.ts";
import { cli } from "./context.ts";
import { Progress } from "./progress.ts";
import { projectFromArgs } from "./project-args.ts";

const collect = (v: string, prev: string[]) => [...prev, v];

export function resolveCommand(program: Command): void {
  addBuildFlags(
    program
      .command("resolve")
      .requiredOption(
        "--filename <file>",
        "Kubernetes YAML with tug://TARGET image references (repeatable)",
        collect,
        [],
      )
      .description("build and push the targets that YAML references as tug://NAME and print it with digests"),
  ).action(async (flags: CommonBuildFlags & { filename: string[] }) => {
    const { project, repo } = await projectFromArgs([], flags);
    const progress = new Progress(Progress.modeFor({ quiet: flags.quiet }));
    // YAML handling is loaded only for this command, not on every start-up.
    const { resolveFiles } = await import("../build/resolve-files.ts");
    const out = await resolveFiles(
      project,
      flags.filename.map((f) => resolve(f)),
      {
        repo,
        offline: flags.offline,
        remoteCache: remoteCacheSetting(project, flags.remoteCache, cli.env),
        insecureRegistries: flags.insecureRegistry,
        onEvent: progress.onEvent,
      },
    );
    progress.done();
    cli.stdout.write(out.map((o) => o.text.replace(/\n?$/, "\n")).join("---\n"));
  });
}
