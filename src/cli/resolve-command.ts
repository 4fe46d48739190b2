import type { Command } from "commander";
import { remoteCacheSetting } from "../config/remote-cache.ts";
import { addPushFlags, type PushFlags, parseJobs } from "./build-command.ts";
import { cli } from "./context.ts";
import { readManifests } from "./manifest-args.ts";
import { Progress } from "./progress.ts";
import { projectFromArgs } from "./project-args.ts";
import { collect, withOverrides } from "./target-overrides.ts";

export interface ManifestFlags extends PushFlags {
  filename: string[];
}

/** `-f, --filename FILE|DIR|-` (repeatable), as kubectl spells it. */
export function addManifestFlags(cmd: Command): Command {
  return addPushFlags(
    cmd.requiredOption(
      "-f, --filename <file|dir|->",
      "Kubernetes YAML with tug://TARGET image references: a file, a directory of *.yaml/*.yml, or - for stdin (repeatable)",
      collect,
    ),
    { legacyFile: false },
  );
}

/** Builds and pushes what the manifests reference and returns them resolved, as one YAML stream. */
export async function resolveManifests(flags: ManifestFlags): Promise<string> {
  const inputs = await readManifests(flags.filename);
  const found = await projectFromArgs([], flags);
  const project = withOverrides(found.project, [], flags);
  const progress = new Progress(Progress.modeFor({ quiet: flags.quiet }));
  // YAML handling is loaded only for this command, not on every start-up.
  const { resolveTexts } = await import("../image/resolve-files.ts");
  const out = await resolveTexts(project, inputs, {
    repo: found.repo,
    offline: flags.offline,
    trustPushed: flags.trustPushed ?? cli.env.TUG_TRUST_PUSHED === "1",
    remoteCache: remoteCacheSetting(project, flags.remoteCache, cli.env),
    insecureRegistries: flags.insecureRegistry,
    jobs: parseJobs(flags.jobs),
    onEvent: progress.onEvent,
  });
  progress.done();
  return out.map((o) => o.text.replace(/\n?$/, "\n")).join("---\n");
}

export function resolveCommand(program: Command): void {
  addManifestFlags(
    program
      .command("resolve")
      .description("build and push the targets that YAML references as tug://NAME and print it with digests"),
  ).action(async (flags: ManifestFlags) => {
    cli.stdout.write(await resolveManifests(flags));
  });
}
