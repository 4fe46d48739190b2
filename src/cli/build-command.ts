import { relative, resolve } from "node:path";
import { type Command, Option } from "commander";
import { remoteCacheSetting } from "../config/remote-cache.ts";
import { TugError } from "../errors.ts";
import { parseSbomFormat } from "../sbom/sbom-model.ts";
import { addConfigOption, type ConfigFlags } from "./config-option.ts";
import { cli } from "./context.ts";
import { addLambdaFlags, type LambdaFlags } from "./handler-args.ts";
import { fmtMs, Progress } from "./progress.ts";
import { projectFromArgs } from "./project-args.ts";
import { collect, type TargetOverrides, withOverrides } from "./target-overrides.ts";

export interface PushFlags extends ConfigFlags, TargetOverrides {
  repo?: string;
  offline?: boolean;
  trustPushed?: boolean;
  remoteCache?: string;
  insecureRegistry: string[];
  quiet?: boolean;
  jobs?: string;
}

export interface CommonBuildFlags extends PushFlags {
  out?: string;
  json?: boolean;
  timings?: boolean;
  local?: boolean;
  push?: boolean;
  base?: string;
}

const loadSigningKey = async (path: string) => (await import("../sign/keys.ts")).loadSigningKey(path);

type BuildFlags = CommonBuildFlags & LambdaFlags & { sbom?: string; signKey?: string; provenance?: boolean };

/** The flags of every command that builds and pushes images (build, resolve, apply). */
export function addPushFlags(cmd: Command, opts: { legacyFile?: boolean } = {}): Command {
  return addConfigOption(cmd, opts)
    .option("--repo <repository>", "push to this repository (also TUG_REPO, tug.yaml repo:)")
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
    .option(
      "--platform <os/arch,...>",
      "build for these platforms instead of tug.yaml's (repeatable)",
      collect,
    )
    .option("-t, --tag <tag>", "push this tag too (repeatable)", collect)
    .option("--image-label <key=value>", "add this label to the image config (repeatable)", collect)
    .option("-q, --quiet", "no progress on stderr")
    .option("-j, --jobs <n>", "parallel CPU-bound steps (default: cores)");
}

export function addBuildFlags(cmd: Command): Command {
  return addPushFlags(cmd)
    .option(
      "--out <dir>",
      "also write an OCI layout (DIR/oci) and docker tarballs (default .tug/out without a repo)",
    )
    .option("--local", "write local outputs only, even when a repo is set (same as --push=false)")
    .addOption(new Option("--push [bool]", "push when a repo is set (default true)").argParser(parseBool))
    .option("--base <ref>", "the base image of a zero-config build (tug build ./dir --base REF)")
    .option("--json", "print one JSON document on stdout")
    .option("--timings", "print per-step timings");
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
        .option("--sign-key <cosign.key>", "sign each pushed image, cosign-style (key password from env)")
        .option("--provenance", "attach an SLSA v1 provenance statement (in-toto) to each image and zip")
        .option("--no-provenance", "no provenance statement (the default)")
        .option(
          "--sbom <format>",
          "SBOM for each image and zip: spdx (SPDX 2.3 JSON, default), cyclonedx (CycloneDX 1.5) or none",
        ),
    ),
  ).action(async (args: string[], flags: BuildFlags) => {
    const sbom = parseSbomFormat(flags.sbom, "--sbom");
    const signKey = flags.signKey ? await loadSigningKey(flags.signKey) : undefined;
    const found = await projectFromArgs(args, flags);
    const { targets } = found;
    const project = withOverrides(found.project, targets, flags);
    const repo = flags.local || flags.push === false ? undefined : found.repo;
    // With --timings every step is listed at the end; the running log would repeat them.
    const progress = await Progress.open(flags, { stepLines: !flags.timings });
    // Loaded per command: start-up parses only what the command runs.
    const [{ build }, { imageOutputs }] = await Promise.all([
      import("../image/build.ts"),
      import("../image/output-policy.ts"),
    ]);
    const out = flags.out ? resolve(flags.out) : undefined;
    const trustPushed = flags.trustPushed ?? cli.env.TUG_TRUST_PUSHED === "1";
    const result = await build(project, {
      targets,
      repo,
      out,
      // The image sinks are composed here, at the edge; build() only publishes to them.
      outputs: imageOutputs(project, { repo, out, trustPushed, sbom, signKey, provenance: flags.provenance }),
      offline: flags.offline,
      trustPushed,
      remoteCache: remoteCacheSetting(project, flags.remoteCache, cli.env),
      insecureRegistries: flags.insecureRegistry,
      jobs: parseJobs(flags.jobs),
      sbom,
      signKey,
      provenance: flags.provenance,
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
      cli.stdout.write(`${JSON.stringify({ ms: result.ms, artifacts, steps: result.steps })}\n`);
    }
  });
}

function parseBool(v: string): boolean {
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw new TugError({
    what: `--push ${v}: not true or false`,
    where: "--push",
    hint: "write --push=false (or --local) for local outputs; target names go before --push",
  });
}

export function parseJobs(v: string | undefined): number | undefined {
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
