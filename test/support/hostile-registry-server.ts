import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { TestContext } from "node:test";
import { gzipSync } from "node:zlib";
import { tarOf } from "./memory-image.ts";
import type { TlsFiles } from "./tls.ts";

const sha = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

export interface HonestImage {
  layer: Buffer;
  layerDigest: string;
  diffId: string;
  config: Buffer;
  configDigest: string;
  manifest: Buffer;
  manifestDigest: string;
}

/** One layer, a config for this machine's platform, an OCI manifest: the bytes a real registry serves. */
export async function honestImage(
  patch: {
    config?: (c: Record<string, unknown>) => void;
    manifest?: (m: Record<string, unknown>) => void;
  } = {},
): Promise<HonestImage> {
  const tar = await tarOf({ "base.txt": "from the base\n" });
  const layer = gzipSync(tar, { level: 9 });
  const config: Record<string, unknown> = {
    architecture: process.arch === "arm64" ? "arm64" : "amd64",
    os: "linux",
    config: { Env: ["PATH=/usr/bin:/bin"] },
    rootfs: { type: "layers", diff_ids: [sha(tar)] },
  };
  patch.config?.(config);
  const configBytes = Buffer.from(JSON.stringify(config));
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: sha(configBytes),
      size: configBytes.length,
    },
    layers: [
      { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha(layer), size: layer.length },
    ],
  };
  patch.manifest?.(manifest);
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  return {
    layer,
    layerDigest: sha(layer),
    diffId: sha(tar),
    config: configBytes,
    configDigest: sha(configBytes),
    manifest: manifestBytes,
    manifestDigest: sha(manifestBytes),
  };
}

export interface SeenRequest {
  method: string;
  url: string;
  authorization?: string;
}

/** Answers a request as an attacker would; return false to let the honest default answer. */
export type HostileHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface HostileServer {
  /** `host:port`, as an image reference names the registry. */
  host: string;
  port: number;
  url: string;
  requests: SeenRequest[];
}

export interface HostileRegistryOptions {
  /** Loopback address to listen on; 127.0.0.1 is "loopback" to tug, 127.0.0.2 is not (by name). */
  address?: string;
  image?: HonestImage;
  handle?: HostileHandler;
  tls?: TlsFiles;
}

export { selfSignedCert, type TlsFiles } from "./tls.ts";

/** Starts a server on a free port; it (and every connection it holds open) ends with `t`. */
export async function startHostileServer(
  t: TestContext,
  opts: { address?: string; tls?: TlsFiles },
  handle: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
  requests: SeenRequest[] = [],
): Promise<HostileServer> {
  const address = opts.address ?? "127.0.0.1";
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization });
    Promise.resolve(handle(req, res)).catch(() => res.destroy());
  };
  const server: Server = opts.tls
    ? createHttpsServer(
        { key: await readFile(opts.tls.keyPath), cert: await readFile(opts.tls.certPath) },
        onRequest,
      )
    : createHttpServer(onRequest);
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    host: `${address}:${port}`,
    port,
    url: `${opts.tls ? "https" : "http"}://${address}:${port}`,
    requests,
  };
}

/**
 * A registry holding `image` under every repository and tag, unless `handle` answers first.
 * Manifests by tag or digest (with Docker-Content-Digest), blobs by digest, /v2/ open.
 */
export async function startHostileRegistry(
  t: TestContext,
  opts: HostileRegistryOptions = {},
): Promise<HostileServer & { image: HonestImage }> {
  const image = opts.image ?? (await honestImage());
  const server = await startHostileServer(t, opts, async (req, res) => {
    if (opts.handle && (await opts.handle(req, res))) return;
    honest(image, req, res);
  });
  return { ...server, image };
}

function honest(image: HonestImage, req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  if (path === "/v2/" || path === "/v2") {
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
    return;
  }
  const manifest = /^\/v2\/.+\/manifests\/([^/]+)$/.exec(path);
  if (manifest) {
    const ref = decodeURIComponent(manifest[1]!);
    if (ref.includes(":") && ref !== image.manifestDigest) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      "content-type": "application/vnd.oci.image.manifest.v1+json",
      "content-length": image.manifest.length,
      "docker-content-digest": image.manifestDigest,
    });
    res.end(req.method === "HEAD" ? undefined : image.manifest);
    return;
  }
  const blob = /^\/v2\/.+\/blobs\/([^/]+)$/.exec(path);
  const blobs: Record<string, Buffer> = {
    [image.configDigest]: image.config,
    [image.layerDigest]: image.layer,
  };
  const bytes = blob ? blobs[decodeURIComponent(blob[1]!)] : undefined;
  if (bytes) {
    res.writeHead(200, {
      "content-length": bytes.length,
      "docker-content-digest": decodeURIComponent(blob![1]!),
    });
    res.end(req.method === "HEAD" ? undefined : bytes);
    return;
  }
  res.writeHead(404, { "content-type": "application/json" }).end('{"errors":[{"code":"NOT_FOUND"}]}');
}

/** Streams `chunk` forever (chunked, no Content-Length) until the client gives up. */
export function endless(res: ServerResponse, headers: Record<string, string | number>, chunk: Buffer): void {
  res.writeHead(200, headers);
  const pump = () => {
    while (res.write(chunk)) {
      if (res.destroyed) return;
    }
    if (!res.destroyed) res.once("drain", pump);
  };
  res.on("close", () => res.removeAllListeners("drain"));
  pump();
}
