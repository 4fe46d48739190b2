import { createHash } from "node:crypto";
import { isAbsolute, join, relative, sep } from "node:path";
import type { ImageTarget, Project } from "../config/types.ts";
import type { CacheStore } from "../engine/cache-store.ts";
import { hexOf } from "../oci/digest.ts";
import type { Artifact, Descriptor, Image, Platform } from "../oci/types.ts";
import { isIndex, platformString } from "../oci/types.ts";
import { readBoundedFile } from "../util/bounded-file.ts";
import { redactUrl } from "../util/redact.ts";
import {
  IN_TOTO_MEDIA_TYPE,
  provenanceStatement,
  provenanceTimes,
  type ResourceDescriptor,
  sortedJson,
  tugBuildType,
} from "./provenance.ts";
import { type ReferrerArtifact, referrerArtifact } from "./referrer-manifest.ts";
import { purlOf } from "./sbom-model.ts";

// An image's SLSA provenance, one statement per platform manifest, attached like its SBOM. The
// statement of an image digest is kept in the cache: a no-op build attaches the statement of the
// build that made those bytes (times included) instead of a new one, so it pushes nothing.

const BASE_NAME = "org.opencontainers.image.base.name";
const BASE_DIGEST = "org.opencontainers.image.base.digest";
const MAX_LOCKFILE_BYTES = 64 << 20;
const LOCKFILES = [
  "go.sum",
  "package-lock.json",
  "npm-shrinkwrap.json",
  "yarn.lock",
  "pnpm-lock.yaml",
  "uv.lock",
  "poetry.lock",
  "Pipfile.lock",
  "requirements.txt",
];

export interface ProvenanceContext {
  project: Project;
  /** When this build started (metadata.startedOn outside reproducible mode). */
  started: Date;
  git: () => Promise<{ revision?: string; source?: string }>;
  env?: NodeJS.ProcessEnv;
}

const posix = (p: string) => p.split(sep).join("/");

/**
 * The target's configuration as external parameters: paths relative to the project, no dev
 * settings, build environment values left out (they may hold tokens) and index URLs redacted.
 */
export function targetParameters(target: object, projectDir: string): Record<string, unknown> {
  const { where: _where, dev: _dev, ignore: _ignore, ...rest } = target as Record<string, unknown>;
  // Host paths under the project become relative (the same on every machine); image paths stay.
  const inProject = (v: string) =>
    v === projectDir || v.startsWith(`${projectDir}${sep}`) ? posix(relative(projectDir, v)) || "." : v;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) {
    if (k === "buildEnv" && v && typeof v === "object") out[k] = Object.keys(v).sort();
    else if (k === "indexUrl" && typeof v === "string") out[k] = redactUrl(v);
    else if (k === "extraIndexUrls" && Array.isArray(v)) out[k] = v.map((u) => redactUrl(String(u)));
    else if (k === "base") out[k] = (v as { kind: string; ref?: string; name?: string }).ref ?? v;
    else if (typeof v === "string") out[k] = inProject(v);
    else if (Array.isArray(v)) out[k] = v.map((x) => (typeof x === "string" ? inProject(x) : x));
    else out[k] = v;
  }
  return out;
}

async function lockfiles(target: ImageTarget | undefined, projectDir: string): Promise<ResourceDescriptor[]> {
  const dirs = [target?.context, projectDir].filter((d): d is string => Boolean(d));
  const extra = target?.builder === "python" && target.requirements ? [target.requirements] : [];
  return lockfileDependencies(dirs, projectDir, extra);
}

/** The lockfiles found in `dirs` (and `extra` names), by sha256, named relative to the project. */
export async function lockfileDependencies(
  dirs: readonly string[],
  projectDir: string,
  extra: readonly string[] = [],
): Promise<ResourceDescriptor[]> {
  const names = new Set([...LOCKFILES, ...extra]);
  const found = new Map<string, string>();
  for (const dir of new Set(dirs)) {
    for (const name of names) {
      const path = isAbsolute(name) ? name : join(dir, name);
      const shown = posix(relative(projectDir, path));
      if (found.has(shown) || shown.startsWith("..")) continue;
      const bytes = await readBoundedFile(path, MAX_LOCKFILE_BYTES, "lockfile").catch((e: unknown) => {
        if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR")
          return undefined;
        throw e;
      });
      if (bytes) found.set(shown, createHash("sha256").update(bytes).digest("hex"));
    }
  }
  return [...found].map(([name, sha256]) => ({ name, uri: `file:${name}`, digest: { sha256 } }));
}

/** The provenance referrers of an artifact: one per platform image, each with that image as subject. */
export async function imageProvenanceReferrers(opts: {
  artifact: Artifact;
  name: string;
  ctx: ProvenanceContext;
  store: CacheStore;
}): Promise<ReferrerArtifact[]> {
  const { artifact, name, ctx, store } = opts;
  const target = ctx.project.targets.find((t) => t.name === name);
  const images: Array<{ image: Image; platform?: Platform }> = isIndex(artifact)
    ? (await artifact.images()).map((c) => ({
        image: c.image,
        ...(c.descriptor.platform ? { platform: c.descriptor.platform } : {}),
      }))
    : [{ image: artifact }];
  const [git, locks] = await Promise.all([ctx.git(), lockfiles(target, ctx.project.dir)]);
  return Promise.all(
    images.map(async ({ image, platform }) => {
      const [raw, manifest, digest, config] = await Promise.all([
        image.rawManifest(),
        image.manifest(),
        image.digest(),
        image.config(),
      ]);
      const shownPlatform = platformString(
        platform ?? {
          os: config.os,
          architecture: config.architecture,
          ...(config.variant ? { variant: config.variant } : {}),
        },
      );
      const deps: ResourceDescriptor[] = [...locks];
      if (git.revision)
        deps.push({
          name: "source",
          ...(git.source ? { uri: `git+${git.source}` } : {}),
          digest: { gitCommit: git.revision },
        });
      const baseName = manifest.annotations?.[BASE_NAME];
      const baseDigest = manifest.annotations?.[BASE_DIGEST];
      if (baseName && baseDigest?.startsWith("sha256:")) {
        const hex = hexOf(baseDigest as `sha256:${string}`);
        deps.push({
          name: baseName,
          uri: purlOf({ ecosystem: "oci", name: baseName, version: baseDigest, sha256: hex }),
          digest: { sha256: hex },
        });
      }
      const input = {
        subjects: [{ name: platform ? `${name} (${shownPlatform})` : name, sha256: hexOf(digest) }],
        buildType: tugBuildType("image"),
        externalParameters: {
          target: name,
          config: target ? targetParameters(target, ctx.project.dir) : {},
          platform: shownPlatform,
        },
        resolvedDependencies: deps,
      };
      const times = provenanceTimes(ctx.started, new Date(), ctx.env);
      const key = createHash("sha256")
        .update(JSON.stringify(sortedJson({ input, timed: times !== undefined })))
        .digest("hex");
      const cached = await store.getRecord<{ text: string }>("provenance", key);
      let text = typeof cached?.text === "string" ? cached.text : undefined;
      if (text === undefined) {
        text = provenanceStatement({ ...input, times });
        await store.putRecord("provenance", key, { text });
      }
      const subject: Descriptor = { mediaType: image.mediaType(), digest, size: raw.length };
      return referrerArtifact(subject, text, IN_TOTO_MEDIA_TYPE);
    }),
  );
}
