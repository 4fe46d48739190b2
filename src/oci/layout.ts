import { createHash, randomBytes } from "node:crypto";
import { constants, createReadStream, createWriteStream } from "node:fs";
import { copyFile, link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Readable, pipeline as streamPipeline, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { TugError } from "../errors.ts";
import { type Digest, hexOf, isDigest, sha256 } from "./digest.ts";
import {
  type Artifact,
  type Descriptor,
  type Image,
  type ImageConfig,
  type ImageIndex,
  type IndexManifest,
  isIndex,
  type Layer,
  type Manifest,
  MediaType,
} from "./types.ts";

/** The index.json annotation that names a tag inside a layout (image-spec, image-layout.md). */
export const REF_NAME = "org.opencontainers.image.ref.name";

const LAYOUT_FILE = '{"imageLayoutVersion":"1.0.0"}';

/**
 * A layer that can name a file holding its compressed bytes, e.g. a blob in tug's local cache.
 * writeLayout hardlinks (or copies) it instead of streaming. The file must never be modified
 * in place: a hardlink shares it with the layout.
 */
export interface FileBackedLayer extends Layer {
  readonly path: string;
}

export function isFileBacked(layer: Layer): layer is FileBackedLayer {
  return "path" in layer && typeof layer.path === "string";
}

function memo<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= f();
    return p;
  };
}

function isIndexType(mediaType: string): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList;
}

function errCode(e: unknown): string | undefined {
  return e instanceof Error && "code" in e && typeof e.code === "string" ? e.code : undefined;
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Blobs of one layout, read with their digests checked. */
class LayoutBlobs {
  constructor(readonly dir: string) {}

  path(d: Digest): string {
    return join(this.dir, "blobs", "sha256", hexOf(d));
  }

  private corrupt(desc: Descriptor, got: string): TugError {
    return new TugError({
      what: `blob ${desc.digest} in layout ${this.dir} is corrupt: its bytes do not match its digest (${got})`,
      where: this.path(desc.digest),
      hint: "delete the blob file and write the image to the layout again",
    });
  }

  private missing(desc: Descriptor, cause: unknown): TugError {
    return new TugError({
      what: `blob ${desc.digest} is missing from layout ${this.dir}`,
      where: this.path(desc.digest),
      hint: "the layout is incomplete; write the image to it again",
      cause,
    });
  }

  private check(desc: Descriptor): void {
    if (!isDigest(desc.digest)) {
      throw new TugError({
        what: `layout ${this.dir} refers to a blob by an unsupported digest ${desc.digest}`,
        hint: "tug reads sha256 layouts only",
      });
    }
  }

  async read(desc: Descriptor): Promise<Buffer> {
    this.check(desc);
    let data: Buffer;
    try {
      data = await readFile(this.path(desc.digest));
    } catch (e) {
      if (errCode(e) === "ENOENT") throw this.missing(desc, e);
      throw e;
    }
    const got = sha256(data);
    if (got !== desc.digest) throw this.corrupt(desc, `got ${got}`);
    if (data.length !== desc.size)
      throw this.corrupt(desc, `${data.length} bytes, descriptor says ${desc.size}`);
    return data;
  }

  /** A stream of the blob that fails at its end if the bytes do not hash to the digest. */
  async open(desc: Descriptor): Promise<Readable> {
    this.check(desc);
    const path = this.path(desc.digest);
    try {
      await stat(path);
    } catch (e) {
      if (errCode(e) === "ENOENT") throw this.missing(desc, e);
      throw e;
    }
    const hash = createHash("sha256");
    let size = 0;
    const verifier = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
      flush: (cb) => {
        const got: Digest = `sha256:${hash.digest("hex")}`;
        if (got !== desc.digest) cb(this.corrupt(desc, `got ${got}`));
        else if (size !== desc.size) cb(this.corrupt(desc, `${size} bytes, descriptor says ${desc.size}`));
        else cb();
      },
    });
    // pipeline (not pipe) so that a consumer giving up early also closes the file.
    return streamPipeline(createReadStream(path, { highWaterMark: 1 << 20 }), verifier, () => {});
  }

  parse<T>(desc: Descriptor, data: Buffer): T {
    try {
      return JSON.parse(data.toString("utf8")) as T;
    } catch (e) {
      throw new TugError({ what: `blob ${desc.digest} in layout ${this.dir} is not valid JSON`, cause: e });
    }
  }
}

function layoutLayer(blobs: LayoutBlobs, desc: Descriptor, diffId: () => Promise<Digest>): Layer {
  return {
    digest: async () => desc.digest,
    diffId,
    size: async () => desc.size,
    mediaType: () => desc.mediaType,
    compressed: () => blobs.open(desc),
  };
}

function layoutImage(blobs: LayoutBlobs, desc: Descriptor): Image {
  const rawManifest = memo(() => blobs.read(desc));
  const manifest = memo(async () => blobs.parse<Manifest>(desc, await rawManifest()));
  const rawConfig = memo(async () => blobs.read((await manifest()).config));
  const config = memo(async () => blobs.parse<ImageConfig>((await manifest()).config, await rawConfig()));
  const layers = memo(async () =>
    (await manifest()).layers.map((d, i) =>
      layoutLayer(blobs, d, async () => {
        const id = (await config()).rootfs?.diff_ids?.[i];
        if (!id) {
          throw new TugError({
            what: `image ${desc.digest} in layout ${blobs.dir} has no diff_id for layer ${i}`,
            hint: "its config and manifest disagree on the number of layers",
          });
        }
        return id;
      }),
    ),
  );
  return {
    rawManifest,
    manifest,
    digest: async () => desc.digest,
    mediaType: () => desc.mediaType,
    rawConfig,
    config,
    layers,
  };
}

function layoutIndex(blobs: LayoutBlobs, desc: Descriptor): ImageIndex {
  const rawManifest = memo(() => blobs.read(desc));
  const manifest = memo(async () => blobs.parse<IndexManifest>(desc, await rawManifest()));
  return {
    rawManifest,
    manifest,
    digest: async () => desc.digest,
    mediaType: () => desc.mediaType,
    images: async () =>
      (await manifest()).manifests.map((d) => {
        if (isIndexType(d.mediaType)) {
          throw new TugError({
            what: `index ${desc.digest} in layout ${blobs.dir} nests another index (${d.digest})`,
            hint: "tug reads one level of index only",
          });
        }
        return { descriptor: d, image: layoutImage(blobs, d) };
      }),
  };
}

async function readIndexJson(dir: string): Promise<IndexManifest> {
  let text: string;
  try {
    text = await readFile(join(dir, "index.json"), "utf8");
  } catch (e) {
    throw new TugError({
      what: `${dir} is not an OCI image layout: it has no index.json`,
      hint: "write one with `tug build --layout DIR` or `skopeo copy ... oci:DIR:TAG`",
      cause: e,
    });
  }
  try {
    const index = JSON.parse(text) as IndexManifest;
    if (!Array.isArray(index.manifests)) throw new Error("index.json has no manifests array");
    return index;
  } catch (e) {
    throw new TugError({ what: `index.json of layout ${dir} is not a valid OCI index`, cause: e });
  }
}

async function checkLayoutFile(dir: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(join(dir, "oci-layout"), "utf8");
  } catch (e) {
    throw new TugError({
      what: `${dir} is not an OCI image layout: it has no oci-layout file`,
      hint: "point at the directory that holds oci-layout, index.json and blobs/",
      cause: e,
    });
  }
  let version: unknown;
  try {
    version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch {
    version = undefined;
  }
  if (typeof version !== "string" || !version.startsWith("1.")) {
    throw new TugError({
      what: `${dir}/oci-layout names an unsupported layout version ${JSON.stringify(version)}`,
      hint: 'tug reads image layouts of version 1.x ({"imageLayoutVersion":"1.0.0"})',
    });
  }
}

/**
 * Opens the artifact tagged `tag` in an OCI image layout. Without a tag, a layout holding
 * exactly one manifest yields that manifest, otherwise "latest" is looked up. Nothing but
 * oci-layout and index.json is read here; manifests, configs and layers are read (and their
 * digests checked) when asked for.
 */
export async function readLayout(dir: string, tag?: string): Promise<Artifact> {
  await checkLayoutFile(dir);
  const index = await readIndexJson(dir);
  let desc: Descriptor | undefined;
  if (tag === undefined && index.manifests.length === 1) {
    desc = index.manifests[0];
  } else {
    const want = tag ?? "latest";
    desc = index.manifests.find((m) => m.annotations?.[REF_NAME] === want);
    if (!desc) {
      const tags = index.manifests.map((m) => m.annotations?.[REF_NAME]).filter((t) => t !== undefined);
      throw new TugError({
        what: `layout ${dir} has no manifest tagged ${JSON.stringify(want)}`,
        hint: tags.length
          ? `its tags are: ${tags.join(", ")}`
          : index.manifests.length
            ? "its manifests are untagged"
            : "it is empty",
      });
    }
  }
  if (!desc) throw new TugError({ what: `layout ${dir} holds no manifests` });
  const blobs = new LayoutBlobs(dir);
  return isIndexType(desc.mediaType) ? layoutIndex(blobs, desc) : layoutImage(blobs, desc);
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface WriteLayoutOptions {
  /** ref.name annotations for the artifact in index.json; entries with the same names are replaced. */
  tags: string[];
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
 * under a final name. A blob already present with the right size is trusted and skipped.
 */
class BlobWriter {
  writtenBytes = 0;
  writtenBlobs = 0;
  private readonly inFlight = new Map<Digest, Promise<void>>();
  private readonly blobDir: string;

  constructor(readonly dir: string) {
    this.blobDir = join(dir, "blobs", "sha256");
  }

  private final(d: Digest): string {
    return join(this.blobDir, hexOf(d));
  }

  private temp(d: Digest): string {
    return join(this.blobDir, `.tmp-${hexOf(d).slice(0, 16)}-${randomBytes(6).toString("hex")}`);
  }

  private async present(d: Digest, size: number): Promise<boolean> {
    try {
      return (await stat(this.final(d))).size === size;
    } catch (e) {
      if (errCode(e) === "ENOENT") return false;
      throw e;
    }
  }

  /** Runs `write` once per digest, unless the blob is already in the layout. */
  private once(d: Digest, size: number, write: () => Promise<void>): Promise<void> {
    let p = this.inFlight.get(d);
    if (!p) {
      p = (async () => {
        if (await this.present(d, size)) return;
        await write();
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
      await pipeline(source, counter, createWriteStream(tmp, { flags: "wx" }));
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

  /** Fast path for a layer already in a file: hardlink, or copy (reflink where the filesystem can). */
  private async placeFile(path: string, desc: Descriptor): Promise<void> {
    const size = (await stat(path)).size;
    if (size !== desc.size) {
      throw new TugError({
        what: `layer file ${path} has ${size} bytes, but its descriptor ${desc.digest} says ${desc.size}`,
        hint: "the cached blob is damaged; clear tug's cache and build again",
      });
    }
    const final = this.final(desc.digest);
    try {
      await link(path, final);
      return;
    } catch (e) {
      const code = errCode(e);
      if (code === "EEXIST") {
        // A wrong-sized leftover (present() said no); replace it through a temp file below.
      } else if (code !== "EXDEV" && code !== "EPERM" && code !== "EMLINK" && code !== "ENOTSUP") {
        throw e;
      }
    }
    const tmp = this.temp(desc.digest);
    try {
      await copyFile(path, tmp, constants.COPYFILE_FICLONE);
      await rename(tmp, final);
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
  await ensureLayout(dir);
  const writer = new BlobWriter(dir);
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
    await writeFile(tmp, JSON.stringify(next));
    await rename(tmp, join(dir, "index.json"));
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return { digest, writtenBytes: writer.writtenBytes, writtenBlobs: writer.writtenBlobs };
}
