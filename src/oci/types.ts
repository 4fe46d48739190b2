import type { Readable } from "node:stream";
import type { Digest } from "./digest.ts";

export const MediaType = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface IndexManifest {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** The parts of the OCI image config that tug reads and writes. */
export interface ImageConfig {
  created?: string;
  architecture: string;
  os: string;
  variant?: string;
  config: {
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    User?: string;
    ExposedPorts?: Record<string, Record<string, never>>;
    Labels?: Record<string, string>;
    [key: string]: unknown;
  };
  rootfs: { type: "layers"; diff_ids: Digest[] };
  history?: Array<Record<string, unknown>>;
  [key: string]: unknown;
}

/**
 * A layer whose identity is cheap and whose bytes are lazy (the go-containerregistry idea):
 * a layer restored from a cache record answers digest/diffId/size without I/O, and
 * `compressed()` is opened only when a sink really needs the bytes.
 */
export interface Layer {
  digest(): Promise<Digest>;
  diffId(): Promise<Digest>;
  size(): Promise<number>;
  mediaType(): string;
  compressed(): Promise<Readable>;
}

export interface Image {
  /** Raw manifest bytes; the digest is their sha256. */
  rawManifest(): Promise<Buffer>;
  manifest(): Promise<Manifest>;
  digest(): Promise<Digest>;
  mediaType(): string;
  rawConfig(): Promise<Buffer>;
  config(): Promise<ImageConfig>;
  layers(): Promise<Layer[]>;
}

export interface ImageIndex {
  rawManifest(): Promise<Buffer>;
  manifest(): Promise<IndexManifest>;
  digest(): Promise<Digest>;
  mediaType(): string;
  /** Child images in manifest order, with the platform each descriptor names. */
  images(): Promise<Array<{ descriptor: Descriptor; image: Image }>>;
}

export type Artifact = Image | ImageIndex;

export function isIndex(a: Artifact): a is ImageIndex {
  return "images" in a;
}

export function platformString(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

export function parsePlatform(s: string): Platform {
  const [os, architecture, variant] = s.split("/");
  if (!os || !architecture) throw new Error(`bad platform ${s}`);
  return variant ? { os, architecture, variant } : { os, architecture };
}
