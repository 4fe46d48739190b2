import { resolve } from "node:path";
import type { Command } from "commander";
import { build } from "../build/build.ts";
import { fmtMs, Progress } from "./progress.ts";
import { projectFromArgs } from "./project-args.ts";

export interface CommonBuildFlags {
  file?: string;
  repo?: string;
  out?: string;
  offline?: boolean;
  trustPushed?: boolean;
  insecureRegistry: string[];
  json?: boolean;
  quiet?: boolean;
  timings?: boolean;
  jobs?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function addBuildFlags(cmd: Command): Command {
  return cmd
    .option("-f, --file <tug.yaml>", "project file (default: ./tug.yaml)")
    .option("--repo <repository>", "push to this repository (also TUG_REPO, tug.yaml repo:)")
    .option(
      "--out <dir>",
      "also write an OCI layout (DIR/oci) and docker tarballs (default .tug/out without a repo)",
    )
    .option("--offline", "never contact a registry for base images (cached bases only)")
    .option(
      "--trust-pushed",
      "skip the manifest HEAD when this cache already pushed the same digest (also TUG_TRUST_PUSHED=1)",
    )
    .option("--insecure-registry <host>", "allow plain HTTP to this registry (repeatable)", collect, [])
    .option("--json", "print one JSON document on stdout")
    .option("-q, --quiet", "no progress on stderr")
    .option("--timings", "print per-step timings")
    .option("-j, --jobs <n>", "parallel CPU-bound steps (default: cores)");
}

export function buildCommand(program: Command): void {
  addBuildFlags(
    program
      .command("build")
      .argument("[targets-or-dir...]")
      .description("build images (and push them when a repo is set)"),
  ).action(async (args: string[], flags: CommonBuildFlags) => {
    const { project, targets, repo } = await projectFromArgs(args, flags);
    const progress = new Progress(Progress.modeFor(flags));
    const result = await build(project, {
      targets,
      repo,
      out: flags.out ? resolve(flags.out) : undefined,
      offline: flags.offline,
      trustPushed: flags.trustPushed ?? process.env.TUG_TRUST_PUSHED === "1",
      insecureRegistries: flags.insecureRegistry,
      jobs: flags.jobs ? Number(flags.jobs) : undefined,
      onEvent: progress.onEvent,
    });
    progress.done();
    if (flags.timings) {
      for (const s of result.steps)
        progress.line(`${s.target}  ${s.step}  ${s.cached ? "cached" : "built"}  ${fmtMs(s.ms)}`);
    }
    for (const a of result.artifacts) {
      progress.line(
        `${a.target}  ${a.ref}${a.ref.includes("@") ? "" : `@${a.digest}`}  ${a.cached ? "cached" : "built"}  ${fmtMs(a.ms)}`,
      );
    }
    if (flags.json)
      process.stdout.write(`${JSON.stringify({ ms: result.ms, artifacts: result.artifacts })}\n`);
  });
}
