// Where a build's images go and how their layers are compressed, decided in one place from the
// command's options: which sinks (registry, OCI layout, docker-load tarball), which repositories
// a registry may mount blobs from, which gzip level. build() receives the result ready-made; it
// never looks at `repo` or `out` itself. The sink modules load only when a build opens them, so
// planning costs a lambda-only build nothing.
import { join } from "node:path";
import { hostPlatform } from "../config/platform.ts";
import { buildOrder } from "../config/target-graph.ts";
import type { ImageTarget, Project } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { TugError } from "../errors.ts";
import type { Compression } from "../oci/compress.ts";
import { parseReference } from "../oci/reference.ts";
import type { ProvenanceContext } from "../sbom/image-provenance.ts";
import type { SbomFormat } from "../sbom/sbom-model.ts";
import type { SigningKey } from "../sign/keys.ts";
import { gitInfo } from "./git-info.ts";
import type { RegistryAccess } from "./registry-sink.ts";
import type { Sink } from "./sinks.ts";

export interface OutputOptions {
  /** Push here (already resolved from --repo / TUG_REPO / tug.yaml); local outputs only when unset. */
  repo?: string;
  /** An OCI layout (DIR/oci) and docker tarballs (DIR/NAME.tar); default `.tug/out` when no repo. */
  out?: string;
  trustPushed?: boolean;
  sbom?: SbomFormat;
  signKey?: SigningKey;
  provenance?: boolean;
}

/** A build's image outputs: the compression of each target and the sinks each image goes to. */
export interface ImageOutputs {
  compression(target: ImageTarget): Compression;
  /** The composed sink, on the build's engine and registry client (its modules load now). */
  open(ctx: { engine: Engine; registry: RegistryAccess }): Promise<Sink>;
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/;

/** gzip level 1 where bandwidth is free (loopback, local disk), 6 where bytes cross a network. */
export function defaultCompression(repo: string | undefined): Compression {
  const host = repo?.split("/")[0];
  return { kind: "gzip", level: host === undefined || LOOPBACK.test(host) ? 1 : 6 };
}

/** The local output directory: `out`, or `.tug/out` when nothing is pushed; none otherwise. */
export function outDir(project: Project, opts: Pick<OutputOptions, "out" | "repo">): string | undefined {
  return opts.out ?? (opts.repo ? undefined : join(project.dir, ".tug", "out"));
}

/**
 * Repositories of `repo`'s registry a target's blobs may be mounted from, at most two tries
 * before an upload. On `tug://NAME`: the base target's repository (pushed earlier or in this
 * run) and the registry base at the bottom of the chain; on a registry base of the same
 * registry: its repository.
 */
export function mountFrom(project: Project, repo: string): (name: string) => string[] {
  const registryBase = (name: string): string[] => {
    const base = project.targets.find((t) => t.name === name)?.base;
    if (base?.kind !== "registry") return [];
    const [baseRef, target] = [parseReference(base.ref), parseReference(`${repo}/${name}`)];
    return baseRef.registry === target.registry ? [baseRef.repository] : [];
  };
  return (name) => {
    const chain = buildOrder(
      project.targets,
      project.targets.filter((t) => t.name === name),
    );
    const base = chain.at(-1)?.base;
    if (base?.kind !== "target") return registryBase(name);
    return [parseReference(`${repo}/${base.name}`).repository, ...registryBase(chain[0]!.name)];
  };
}

/** The outputs `tug build` writes for these options. */
export function imageOutputs(project: Project, opts: OutputOptions): ImageOutputs {
  const level = defaultCompression(opts.repo);
  return {
    compression: (target) => target.compression ?? level,
    open: (ctx) => openSinks(project, opts, ctx),
  };
}

async function openSinks(
  project: Project,
  opts: OutputOptions,
  { engine, registry }: { engine: Engine; registry: RegistryAccess },
): Promise<Sink> {
  // Checked when images are published: a lambda-only build may carry the flag harmlessly.
  if (opts.signKey && !opts.repo) {
    throw new TugError({
      what: `--sign-key ${opts.signKey.path} without a repository: signatures are stored in a registry`,
      hint: "push with --repo (or TUG_REPO, tug.yaml repo:), or drop --sign-key",
    });
  }
  const [{ registrySink }, { fanOut, keepDropBlob, layoutSink, tarballSink }, sboms, { registrySignatures }] =
    await Promise.all([
      import("./registry-sink.ts"),
      import("./sinks.ts"),
      import("./sbom-sinks.ts"),
      import("./sign-sink.ts"),
    ]);
  const sinks: Sink[] = [];
  const attach = { format: opts.sbom ?? "spdx", engine, provenance: provenanceContext(project, opts) };
  if (opts.repo) {
    const pushed = registrySink(registry, engine, {
      repo: opts.repo,
      mountFrom: mountFrom(project, opts.repo),
      trustPushed: opts.trustPushed,
    });
    const attached = sboms.registrySboms(pushed, registry, opts.repo, attach);
    sinks.push(registrySignatures(attached, registry, opts.repo, { key: opts.signKey, engine }));
  }
  const out = outDir(project, opts);
  if (out) {
    const dir = join(out, "oci");
    const layout = layoutSink(dir, engine.store.root);
    sinks.push(keepDropBlob(sboms.layoutSboms(layout, dir, attach), layout));
    sinks.push(tarballSink(out, hostPlatform(), opts.repo));
  }
  return sinks.length === 1 ? sinks[0]! : fanOut(sinks);
}

function provenanceContext(project: Project, opts: OutputOptions): ProvenanceContext | undefined {
  if (!opts.provenance) return undefined;
  let git: ReturnType<typeof gitInfo> | undefined;
  return { project, started: new Date(), git: () => (git ??= gitInfo(project.dir)) };
}
