import { type Digest, sha256 } from "./digest.ts";
import { checkRootfs } from "./rootfs-check.ts";
import {
  type Descriptor,
  type Image,
  type ImageConfig,
  type ImageIndex,
  type IndexManifest,
  type Layer,
  type Manifest,
  MediaType,
  type Platform,
} from "./types.ts";

/** What an image is made of; everything else (manifest, digests) is derived from it. */
export interface ImageParts {
  config: ImageConfig;
  layers: Layer[];
  /** Manifest media type; OCI unless given. A Docker manifest gets a Docker config media type. */
  mediaType?: string;
  annotations?: Record<string, string>;
}

/** Memoises the first call, so repeated `digest()` calls cost nothing. */
function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= f();
    return p;
  };
}

/**
 * An immutable image. Manifest and config are serialised with JSON.stringify — key order is the
 * order the objects were built in, no whitespace — so the same parts always give the same digest.
 * Layer descriptors come from `digest()/size()/mediaType()`, which cached layers answer without I/O.
 */
export function imageFrom(parts: ImageParts): Image {
  if (parts.config.rootfs.diff_ids.length !== parts.layers.length) {
    throw new Error(
      `image config lists ${parts.config.rootfs.diff_ids.length} diff_ids for ${parts.layers.length} layers`,
    );
  }
  return lazyImage(() => Promise.resolve(parts), parts.mediaType ?? MediaType.ociManifest);
}

/** An image whose parts are computed on first use; mutations of another image build on this. */
function lazyImage(getParts: () => Promise<ImageParts>, mediaType: string): Image {
  const parts = once(getParts);
  const rawConfig = once(async () => Buffer.from(JSON.stringify((await parts()).config)));
  const manifest = once(async (): Promise<Manifest> => {
    const p = await parts();
    const config = await rawConfig();
    const layers = await Promise.all(
      p.layers.map(
        async (l): Promise<Descriptor> => ({
          mediaType: l.mediaType(),
          digest: await l.digest(),
          size: await l.size(),
        }),
      ),
    );
    const m: Manifest = {
      schemaVersion: 2,
      mediaType,
      config: {
        mediaType: mediaType === MediaType.dockerManifest ? MediaType.dockerConfig : MediaType.ociConfig,
        digest: sha256(config),
        size: config.length,
      },
      layers,
    };
    if (p.annotations && Object.keys(p.annotations).length > 0) m.annotations = p.annotations;
    return m;
  });
  const rawManifest = once(async () => Buffer.from(JSON.stringify(await manifest())));
  const digest = once(async () => sha256(await rawManifest()));
  return {
    rawManifest,
    manifest,
    digest,
    mediaType: () => mediaType,
    rawConfig,
    config: async () => (await parts()).config,
    layers: async () => (await parts()).layers,
  };
}

/** An OCI index over single-platform images, in the order given. */
export function indexFrom(
  children: Array<{ image: Image; platform: Platform }>,
  annotations?: Record<string, string>,
): ImageIndex {
  const manifest = once(async (): Promise<IndexManifest> => {
    const manifests = await Promise.all(
      children.map(
        async ({ image, platform }): Promise<Descriptor> => ({
          mediaType: image.mediaType(),
          digest: await image.digest(),
          size: (await image.rawManifest()).length,
          platform,
        }),
      ),
    );
    const m: IndexManifest = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
    if (annotations && Object.keys(annotations).length > 0) m.annotations = annotations;
    return m;
  });
  const rawManifest = once(async () => Buffer.from(JSON.stringify(await manifest())));
  const digest = once(async () => sha256(await rawManifest()));
  return {
    rawManifest,
    manifest,
    digest,
    mediaType: () => MediaType.ociIndex,
    images: async () => {
      const m = await manifest();
      return children.map(({ image }, i) => ({ descriptor: m.manifests[i]!, image }));
    },
  };
}

/** A scratch image for a platform: no layers, no config beyond the platform. */
export function emptyImage(platform: Platform): Image {
  const config: ImageConfig = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: {},
    rootfs: { type: "layers", diff_ids: [] },
  };
  return imageFrom({ config, layers: [] });
}

async function partsOf(image: Image): Promise<ImageParts> {
  const [config, layers, manifest] = await Promise.all([image.config(), image.layers(), image.manifest()]);
  return { config, layers, mediaType: image.mediaType(), annotations: manifest.annotations };
}

/** A new image derived from `image`; the base is read only when the result is. */
function derive(image: Image, change: (parts: ImageParts) => Promise<ImageParts> | ImageParts): Image {
  return lazyImage(async () => change(await partsOf(image)), image.mediaType());
}

/**
 * Appends layers and their diff_ids. History gets one entry per new layer when the base keeps
 * history or a comment is given; a base without history is padded first, because the spec pairs
 * non-empty history entries with layers by position.
 */
export function appendLayers(image: Image, layers: Layer[], historyComment?: string): Image {
  return derive(image, async (p) => {
    // An image whose config disagrees with its layers cannot be unpacked; appending to it
    // would only hide that until a node pulls it.
    checkRootfs(p.config, p.layers.length, "the base image");
    const diffIds: Digest[] = await Promise.all(layers.map((l) => l.diffId()));
    const config: ImageConfig = {
      ...p.config,
      rootfs: { type: "layers", diff_ids: [...p.config.rootfs.diff_ids, ...diffIds] },
    };
    if (p.config.history || historyComment !== undefined) {
      const base = p.config.history ?? p.layers.map(() => ({ created_by: "" }));
      const added = layers.map(() => ({
        created_by: "tug",
        ...(historyComment !== undefined ? { comment: historyComment } : {}),
      }));
      config.history = [...base, ...added];
    }
    return { ...p, config, layers: [...p.layers, ...layers] };
  });
}

export interface ConfigPatch {
  /** Merged by key into the existing Env; a key given here replaces the old value in place. */
  env?: Record<string, string>;
  /** Like a Dockerfile ENTRYPOINT, setting it without `cmd` clears the Cmd inherited from the base. */
  entrypoint?: string[] | null;
  cmd?: string[] | null;
  workdir?: string;
  user?: string;
  /** "8080" means "8080/tcp"; added to the ports already exposed. */
  exposedPorts?: string[];
  /** Merged into existing labels; later wins. */
  labels?: Record<string, string>;
}

function mergeEnv(env: string[], patch: Record<string, string>): string[] {
  const out = new Map<string, string>();
  for (const kv of env) {
    const eq = kv.indexOf("=");
    out.set(eq < 0 ? kv : kv.slice(0, eq), eq < 0 ? "" : kv.slice(eq + 1));
  }
  for (const [k, v] of Object.entries(patch)) out.set(k, v);
  return [...out].map(([k, v]) => `${k}=${v}`);
}

export function withConfig(image: Image, patch: ConfigPatch): Image {
  return derive(image, (p) => {
    const c = { ...p.config.config };
    if (patch.env) c.Env = mergeEnv(c.Env ?? [], patch.env);
    if (patch.entrypoint !== undefined) {
      c.Entrypoint = patch.entrypoint;
      if (patch.cmd === undefined) delete c.Cmd;
    }
    if (patch.cmd !== undefined) c.Cmd = patch.cmd;
    if (patch.workdir !== undefined) c.WorkingDir = patch.workdir;
    if (patch.user !== undefined) c.User = patch.user;
    if (patch.exposedPorts) {
      const ports: Record<string, Record<string, never>> = { ...c.ExposedPorts };
      for (const port of patch.exposedPorts) ports[port.includes("/") ? port : `${port}/tcp`] = {};
      c.ExposedPorts = ports;
    }
    if (patch.labels) c.Labels = { ...c.Labels, ...patch.labels };
    return { ...p, config: { ...p.config, config: c } };
  });
}

/** Merges manifest annotations; later wins. */
export function withAnnotations(image: Image, annotations: Record<string, string>): Image {
  return derive(image, (p) => ({ ...p, annotations: { ...p.annotations, ...annotations } }));
}

/** The image without manifest annotations: what a target built on another target starts from. */
export function withoutAnnotations(image: Image): Image {
  return derive(image, ({ annotations: _, ...p }) => p);
}

/** Sets the config's `created`; tug leaves it unset by default so builds are reproducible. */
export function withCreated(image: Image, isoTime: string): Image {
  return derive(image, (p) => ({ ...p, config: { ...p.config, created: isoTime } }));
}

const OCI_LAYER_TYPE: Record<string, string> = {
  [MediaType.dockerLayerGzip]: MediaType.ociLayerGzip,
  "application/vnd.docker.image.rootfs.diff.tar": MediaType.ociLayer,
};

/**
 * The same image as an OCI manifest: Docker schema 2 layer types map to their OCI twins (the
 * bytes are identical), so layers tug appends never mix Docker and OCI types in one manifest.
 */
export function asOci(image: Image): Image {
  if (image.mediaType() === MediaType.ociManifest) return image;
  return lazyImage(async () => {
    const p = await partsOf(image);
    const layers = p.layers.map((l): Layer => {
      const mediaType = OCI_LAYER_TYPE[l.mediaType()] ?? l.mediaType();
      return {
        digest: () => l.digest(),
        diffId: () => l.diffId(),
        size: () => l.size(),
        mediaType: () => mediaType,
        compressed: () => l.compressed(),
      };
    });
    return { ...p, layers, mediaType: MediaType.ociManifest };
  }, MediaType.ociManifest);
}
