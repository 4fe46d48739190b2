import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { type Readable, pipeline as streamPipeline } from "node:stream";
import { TugError } from "../errors.ts";
import { VerifyingStream } from "../util/verify-stream.ts";
import { parseDescriptor } from "./checked-digest.ts";
import { type Digest, hexOf, sha256 } from "./digest.ts";
import { checkRootfs } from "./rootfs-check.ts";
import { checkDeclaredSize, MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES } from "./size-limits.ts";
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
} from "./types.ts";

/** The index.json annotation that names a tag inside a layout (image-spec, image-layout.md). */
export const REF_NAME = "org.opencontainers.image.ref.name";

export const LAYOUT_FILE = '{"imageLayoutVersion":"1.0.0"}';

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

export function errCode(e: unknown): string | undefined {
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

  /** Digest and size checked before the digest names a file under blobs/sha256. */
  private check(desc: Descriptor): void {
    parseDescriptor(desc, `layout ${this.dir}`);
  }

  /** Reads a JSON blob whole, refusing one larger than `limit` before reading it. */
  async read(desc: Descriptor, limit = MAX_MANIFEST_BYTES): Promise<Buffer> {
    this.check(desc);
    checkDeclaredSize(`blob ${desc.digest} in layout ${this.dir}`, desc.size, limit, this.path(desc.digest));
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
    const verifier = new VerifyingStream({
      digest: desc.digest,
      size: desc.size,
      error: (m) =>
        this.corrupt(
          desc,
          m.kind === "digest"
            ? `got ${m.actual}`
            : m.kind === "size"
              ? `${m.actual} bytes, descriptor says ${desc.size}`
              : `more than the ${desc.size} bytes the descriptor says`,
        ),
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

/** Every descriptor of a manifest read from a layout, checked before its digest names a file. */
function checkedManifest(m: Manifest, where: string): Manifest {
  if (!m || typeof m !== "object" || !Array.isArray(m.layers)) {
    throw new TugError({
      what: `${where} is not an image manifest: it has no layers`,
      hint: "the layout is corrupt",
    });
  }
  return {
    ...m,
    config: parseDescriptor(m.config, `${where}: config`),
    layers: m.layers.map((d, i) => parseDescriptor(d, `${where}: layers[${i}]`)),
  };
}

function layoutImage(blobs: LayoutBlobs, desc: Descriptor): Image {
  const rawManifest = memo(() => blobs.read(desc));
  const where = `image ${desc.digest} in layout ${blobs.dir}`;
  const manifest = memo(async () => checkedManifest(blobs.parse<Manifest>(desc, await rawManifest()), where));
  const rawConfig = memo(async () => blobs.read((await manifest()).config, MAX_CONFIG_BYTES));
  const config = memo(async () => {
    const m = await manifest();
    const c = blobs.parse<ImageConfig>(m.config, await rawConfig());
    checkRootfs(c, m.layers.length, `${where}: config`);
    return c;
  });
  const layers = memo(async () =>
    (await manifest()).layers.map((d, i) =>
      layoutLayer(blobs, d, async () => (await config()).rootfs.diff_ids[i]!),
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
  const manifest = memo(async (): Promise<IndexManifest> => {
    const m = blobs.parse<IndexManifest>(desc, await rawManifest());
    if (!Array.isArray(m?.manifests)) {
      throw new TugError({
        what: `index ${desc.digest} in layout ${blobs.dir} has no manifests`,
        hint: "the layout is corrupt",
      });
    }
    const where = `index ${desc.digest} in layout ${blobs.dir}`;
    return { ...m, manifests: m.manifests.map((d, i) => parseDescriptor(d, `${where}: manifests[${i}]`)) };
  });
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

export async function readIndexJson(dir: string): Promise<IndexManifest> {
  let text: string;
  try {
    const size = (await stat(join(dir, "index.json"))).size;
    checkDeclaredSize(`index.json of layout ${dir}`, size, MAX_MANIFEST_BYTES, join(dir, "index.json"));
    text = await readFile(join(dir, "index.json"), "utf8");
  } catch (e) {
    if (e instanceof TugError) throw e;
    throw new TugError({
      what: `${dir} is not an OCI image layout: it has no index.json`,
      hint: "write one with `tug build --layout DIR` or `skopeo copy ... oci:DIR:TAG`",
      cause: e,
    });
  }
  let index: IndexManifest;
  try {
    index = JSON.parse(text) as IndexManifest;
    if (!Array.isArray(index.manifests)) throw new Error("index.json has no manifests array");
  } catch (e) {
    throw new TugError({ what: `index.json of layout ${dir} is not a valid OCI index`, cause: e });
  }
  // Its digests name files under blobs/: a hostile layout must not reach outside it.
  const where = `${join(dir, "index.json")}`;
  return {
    ...index,
    manifests: index.manifests.map((d, i) => parseDescriptor(d, `${where}: manifests[${i}]`)),
  };
}

export async function checkLayoutFile(dir: string): Promise<void> {
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

export { adoptLayout, type WriteLayoutOptions, type WriteLayoutResult, writeLayout } from "./layout-write.ts";
