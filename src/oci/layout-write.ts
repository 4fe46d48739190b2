// Writing OCI image layouts: blobs by atomic rename, index.json replaced last.
import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { copyFile, mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { TugError } from "../errors.ts";
import { pipeToFile } from "../util/file-write.ts";
import { writingTo } from "../util/io-error.ts";
import { diffIdCheck } from "./diff-id-check.ts";
import { type Digest, digestFile, hexOf } from "./digest.ts";
import { CorruptBlobError } from "./layer.ts";
import { checkLayoutFile, errCode, isFileBacked, LAYOUT_FILE, REF_NAME, readIndexJson } from "./layout.ts";
import { BlobStamps } from "./layout-stamps.ts";
import {
  type Artifact,
  type Descriptor,
  type Image,
  type IndexManifest,
  isIndex,
  type Layer,
  MediaType,
} from "./types.ts";

export interface WriteLayoutOptions {
  /** ref.name annotations for the artifact in index.json; entries with the same names are replaced. */
  tags: string[];
  /**
   * Check each streamed gzip layer's uncompressed bytes against the config's diff_id (bases
   * entering the cache from a registry: tug reads them once, and refuses one containerd could not unpack).
   */
  verifyDiffIds?: boolean;
}

export interface WriteLayoutResult {
  digest: Digest;
  /** Bytes of the blobs that were not in the layout before. */
  writtenBytes: number;
  writtenBlobs: number;
}

const LAYER_CONCURRENCY = 4;

async function mapLimited<T>(items: T[], limit: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await f(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Puts blobs under blobs/sha256 atomically: bytes go to a temp file in the same directory and are
 * renamed into place once their digest checks out, so a killed run never leaves a partial blob
 * under a final name. A blob already present is trusted when its stamp (size, mtime, ctime,
 * inode as tug last saw it) matches, else hashed, and replaced when its bytes are wrong.
 */
class BlobWriter {
  writtenBytes = 0;
  writtenBlobs = 0;
  private readonly inFlight = new Map<Digest, Promise<void>>();
  private readonly blobDir: string;

  constructor(
    readonly dir: string,
    private readonly stamps: BlobStamps,
    private readonly verifyDiffIds = false,
  ) {
    this.blobDir = join(dir, "blobs", "sha256");
  }

  private final(d: Digest): string {
    return join(this.blobDir, hexOf(d));
  }

  private temp(d: Digest): string {
    return join(this.blobDir, `.tmp-${hexOf(d).slice(0, 16)}-${randomBytes(6).toString("hex")}`);
  }

  /** Runs `write` once per digest, unless the blob is already in the layout with the right bytes. */
  private once(d: Digest, size: number, write: () => Promise<void>): Promise<void> {
    let p = this.inFlight.get(d);
    if (!p) {
      p = (async () => {
        // "wrong" (tampered, truncated, a leftover) is replaced by the rename below.
        if ((await this.stamps.check(d, size)) === "intact") return;
        await writingTo({ path: this.final(d), writing: "an image layout blob" }, write);
        await this.stamps.record(d);
        this.writtenBytes += size;
        this.writtenBlobs++;
      })();
      this.inFlight.set(d, p);
    }
    return p;
  }

  putBytes(d: Digest, data: Buffer): Promise<void> {
    return this.once(d, data.length, async () => {
      const tmp = this.temp(d);
      try {
        await writeFile(tmp, data, { flag: "wx" });
        await rename(tmp, this.final(d));
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      }
    });
  }

  putLayer(layer: Layer, desc: Descriptor): Promise<void> {
    return this.once(desc.digest, desc.size, () =>
      isFileBacked(layer) ? this.placeFile(layer.path, desc) : this.stream(layer, desc),
    );
  }

  private async stream(layer: Layer, desc: Descriptor): Promise<void> {
    const tmp = this.temp(desc.digest);
    const hash = createHash("sha256");
    let size = 0;
    try {
      const source = await layer.compressed();
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          size += chunk.length;
          cb(null, chunk);
        },
      });
      const diffIds = this.verifyDiffIds
        ? diffIdCheck(desc.mediaType, () => layer.diffId(), `layer ${desc.digest}`)
        : undefined;
      await pipeToFile(source, diffIds ? [counter, diffIds] : [counter], tmp, { flags: "wx" });
      const got: Digest = `sha256:${hash.digest("hex")}`;
      if (got !== desc.digest || size !== desc.size) {
        throw new TugError({
          what: `layer ${desc.digest} produced bytes that do not match it (${got}, ${size} bytes; expected ${desc.size})`,
          where: `writing layout ${this.dir}`,
          hint: "its cached identity is stale; clear tug's cache and build again",
        });
      }
      await rename(tmp, this.final(desc.digest));
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /**
   * Fast path for a layer already in a file: a copy (a reflink where the filesystem can), never
   * a hardlink, so the layout and the cache never share an inode that either side could corrupt.
   */
  private async placeFile(path: string, desc: Descriptor): Promise<void> {
    const size = (await stat(path)).size;
    if (size !== desc.size) {
      throw new TugError({
        what: `layer file ${path} has ${size} bytes, but its descriptor ${desc.digest} says ${desc.size}`,
        hint: "the cached blob is damaged; clear tug's cache and build again",
      });
    }
    const tmp = this.temp(desc.digest);
    try {
      await copyFile(path, tmp, constants.COPYFILE_FICLONE);
      // The copy is checked, not the source's name: a damaged cache blob never becomes a layout blob.
      const got = await digestFile(tmp);
      if (got.digest !== desc.digest || got.size !== desc.size) {
        // The build drops a corrupt cache blob and rebuilds it (build.ts catches this error).
        throw new CorruptBlobError({ digest: desc.digest, path, detail: `its bytes are ${got.digest}` });
      }
      await rename(tmp, this.final(desc.digest));
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async putImage(image: Image): Promise<void> {
    const [manifest, layers] = await Promise.all([image.manifest(), image.layers()]);
    const pairs = layers.map((layer, i) => ({ layer, desc: manifest.layers[i]! }));
    await mapLimited(pairs, LAYER_CONCURRENCY, ({ layer, desc }) => this.putLayer(layer, desc));
    await this.putBytes(manifest.config.digest, await image.rawConfig());
    // The manifest goes last, so a layout never names a manifest whose blobs are missing.
    await this.putBytes(await image.digest(), await image.rawManifest());
  }
}

function emptyIndex(): IndexManifest {
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
}

/** Creates `dir` as a layout, refusing a non-empty directory that is not one already. */
async function ensureLayout(dir: string): Promise<void> {
  let entries: string[] = [];
  try {
    entries = await readdir(dir);
  } catch (e) {
    if (errCode(e) !== "ENOENT") throw e;
  }
  if (entries.length > 0 && !entries.includes("oci-layout")) {
    throw new TugError({
      what: `${dir} is not empty and is not an OCI image layout`,
      hint: "choose an empty or new directory, or an existing layout",
    });
  }
  if (entries.includes("oci-layout")) await checkLayoutFile(dir);
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  if (!entries.includes("oci-layout")) {
    // index.json first: a directory with oci-layout is then always a readable (maybe empty) layout.
    await writeFile(join(dir, "index.json"), JSON.stringify(emptyIndex()));
    await writeFile(join(dir, "oci-layout"), LAYOUT_FILE);
  }
}

/**
 * Makes `dir` a layout even when it already holds other files: for tug's cache, whose blobs/
 * is a layout's CAS next to tug's own records (ac/, tmp/), so it is never empty when the first
 * base image is written into it.
 */
export async function adoptLayout(dir: string): Promise<void> {
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  const entries = await readdir(dir);
  if (entries.includes("oci-layout")) return checkLayoutFile(dir);
  if (!entries.includes("index.json")) await writeFile(join(dir, "index.json"), JSON.stringify(emptyIndex()));
  await writeFile(join(dir, "oci-layout"), LAYOUT_FILE);
}

/**
 * Writes an image or index into an OCI image layout and points `tags` at it in index.json.
 * Blobs already present are skipped without opening the layer. Child manifests are written
 * before the index and index.json is replaced last by rename, so readers never see a tag whose
 * blobs are missing. Two processes updating the same layout at once may lose one's index.json
 * entry (last rename wins); blobs are safe either way.
 */
export async function writeLayout(
  dir: string,
  artifact: Artifact,
  options: WriteLayoutOptions,
): Promise<WriteLayoutResult> {
  await writingTo({ path: dir, writing: "the image layout" }, () => ensureLayout(dir));
  const stamps = await BlobStamps.load(dir);
  const writer = new BlobWriter(dir, stamps, options.verifyDiffIds);
  if (isIndex(artifact)) {
    for (const { image } of await artifact.images()) await writer.putImage(image);
    await writer.putBytes(await artifact.digest(), await artifact.rawManifest());
  } else {
    await writer.putImage(artifact);
  }

  const digest = await artifact.digest();
  const desc: Descriptor = {
    mediaType: artifact.mediaType(),
    digest,
    size: (await artifact.rawManifest()).length,
  };
  await stamps.save();
  let index = emptyIndex();
  try {
    await stat(join(dir, "index.json"));
    index = await readIndexJson(dir);
  } catch (e) {
    if (errCode(e) !== "ENOENT") throw e;
  }
  const tags = new Set(options.tags);
  const kept = index.manifests.filter((m) => {
    const name = m.annotations?.[REF_NAME];
    return tags.size > 0 ? name === undefined || !tags.has(name) : name !== undefined || m.digest !== digest;
  });
  const added = tags.size > 0 ? [...tags].map((t) => ({ ...desc, annotations: { [REF_NAME]: t } })) : [desc];
  const next: IndexManifest = { ...index, manifests: [...kept, ...added] };
  const tmp = join(dir, `.index.json.tmp-${randomBytes(6).toString("hex")}`);
  try {
    await writingTo({ path: join(dir, "index.json"), writing: "the image layout's index" }, async () => {
      await writeFile(tmp, JSON.stringify(next));
      await rename(tmp, join(dir, "index.json"));
    });
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return { digest, writtenBytes: writer.writtenBytes, writtenBlobs: writer.writtenBlobs };
}
