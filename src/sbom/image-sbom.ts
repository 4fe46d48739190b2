import { createWriteStream } from "node:fs";
import { chmod, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import type { CacheStore } from "../engine/cache-store.ts";
import { type Digest, hexOf, sha256 } from "../oci/digest.ts";
import type { Artifact, Descriptor, Image, Layer, Platform } from "../oci/types.ts";
import { isIndex, platformString } from "../oci/types.ts";
import { baseOsPackages } from "./base-os-packages.ts";
import { goBuildInfo, goModulesFromBuildInfo } from "./go-modules.ts";
import { imageNpmPackages } from "./npm-packages.ts";
import { imagePythonPackages } from "./python-packages.ts";
import { type ReferrerArtifact, referrerArtifact } from "./referrer-manifest.ts";
import { sbomDocument } from "./sbom-document.ts";
import { type SbomFormat, type SbomPackage, sbomStamp } from "./sbom-model.ts";

// An image's SBOM, one per platform manifest: the manifest digest is the root; the base image
// (from the org.opencontainers.image.base.* annotations tug writes) and, for a Go entrypoint, the
// modules its binary's build info names. Module lists are cached per layer digest: a no-op or an
// edit that keeps the binary's layer reads one record.

const BASE_NAME = "org.opencontainers.image.base.name";
/** Bump when what an image's SBOM says changes (2: npm and Python packages, licenses): records then miss. */
const SBOM_VERSION = 2;
const BASE_DIGEST = "org.opencontainers.image.base.digest";

/** The SBOM referrers of an artifact: one per platform image, each with that image as subject. */
export async function imageSbomReferrers(opts: {
  artifact: Artifact;
  name: string;
  format: SbomFormat;
  store: CacheStore;
}): Promise<ReferrerArtifact[]> {
  const { artifact, name, format, store } = opts;
  if (format === "none") return [];
  const images: Array<{ image: Image; platform?: Platform }> = isIndex(artifact)
    ? (await artifact.images()).map((c) => ({
        image: c.image,
        ...(c.descriptor.platform ? { platform: c.descriptor.platform } : {}),
      }))
    : [{ image: artifact }];
  const stamp = sbomStamp();
  return Promise.all(
    images.map(async ({ image, platform }) => {
      const [raw, digest] = await Promise.all([image.rawManifest(), image.digest()]);
      const shown = platform ? `${name} (${platformString(platform)})` : name;
      const subject: Descriptor = { mediaType: image.mediaType(), digest, size: raw.length };
      const make = async () => {
        // Independent readers of the image's layers and records: at once, listed in this order.
        const [manifest, os, go, npm, python] = await Promise.all([
          image.manifest(),
          baseOsPackages(image, store),
          entrypointModules(image, store),
          imageNpmPackages(image, store),
          imagePythonPackages(image, store),
        ]);
        const packages = [...baseOf(manifest.annotations), ...os, ...go, ...npm, ...python];
        const doc = sbomDocument(format, { name: shown, sha256: hexOf(digest), kind: "image" }, packages);
        return referrerArtifact(subject, doc?.text ?? "", doc?.mediaType ?? "");
      };
      // The document is a function of the image digest, the name, the format and the stamp: a
      // no-op build reads its small artifact manifest from one record, and makes the document
      // again only if a destination lacks it.
      const key = `${SBOM_VERSION}\u0000${digest}\u0000${shown}\u0000${format}\u0000${stamp.created}\u0000${stamp.tool}`;
      const known = await store.getRecord<{ manifest: string }>("sbom-referrer", key);
      const cached =
        typeof known?.manifest === "string" ? fromRecord(known.manifest, digest, make) : undefined;
      if (cached) return cached;
      const made = await make();
      await store.putRecord("sbom-referrer", key, { manifest: made.bytes.toString("utf8") });
      return made;
    }),
  );
}

function fromRecord(
  text: string,
  subject: Digest,
  make: () => Promise<ReferrerArtifact>,
): ReferrerArtifact | undefined {
  let manifest: ReferrerArtifact["manifest"];
  try {
    manifest = JSON.parse(text) as ReferrerArtifact["manifest"];
  } catch {
    return undefined;
  }
  const layer = manifest?.layers?.[0];
  if (manifest?.subject?.digest !== subject || !layer || typeof manifest.artifactType !== "string")
    return undefined;
  const bytes = Buffer.from(text, "utf8");
  return {
    manifest,
    bytes,
    digest: sha256(bytes),
    blobDigest: layer.digest,
    blob: async () => {
      const blob = await (await make()).blob();
      if (sha256(blob) !== layer.digest)
        throw new Error(`the SBOM made again for ${subject} differs from the one recorded (${layer.digest})`);
      return blob;
    },
  };
}

function baseOf(annotations: Record<string, string> | undefined): SbomPackage[] {
  const name = annotations?.[BASE_NAME];
  const digest = annotations?.[BASE_DIGEST];
  if (!name || !digest?.startsWith("sha256:")) return [];
  return [{ ecosystem: "oci", name, version: digest, sha256: hexOf(digest as `sha256:${string}`) }];
}

/** The Go modules of the image's entrypoint binary, or none when it is not a Go binary. */
async function entrypointModules(image: Image, store: CacheStore): Promise<SbomPackage[]> {
  const entry = (await image.config()).config.Entrypoint?.[0];
  if (!entry?.startsWith("/")) return [];
  const path = entry.slice(1);
  const layers = await image.layers();
  // The topmost layer that holds the path is the one whose file runs.
  for (const layer of [...layers].reverse()) {
    const key = `${await layer.digest()}:${path}`;
    const cached = await store.getRecord<{ found: boolean; buildInfo: string }>("sbom-go", key);
    if (cached && typeof cached.found === "boolean" && typeof cached.buildInfo === "string") {
      if (cached.found) return goModulesFromBuildInfo(cached.buildInfo);
      continue;
    }
    const found = await buildInfoIn(layer, path, store);
    await store.putRecord("sbom-go", key, { found: found !== undefined, buildInfo: found ?? "" });
    if (found !== undefined) return goModulesFromBuildInfo(found);
  }
  return [];
}

/** `go version -m` output for `path` in the layer (empty when not a Go binary), or undefined when absent. */
async function buildInfoIn(layer: Layer, path: string, store: CacheStore): Promise<string | undefined> {
  const dir = await store.tempPath("sbom");
  await mkdir(dir, { recursive: true });
  const out = join(dir, "binary");
  try {
    let found = false;
    const extract = tar.extract();
    extract.on("entry", (header, stream, next) => {
      const name = header.name.replace(/^\.?\//, "");
      if (name === path && header.type === "file") {
        found = true;
        pipeline(stream, createWriteStream(out)).then(() => next(), next);
      } else {
        stream.on("end", () => next());
        stream.resume();
      }
    });
    const source = await layer.compressed();
    const gzip = layer.mediaType().endsWith("gzip");
    await (gzip ? pipeline(source, createGunzip(), extract) : pipeline(source, extract));
    if (!found) return undefined;
    // Not a Go binary (or no go on PATH): the image simply lists no Go modules.
    // `go version` skips a file without an executable bit.
    await chmod(out, 0o755);
    const text = await goBuildInfo(out).catch(() => "");
    return goModulesFromBuildInfo(text).length > 0 ? text : "";
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
