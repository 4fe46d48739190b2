import { Readable } from "node:stream";
import { TugError } from "../../errors.ts";
import type { Digest } from "../digest.ts";
import { formatReference, type Reference, withDigest } from "../reference.ts";
import { type Artifact, type Descriptor, type Image, isIndex, type Layer } from "../types.ts";
import type { RegistryClient, Repo } from "./client.ts";
import { allSettledOrThrow, limiter } from "./limit.ts";
import { type BlobSource, cancelUpload, mountBlob, uploadBlob } from "./upload.ts";

export type BlobStatus = "exists" | "mounted" | "uploaded";

export type PushEvent =
  | { type: "blob-upload"; digest: Digest; size: number }
  | { type: "blob"; digest: Digest; size: number; status: BlobStatus; from?: string }
  | {
      type: "manifest";
      digest: Digest;
      reference: string;
      mediaType: string;
      /** The registry's `OCI-Subject` answer: it indexed the manifest's subject (referrers API). */
      ociSubject?: string;
    };

export interface PushOptions {
  /** Blobs in flight at once; default 4. */
  concurrency?: number;
  /** Repositories on the target registry that may already hold the blobs (cross-repository mount). */
  mountFrom?: string[];
  onEvent?: (e: PushEvent) => void;
}

export interface PushResult {
  /** `registry/repository:tag@digest`. */
  reference: string;
  digest: Digest;
  /** Blob bytes actually sent (uploads only; mounts and existing blobs cost nothing). */
  pushedBytes: number;
  uploadedBlobs: number;
  mountedBlobs: number;
  existingBlobs: number;
}

interface PushState {
  client: RegistryClient;
  target: Repo;
  mountFrom: string[];
  run: <T>(task: () => Promise<T>) => Promise<T>;
  /** One promise per digest, so a layer shared by several platform images is pushed once. */
  blobs: Map<Digest, Promise<void>>;
  result: Omit<PushResult, "reference" | "digest">;
  emit: (e: PushEvent) => void;
}

async function ensureBlob(s: PushState, blob: BlobSource): Promise<void> {
  const { client, target } = s;
  const done = (status: BlobStatus, from?: string) => {
    if (status === "uploaded") {
      s.result.uploadedBlobs++;
      s.result.pushedBytes += blob.size;
    } else if (status === "mounted") s.result.mountedBlobs++;
    else s.result.existingBlobs++;
    s.emit({ type: "blob", digest: blob.digest, size: blob.size, status, ...(from ? { from } : {}) });
  };
  if ((await client.headBlob(target, blob.digest)) !== undefined) return done("exists");
  let location: string | undefined;
  for (const from of s.mountFrom) {
    if (location) await cancelUpload(client, target, location);
    const mount = await mountBlob(client, target, blob.digest, from);
    if (mount.mounted) return done("mounted", from);
    location = mount.location;
  }
  s.emit({ type: "blob-upload", digest: blob.digest, size: blob.size });
  await uploadBlob(client, target, blob, location ? { location } : {});
  done("uploaded");
}

function scheduleBlob(s: PushState, blob: BlobSource): Promise<void> {
  let p = s.blobs.get(blob.digest);
  if (!p) {
    p = s.run(() => ensureBlob(s, blob));
    s.blobs.set(blob.digest, p);
  }
  return p;
}

async function layerSources(image: Image, descriptors: Descriptor[]): Promise<BlobSource[]> {
  const layers = await image.layers();
  const byDigest = new Map<Digest, Layer>();
  for (const layer of layers) byDigest.set(await layer.digest(), layer);
  return descriptors.map((d) => {
    const layer = byDigest.get(d.digest);
    if (!layer)
      throw new Error(`internal: manifest names layer ${d.digest}, but the image has no such layer`);
    // Only the manifest's digest and size are consulted: the layer is opened only on a miss.
    return { digest: d.digest, size: d.size, open: () => layer.compressed() };
  });
}

/** Pushes one image's blobs, then (only once every blob is confirmed present) its manifest. */
async function pushImage(s: PushState, image: Image, reference: string): Promise<Digest> {
  const manifest = await image.manifest();
  const config: BlobSource = {
    digest: manifest.config.digest,
    size: manifest.config.size,
    open: async () => Readable.from([await image.rawConfig()]),
  };
  const sources = [config, ...(await layerSources(image, manifest.layers))];
  await allSettledOrThrow(sources.map((b) => scheduleBlob(s, b)));
  return putManifest(s, await image.rawManifest(), image.mediaType(), reference);
}

async function putManifest(s: PushState, raw: Buffer, mediaType: string, reference: string): Promise<Digest> {
  let ociSubject: string | undefined;
  const digest = await s.client.putManifest(s.target, reference, raw, mediaType, (v) => {
    ociSubject = v;
  });
  s.emit({ type: "manifest", digest, reference, mediaType, ...(ociSubject ? { ociSubject } : {}) });
  return digest;
}

/**
 * Pushes an image or index: blobs in parallel (bounded), each HEADed first, mounted from
 * `mountFrom` when possible, uploaded otherwise; child manifests by digest before the index;
 * the tag is written last, so a tag never points at something incomplete.
 */
export async function pushArtifact(
  client: RegistryClient,
  artifact: Artifact,
  target: Reference,
  opts: PushOptions = {},
): Promise<PushResult> {
  const digest = await artifact.digest();
  if (target.digest && target.digest !== digest) {
    throw new TugError({
      what: `cannot push ${digest} as ${formatReference(target)}: the reference names another digest`,
      hint: "drop the @sha256:… part of the target reference",
    });
  }
  const repo: Repo = { registry: target.registry, repository: target.repository };
  const mountFrom = [...new Set(opts.mountFrom ?? [])].filter((r) => r !== target.repository);
  await client.prepare(repo, { push: true, mountFrom });
  const s: PushState = {
    client,
    target: repo,
    mountFrom,
    run: limiter(opts.concurrency ?? 4),
    blobs: new Map(),
    result: { pushedBytes: 0, uploadedBlobs: 0, mountedBlobs: 0, existingBlobs: 0 },
    emit: opts.onEvent ?? (() => {}),
  };
  const reference = target.tag ?? digest;
  if (isIndex(artifact)) {
    const children = await artifact.images();
    await allSettledOrThrow(
      children.map(async ({ descriptor, image }) => {
        const pushed = await pushImage(s, image, descriptor.digest);
        if (pushed !== descriptor.digest) {
          throw new Error(`internal: index names ${descriptor.digest} but the image's manifest is ${pushed}`);
        }
      }),
    );
    await putManifest(s, await artifact.rawManifest(), artifact.mediaType(), reference);
  } else {
    const pushed = await pushImage(s, artifact, reference);
    if (pushed !== digest)
      throw new Error(`internal: image digest ${digest} differs from its manifest's ${pushed}`);
  }
  return { reference: formatReference(withDigest(target, digest)), digest, ...s.result };
}
