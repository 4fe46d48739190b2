import { Readable } from "node:stream";
import { isTugError, TugError } from "../errors.ts";
import { type Digest, isDigest, sha256 } from "../oci/digest.ts";
import { parseReference } from "../oci/reference.ts";
import { RegistryClient, type Repo } from "../oci/registry/client.ts";
import { RegistryError } from "../oci/registry/errors.ts";
import { uploadBlob } from "../oci/registry/upload.ts";
import { MediaType } from "../oci/types.ts";
import { limiter } from "../util/limiter.ts";
import { readAll } from "../util/read-all.ts";
import {
  MAX_RECORD_BYTES,
  OversizedRecordError,
  type RemoteCache,
  type RemoteTimeouts,
  remoteTimeouts,
} from "./remote-cache.ts";

/*
 * The cache inside the user's own registry (BuildKit's `type=registry` idea): CAS blobs are
 * blobs of one repository, and each action record is an OCI artifact manifest tagged
 * `ac-<key>` (image-spec 1.1 "artifacts guidance": empty config, the record as its one layer).
 *
 * Garbage collection: a registry's GC (distribution's `garbage-collect`, Harbor, ECR lifecycle
 * rules) keeps blobs a manifest references, so records and their layers survive, but plain CAS
 * blobs referenced by no manifest may be collected. That costs a cache miss, never a wrong
 * result; a later `tug cache` could pin them with an index manifest that references them.
 */

export const ACTION_RECORD_ARTIFACT_TYPE = "application/vnd.tug.action-record.v1";
export const ACTION_RECORD_MEDIA_TYPE = "application/vnd.tug.action-record.v1+json";
export const EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json";
const EMPTY_BLOB = Buffer.from("{}");
export const EMPTY_DIGEST: Digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/** HEADs in flight at once in `hasBlobs`. */
const HEAD_CONCURRENCY = 8;
const KEY_RE = /^[a-f0-9]{64}$/;
const LABEL = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?";
const HOST_RE = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[a-fA-F0-9:.]+\\])(?::[0-9]+)?$`);

export interface OciRemoteCacheOptions {
  /** A client to share (connections, tokens, request counts); closing the cache leaves it open. */
  client?: RegistryClient;
  /** Hosts spoken to over plain HTTP (loopback always is); only used when no client is given. */
  insecureRegistries?: string[];
  /** Only used when no client is given. */
  timeouts?: RemoteTimeouts;
}

/** `oci://REGISTRY/REPO` → the repository; the host is explicit, so no Docker Hub guessing. */
export function parseOciCacheUrl(url: string): Repo {
  const bad = (why: string) =>
    new TugError({
      what: `invalid OCI remote cache "${url}": ${why}`,
      hint: "use oci://REGISTRY[:PORT]/REPOSITORY, e.g. oci://ghcr.io/acme/tug-cache; credentials come from `podman login` or `docker login`",
    });
  if (!url.startsWith("oci://")) throw bad("it does not start with oci://");
  const rest = url.slice("oci://".length).replace(/\/+$/, "");
  const slash = rest.indexOf("/");
  if (slash <= 0 || slash === rest.length - 1) throw bad("it names no repository");
  const host = rest.slice(0, slash);
  const path = rest.slice(slash + 1);
  if (host.includes("@")) throw bad("credentials do not belong in the URL");
  if (/[:@]/.test(path)) throw bad("a cache repository takes no tag or digest");
  if (!HOST_RE.test(host)) throw bad(`"${host}" is not a valid registry host`);
  let repository: string;
  try {
    // "localhost/" makes parseReference take the whole path as the repository (no Docker Hub
    // "library/" guessing): the host is explicit in a URL.
    repository = parseReference(`localhost/${path}`).repository;
  } catch (e) {
    if (isTugError(e)) throw bad(e.what);
    throw e;
  }
  const registry = host === "index.docker.io" ? "docker.io" : host;
  return { registry, repository };
}

function isNotFound(e: unknown): boolean {
  return e instanceof RegistryError && e.status === 404;
}

interface RecordManifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType: string;
  config: { mediaType: string; digest: Digest; size: number };
  layers: Array<{ mediaType: string; digest: Digest; size: number }>;
}

/** The artifact manifest for one record; deterministic, so the same record yields the same digest. */
export function recordManifest(body: Buffer): Buffer {
  const manifest: RecordManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: ACTION_RECORD_ARTIFACT_TYPE,
    config: { mediaType: EMPTY_MEDIA_TYPE, digest: EMPTY_DIGEST, size: EMPTY_BLOB.length },
    layers: [{ mediaType: ACTION_RECORD_MEDIA_TYPE, digest: sha256(body), size: body.length }],
  };
  return Buffer.from(JSON.stringify(manifest));
}

/** The record layer a manifest names, or undefined when the manifest is not one of tug's records. */
function recordLayer(raw: Buffer): { digest: Digest; size: number } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const m = parsed as Partial<RecordManifest>;
  if (m.artifactType !== ACTION_RECORD_ARTIFACT_TYPE || !Array.isArray(m.layers) || m.layers.length !== 1) {
    return undefined;
  }
  const layer = m.layers[0];
  if (
    layer?.mediaType !== ACTION_RECORD_MEDIA_TYPE ||
    typeof layer.digest !== "string" ||
    !isDigest(layer.digest) ||
    !Number.isSafeInteger(layer.size) ||
    layer.size < 0
  ) {
    return undefined;
  }
  return { digest: layer.digest, size: layer.size };
}

function checkKey(key: string): string {
  if (!KEY_RE.test(key))
    throw new Error(`internal: action key must be 64 lowercase hex characters, got "${key}"`);
  return `ac-${key}`;
}

class OciRemoteCache implements RemoteCache {
  readonly name: string;
  private readonly repo: Repo;
  private readonly client: RegistryClient;
  private readonly ownsClient: boolean;
  /** One upload per digest at a time, so concurrent puts of a shared blob send it once. */
  private readonly uploads = new Map<Digest, Promise<void>>();
  private emptyConfig: Promise<void> | undefined;
  private pushAuth: Promise<void> | undefined;
  private pullAuth: Promise<void> | undefined;

  constructor(repo: Repo, client: RegistryClient, ownsClient: boolean) {
    this.repo = repo;
    this.client = client;
    this.ownsClient = ownsClient;
    this.name = `oci://${repo.registry}/${repo.repository}`;
  }

  // A token fetched up front is shared by the parallel requests that follow; a failure is not
  // remembered, so the next operation tries again.
  private authorize(push: boolean): Promise<void> {
    const cached = push ? this.pushAuth : this.pullAuth;
    if (cached) return cached;
    const p = this.client.prepare(this.repo, { push }).catch((e: unknown) => {
      if (push) this.pushAuth = undefined;
      else this.pullAuth = undefined;
      throw e;
    });
    if (push) this.pushAuth = p;
    else this.pullAuth = p;
    return p;
  }

  async hasBlobs(digests: Digest[]): Promise<Set<Digest>> {
    const unique = [...new Set(digests)];
    if (unique.length === 0) return new Set();
    await this.authorize(false);
    const run = limiter(HEAD_CONCURRENCY);
    const found = await Promise.all(
      unique.map((d) =>
        run(async () => ((await this.client.headBlob(this.repo, d)) !== undefined ? d : undefined)),
      ),
    );
    return new Set(found.filter((d): d is Digest => d !== undefined));
  }

  async getBlob(digest: Digest): Promise<Readable | undefined> {
    try {
      // Verified against `digest` as it streams (the client's verifying stream).
      return await this.client.blob(this.repo, digest);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  putBlob(digest: Digest, size: number, open: () => Promise<Readable>): Promise<void> {
    let p = this.uploads.get(digest);
    if (!p) {
      p = this.ensureBlob(digest, size, open).finally(() => this.uploads.delete(digest));
      this.uploads.set(digest, p);
    }
    return p;
  }

  private async ensureBlob(digest: Digest, size: number, open: () => Promise<Readable>): Promise<void> {
    await this.authorize(true);
    if ((await this.client.headBlob(this.repo, digest)) !== undefined) return;
    await uploadBlob(this.client, this.repo, { digest, size, open });
  }

  async getRecord(key: string): Promise<Buffer | undefined> {
    const tag = checkKey(key);
    let raw: Buffer;
    try {
      raw = (await this.client.manifest(this.repo, tag)).raw;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    // Something else tagged `ac-…` in this repository is foreign: a miss, never trusted.
    const layer = recordLayer(raw);
    if (!layer) return undefined;
    // Checked before the download: a record layer is never buffered past the bound.
    if (layer.size > MAX_RECORD_BYTES) throw new OversizedRecordError(this.name, key, layer.size);
    try {
      return await readAll(await this.client.blob(this.repo, layer.digest, layer.size));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      // A body that does not match the manifest's digest (a plain TugError from the verifying
      // stream, not a RegistryError) is a corrupt entry: ignored, and overwritten by the next put.
      if (isTugError(e) && !(e instanceof RegistryError)) return undefined;
      throw e;
    }
  }

  async putRecord(key: string, body: Buffer): Promise<void> {
    const tag = checkKey(key);
    const manifest = recordManifest(body);
    this.emptyConfig ??= this.putBlob(EMPTY_DIGEST, EMPTY_BLOB.length, async () =>
      Readable.from([EMPTY_BLOB]),
    ).catch((e: unknown) => {
      this.emptyConfig = undefined;
      throw e;
    });
    await Promise.all([
      this.emptyConfig,
      this.putBlob(sha256(body), body.length, async () => Readable.from([body])),
    ]);
    // Blobs first, tag last: a tag never names a record whose layer the registry lacks.
    await this.client.putManifest(this.repo, tag, manifest, MediaType.ociManifest);
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }
}

/**
 * A remote cache kept in an OCI registry repository, `oci://REGISTRY/REPO`. Credentials
 * (podman auth.json, docker config.json and credential helpers) and plain-HTTP handling come from the registry
 * client; a client built here uses the remote-cache time limits and few retries, so a stalled
 * registry costs seconds rather than a build.
 */
export function ociRemoteCache(url: string, opts: OciRemoteCacheOptions = {}): RemoteCache {
  const repo = parseOciCacheUrl(url);
  if (opts.client) return new OciRemoteCache(repo, opts.client, false);
  const t = opts.timeouts ?? remoteTimeouts();
  const client = new RegistryClient({
    insecureRegistries: opts.insecureRegistries ?? [],
    timeouts: { connectMs: t.connectMs, headersMs: t.idleMs, bodyIdleMs: t.idleMs, uploadIdleMs: t.idleMs },
    retry: { retries: 2 },
  });
  return new OciRemoteCache(repo, client, true);
}
