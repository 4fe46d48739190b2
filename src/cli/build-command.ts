import { relative, resolve } from "node:path";
import type { Command } from "commander";
import { remoteCacheSetting } from "../config/remote-cache.ts";
import { TugError } from "../errors.ts";
import { parseSbomFormat } from "../sbom/sbom-model.ts";
import { cli } from "./context.ts";
import { addLambdaFlags, type LambdaFlags } from "./handler-args.ts";
import { fmtMs, Progress } from "./progress.ts";
import { projectFromArgs } from "./project-args.ts";

export interface CommonBuildFlags {
  file?: string;
  repo?: string;
  out?: string;
  offline?: boolean;
  trustPushed?: boolean;
  remoteCache?: string;
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
      "--remote-cache <mode>",
      "shared cache (TUG_REMOTE_CACHE or cache.remote): read, readwrite (default) or off",
    )
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
  addLambdaFlags(
    addBuildFlags(
      program
        .command("build")
        .argument(
          "[targets-or-dir...]",
          "target names, a directory (zero-config image) or FILE:FUNCTION (a lambda)",
        )
        .description("build images and lambdas (and push images when a repo is set)")
        .option(
          "--sbom <format>",
          "SBOM for each image and zip: spdx (SPDX 2.3 JSON, default), cyclonedx (CycloneDX 1.5) or none",
        ),
    ),
  ).action(async (args: string[], flags: CommonBuildFlags & LambdaFlags & { sbom?: string }) => {
    const sbom = parseSbomFormat(flags.sbom, "--sbom");
    const { project, targets, repo } = await projectFromArgs(args, flags);
    // With --timings every step is listed at the end; the running log would repeat them.
    const progress = new Progress(Progress.modeFor(flags), { stepLines: !flags.timings });
    // Loaded per command: start-up parses only what the command runs.
    const { build } = await import("../build/build.ts");
    const result = await build(project, {
      targets,
      repo,
      out: flags.out ? resolve(flags.out) : undefined,
      offline: flags.offline,
      trustPushed: flags.trustPushed ?? cli.env.TUG_TRUST_PUSHED === "1",
      remoteCache: remoteCacheSetting(project, flags.remoteCache, cli.env),
      insecureRegistries: flags.insecureRegistry,
      jobs: parseJobs(flags.jobs),
      sbom,
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
    for (const l of result.lambdas) {
      for (const w of l.warnings ?? []) cli.stderr.write(`warning: ${w}\n`);
      const size =
        l.bytes < 1024 * 1024
          ? `${(l.bytes / 1024).toFixed(1)} kB`
          : `${(l.bytes / 1024 / 1024).toFixed(1)} MB`;
      progress.line(
        `${l.target}  ${relative(cli.cwd(), l.path)}  ${l.digest}  ${size}  ${l.cached ? "cached" : l.reason ? `built (${l.reason})` : "built"}  ${fmtMs(l.ms)}`,
      );
    }
    if (flags.json) {
      const artifacts = [...result.artifacts, ...result.lambdas];
      cli.stdout.write(`${JSON.stringify({ ms: result.ms, artifacts })}\n`);
    }
  });
}

function parseJobs(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new TugError({
      what: `--jobs ${v} is not a whole number of at least 1`,
      where: "--jobs",
      hint: "e.g. -j 2",
    });
  }
  return n;
}
