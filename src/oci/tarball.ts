import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { tempPathFor } from "../util/dead-temps.ts";
import { ioError } from "../util/io-error.ts";
import type { Digest } from "./digest.ts";
import { hexOf } from "./digest.ts";
import { REF_NAME } from "./layout.ts";
import { type Descriptor, type Image, type IndexManifest, type Layer, MediaType } from "./types.ts";

export interface TarballEntry {
  /** A single-platform image; pick the host's child of an index before calling. */
  image: Image;
  /** Names `docker load` tags the image with, e.g. "example.com/app:dev". */
  repoTags: string[];
}

// The header fields fixed so the same images always give the same bytes.
const FIXED = { mtime: new Date(0), uid: 0, gid: 0, uname: "", gname: "" };

/**
 * The name containerd (and Docker 25+) records for a repo tag: "app:dev" → "docker.io/library/app:dev".
 * Good enough for the io.containerd.image.name annotation; digests and odd forms pass through.
 */
function fullName(repoTag: string): string {
  const slash = repoTag.indexOf("/");
  const first = slash < 0 ? "" : repoTag.slice(0, slash);
  if (slash < 0) return `docker.io/library/${repoTag}`;
  if (first.includes(".") || first.includes(":") || first === "localhost") return repoTag;
  return `docker.io/${repoTag}`;
}

function tagOf(repoTag: string): string {
  const colon = repoTag.lastIndexOf(":");
  return colon > repoTag.lastIndexOf("/") ? repoTag.slice(colon + 1) : "latest";
}

type Blob =
  | { kind: "bytes"; digest: Digest; data: Buffer }
  | { kind: "layer"; digest: Digest; size: number; layer: Layer };

/**
 * Writes a tar that `docker load` and `podman load` accept and that is at the same time an OCI
 * image layout archive, the way `docker save` of Docker 25+ lays it out: oci-layout, index.json
 * and manifest.json first, then every blob once under blobs/sha256/<hex>. Layers keep their
 * compressed bytes — docker load sniffs the compression and checks the diff_ids — so nothing is
 * recompressed. The tar is streamed to a temp file next to `file` and renamed over it at the end.
 */
export async function writeDockerTarball(file: string, entries: TarballEntry[]): Promise<void> {
  const dockerManifest: Array<{ Config: string; RepoTags: string[]; Layers: string[] }> = [];
  const index: IndexManifest = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
  const blobs = new Map<Digest, Blob>();
  const blobPath = (d: Digest) => `blobs/sha256/${hexOf(d)}`;

  for (const { image, repoTags } of entries) {
    const [manifest, layers, rawConfig, rawManifest, digest] = await Promise.all([
      image.manifest(),
      image.layers(),
      image.rawConfig(),
      image.rawManifest(),
      image.digest(),
    ]);
    if (!blobs.has(manifest.config.digest)) {
      blobs.set(manifest.config.digest, { kind: "bytes", digest: manifest.config.digest, data: rawConfig });
    }
    if (!blobs.has(digest)) blobs.set(digest, { kind: "bytes", digest, data: rawManifest });
    layers.forEach((layer, i) => {
      const d = manifest.layers[i]!;
      if (!blobs.has(d.digest)) blobs.set(d.digest, { kind: "layer", digest: d.digest, size: d.size, layer });
    });
    dockerManifest.push({
      Config: blobPath(manifest.config.digest),
      RepoTags: repoTags,
      Layers: manifest.layers.map((d) => blobPath(d.digest)),
    });
    const desc: Descriptor = { mediaType: image.mediaType(), digest, size: rawManifest.length };
    if (repoTags.length === 0) index.manifests.push(desc);
    for (const t of repoTags) {
      index.manifests.push({
        ...desc,
        annotations: { "io.containerd.image.name": fullName(t), [REF_NAME]: tagOf(t) },
      });
    }
  }

  // pid + host in the name: sweepDeadTemps reclaims it if this process is killed mid-write.
  const tmp = tempPathFor(join(dirname(file), `.${basename(file)}`));
  const pack = tar.pack();
  const written = pipeline(pack, createWriteStream(tmp, { flags: "wx" }));
  // A failed write (ENOSPC) ends `written` and destroys `pack`: every wait below ends with it.
  const writeFailed = new Promise<never>((_, reject) => written.catch(reject));
  writeFailed.catch(() => undefined); // handled by whichever wait is pending; never unhandled
  const add = (name: string, data: Buffer) =>
    new Promise<void>((resolve, reject) => {
      writeFailed.catch(reject);
      pack.entry({ ...FIXED, name, mode: 0o644 }, data, (err) => (err ? reject(err) : resolve()));
    });
  try {
    await add("oci-layout", Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
    await add("index.json", Buffer.from(JSON.stringify(index)));
    await add("manifest.json", Buffer.from(JSON.stringify(dockerManifest)));
    for (const dir of ["blobs/", "blobs/sha256/"]) {
      pack.entry({ ...FIXED, name: dir, type: "directory", mode: 0o755 });
    }
    for (const blob of blobs.values()) {
      if (blob.kind === "bytes") {
        await add(blobPath(blob.digest), blob.data);
        continue;
      }
      const source = await blob.layer.compressed();
      const header = { ...FIXED, name: blobPath(blob.digest), size: blob.size, mode: 0o644 };
      // tar-stream fails the entry if the stream's length differs from the descriptor's size.
      // Its entry is a streamx Writable, so pipe() it rather than hand it to node's pipeline().
      await new Promise<void>((resolve, reject) => {
        source.once("error", reject);
        writeFailed.catch(reject);
        const entry = pack.entry(header, (err) => (err ? reject(err) : resolve()));
        entry.once("error", reject);
        source.pipe(entry);
      });
    }
    pack.finalize();
    await written;
    await rename(tmp, file);
  } catch (e) {
    pack.destroy();
    await written.catch(() => undefined);
    await rm(tmp, { force: true });
    throw ioError(e, { path: file, writing: "the docker tarball" });
  }
}
