import { TugError } from "../../errors.ts";
import { readAll } from "../../util/read-all.ts";
import { parseDescriptor } from "../checked-digest.ts";
import type { Digest } from "../digest.ts";
import { formatReference, manifestReference, type Reference } from "../reference.ts";
import { checkRootfs } from "../rootfs-check.ts";
import { checkDeclaredSize, MAX_CONFIG_BYTES } from "../size-limits.ts";
import {
  type Artifact,
  type Descriptor,
  type Image,
  type ImageConfig,
  type ImageIndex,
  type IndexManifest,
  type Layer,
  type Manifest,
  MediaType,
} from "../types.ts";
import { type FetchedManifest, parseManifestJson, type RegistryClient, type Repo } from "./client.ts";

const IMAGE_TYPES = new Set<string>([MediaType.ociManifest, MediaType.dockerManifest]);
const INDEX_TYPES = new Set<string>([MediaType.ociIndex, MediaType.dockerManifestList]);

/** Memoizes an async value, forgetting failures so a later call can try again. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    if (!p) {
      p = fn();
      p.catch(() => {
        p = undefined;
      });
    }
    return p;
  };
}

function remoteLayer(
  client: RegistryClient,
  repo: Repo,
  d: Descriptor,
  index: number,
  config: () => Promise<ImageConfig>,
): Layer {
  return {
    digest: async () => d.digest,
    size: async () => d.size,
    mediaType: () => d.mediaType,
    diffId: async () => {
      const id = (await config()).rootfs?.diff_ids?.[index];
      if (!id) {
        throw new TugError({
          what: `the config of ${repo.registry}/${repo.repository} lists no diff_id for layer ${index + 1}`,
          hint: "the image is malformed; rebuild or re-push it",
        });
      }
      return id;
    },
    compressed: () => client.blob(repo, d.digest, d.size),
  };
}

function remoteImage(client: RegistryClient, repo: Repo, fetched: FetchedManifest): Image {
  const where = `${repo.registry}/${repo.repository}@${fetched.digest}`;
  const parsed = parseManifestJson<Manifest>(fetched.raw, where);
  if (!parsed?.config || !Array.isArray(parsed.layers)) {
    throw new TugError({ what: "the image manifest has no config or layers", where });
  }
  // Digests become file names in caches and layouts: anything but sha256:HEX is refused here.
  const manifest: Manifest = {
    ...parsed,
    config: parseDescriptor(parsed.config, `${where}: config`),
    layers: parsed.layers.map((d, i) => parseDescriptor(d, `${where}: layers[${i}]`)),
  };
  // The descriptor's size bounds the stream (verifyingStream refuses a byte more), so an
  // endless config ends at the size this check allows.
  checkDeclaredSize("the image config", manifest.config.size, MAX_CONFIG_BYTES, where);
  const rawConfig = once(async () =>
    readAll(await client.blob(repo, manifest.config.digest, manifest.config.size)),
  );
  const config = once(async () => {
    const c = parseManifestJson<ImageConfig>(await rawConfig(), `${where}: config ${manifest.config.digest}`);
    // diff_ids name layers tug reads and records: checked against the manifest before any use.
    checkRootfs(c, manifest.layers.length, `${where}: config ${manifest.config.digest}`);
    return c;
  });
  const layers = manifest.layers.map((d, i) => remoteLayer(client, repo, d, i, config));
  return {
    rawManifest: async () => fetched.raw,
    manifest: async () => manifest,
    digest: async () => fetched.digest,
    mediaType: () => fetched.mediaType,
    rawConfig,
    config,
    layers: async () => layers,
  };
}

function remoteIndex(client: RegistryClient, repo: Repo, fetched: FetchedManifest): ImageIndex {
  const where = `${repo.registry}/${repo.repository}@${fetched.digest}`;
  const parsed = parseManifestJson<IndexManifest>(fetched.raw, where);
  if (!Array.isArray(parsed?.manifests)) {
    throw new TugError({ what: "the image index has no manifests", where });
  }
  const index: IndexManifest = {
    ...parsed,
    manifests: parsed.manifests.map((d, i) => parseDescriptor(d, `${where}: manifests[${i}]`)),
  };
  const images = once(async () => {
    // Nested indexes and non-image entries (e.g. attestations) are not images of this index.
    const wanted = index.manifests.filter((d) => IMAGE_TYPES.has(d.mediaType));
    return Promise.all(
      wanted.map(async (descriptor) => {
        const child = await client.manifest(repo, descriptor.digest);
        return { descriptor, image: remoteImage(client, repo, child) };
      }),
    );
  });
  return {
    rawManifest: async () => fetched.raw,
    manifest: async () => index,
    digest: async () => fetched.digest,
    mediaType: () => fetched.mediaType,
    images,
  };
}

/** Wraps a fetched manifest as a lazy Image or ImageIndex whose blobs are fetched on demand. */
export function artifactFromManifest(client: RegistryClient, repo: Repo, fetched: FetchedManifest): Artifact {
  if (INDEX_TYPES.has(fetched.mediaType)) return remoteIndex(client, repo, fetched);
  if (IMAGE_TYPES.has(fetched.mediaType)) return remoteImage(client, repo, fetched);
  throw new TugError({
    what: `unsupported manifest type ${fetched.mediaType}`,
    where: `${repo.registry}/${repo.repository}@${fetched.digest}`,
    hint: "tug reads OCI and Docker schema 2 images; re-push the image with a current tool",
  });
}

/**
 * Fetches an image or index by tag or digest (verified against the digest); configs and
 * layer bytes stay remote until asked for, and layer streams verify their digest as they flow.
 */
export async function fetchArtifact(client: RegistryClient, ref: Reference): Promise<Artifact> {
  const repo: Repo = { registry: ref.registry, repository: ref.repository };
  const fetched = await client.manifest(repo, manifestReference(ref));
  return artifactFromManifest(client, repo, fetched);
}

/** Resolves a tag to the digest it names right now. */
export async function resolveDigest(client: RegistryClient, ref: Reference): Promise<Digest> {
  if (ref.digest) return ref.digest;
  const repo: Repo = { registry: ref.registry, repository: ref.repository };
  const head = await client.headManifest(repo, manifestReference(ref));
  if (!head) {
    throw new TugError({
      what: `image ${formatReference(ref)} not found`,
      hint: "check the repository name and tag; private images also need `podman login` or `docker login`",
    });
  }
  return head.digest ?? (await client.manifest(repo, manifestReference(ref))).digest;
}
