import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { TugError } from "../../errors.ts";
import { httpTimeouts } from "../../util/http-timeout.ts";
import { parseDigest } from "../checked-digest.ts";
import { type Digest, sha256 } from "../digest.ts";
import type { Reference } from "../reference.ts";
import { MAX_MANIFEST_BYTES } from "../size-limits.ts";
import { type IndexManifest, MediaType } from "../types.ts";
import { Authenticator, repositoryScope } from "./auth.ts";
import { registryCredentials } from "./auth-files.ts";
import type { CredentialSource } from "./docker-config.ts";
import { networkError, RegistryError } from "./errors.ts";
import { responseError } from "./response-error.ts";
import { backoffDelay, DEFAULT_RETRY, type RetryNotice, type RetryPolicy, withRetry } from "./retry.ts";
import { type HttpResponse, type RequestCounts, Transport, type TransportOptions } from "./transport.ts";
import { verifyBuffer, verifyingStream } from "./verify.ts";

export type Repo = Pick<Reference, "registry" | "repository">;

export interface RegistryClientOptions extends TransportOptions {
  /** Where logins come from; default: podman's auth.json files, then docker's config.json (see auth-files.ts). */
  credentials?: CredentialSource;
  retry?: Partial<RetryPolicy>;
  onRetry?: (notice: RetryNotice & { operation: string }) => void;
  /** Blobs up to this size go in one PUT; larger ones stream through PATCH. Default 8 MiB. */
  monolithicMaxBytes?: number;
}

export interface Operation {
  repo: Repo;
  method: string;
  /** A path under `/v2/<name>/`, or an absolute URL the registry handed out (upload Location). */
  path: string;
  /** Describes the operation in errors: "upload blob sha256:…". */
  operation: string;
  push?: boolean;
  /** More token scopes, e.g. pull on the source repository of a mount. */
  scopes?: string[];
  headers?: Record<string, string>;
  /** Re-invoked when the request is re-sent after a 401, so streams are opened fresh. */
  body?: () => Promise<Buffer | Readable>;
  /** Statuses the caller handles; anything else becomes a RegistryError. */
  expect: number[];
  followRedirects?: boolean;
}

export interface FetchedManifest {
  raw: Buffer;
  mediaType: string;
  digest: Digest;
}

export const MANIFEST_ACCEPT = [
  MediaType.ociManifest,
  MediaType.ociIndex,
  MediaType.dockerManifest,
  MediaType.dockerManifestList,
].join(", ");

const MAX_REDIRECTS = 5;

/** A distribution-spec v1.1 client; one instance shares connections, tokens and counters. */
export class RegistryClient {
  readonly transport: Transport;
  readonly auth: Authenticator;
  readonly retryPolicy: RetryPolicy;
  readonly monolithicMaxBytes: number;
  private readonly onRetry: RegistryClientOptions["onRetry"];

  constructor(opts: RegistryClientOptions = {}) {
    this.transport = new Transport(opts);
    this.auth = new Authenticator(this.transport, opts.credentials ?? registryCredentials());
    // Retries of one operation end with the HTTP deadline unless the caller says otherwise.
    this.retryPolicy = { ...DEFAULT_RETRY, budgetMs: httpTimeouts().deadlineMs, ...opts.retry };
    this.monolithicMaxBytes = opts.monolithicMaxBytes ?? 8 * 1024 * 1024;
    this.onRetry = opts.onRetry;
  }

  requestCounts(): RequestCounts {
    return this.transport.requestCounts();
  }

  resetCounts(): void {
    this.transport.resetCounts();
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  /**
   * Runs `fn` with the client's backoff policy; `fn` must redo all its I/O each time. A network
   * failure that ends the operation names it ("… timed out (…) during fetch manifest app:1").
   * `budgetMs` widens the time budget for operations whose attempts are long (blob uploads).
   */
  async retrying<T>(
    operation: string,
    fn: (attempt: number) => Promise<T>,
    opts: { budgetMs?: number } = {},
  ): Promise<T> {
    const policy = opts.budgetMs === undefined ? this.retryPolicy : { ...this.retryPolicy, ...opts };
    try {
      return await withRetry(fn, policy, (n) => this.onRetry?.({ ...n, operation }));
    } catch (e) {
      throw withOperation(e, operation);
    }
  }

  /** Fetches auth up front so parallel blob requests share one token instead of racing for it. */
  async prepare(repo: Repo, opts: { push?: boolean; mountFrom?: string[] } = {}): Promise<void> {
    const scopes = [repositoryScope(repo.repository, opts.push ?? false)];
    for (const from of opts.mountFrom ?? []) scopes.push(repositoryScope(from, false));
    await this.retrying(`authenticate to ${repo.registry}`, () =>
      this.auth.authorization(repo.registry, scopes),
    );
  }

  url(repo: Repo, path: string): string {
    if (/^https?:\/\//.test(path)) return path;
    if (path.startsWith("/")) return `${this.transport.baseUrl(repo.registry)}${path}`;
    return `${this.transport.baseUrl(repo.registry)}/v2/${repo.repository}/${path}`;
  }

  /** One request with auth, one re-authentication on 401, redirects, and status checking. */
  async send(op: Operation): Promise<HttpResponse> {
    const { registry } = op.repo;
    const base = new URL(this.transport.baseUrl(registry)).origin;
    const scopes = [repositoryScope(op.repo.repository, op.push ?? false), ...(op.scopes ?? [])];
    let authorization = await this.auth.authorization(registry, scopes);
    let url = this.url(op.repo, op.path);
    let reauthorized = false;
    for (let hops = 0; ; ) {
      const headers = { ...op.headers };
      // Credentials go only to the registry's own origin, never to a redirect target (CDN, S3).
      if (authorization && new URL(url).origin === base) headers.authorization = authorization;
      const body = op.body ? await op.body() : undefined;
      const res = await this.transport.send({ registry, method: op.method, url, headers, body });
      if (res.statusCode === 401 && !reauthorized) {
        reauthorized = true;
        const next = await this.auth.reauthorize(registry, scopes, res.headers["www-authenticate"]);
        if (next !== undefined) {
          await res.body.dump();
          authorization = next;
          continue;
        }
        // The body is still unread: responseError reads the registry's error from it.
        throw await responseError(res, {
          op,
          hasCredentials: await this.auth.hasCredentials(registry, op.repo.repository),
        });
      }
      const location = res.headers.location;
      if (
        op.followRedirects &&
        res.statusCode >= 300 &&
        res.statusCode < 400 &&
        typeof location === "string"
      ) {
        await res.body.dump();
        if (++hops > MAX_REDIRECTS) {
          throw new RegistryError({ what: `too many redirects during ${op.operation}`, where: registry });
        }
        url = new URL(location, url).toString();
        continue;
      }
      if (op.expect.includes(res.statusCode)) return res;
      throw await responseError(res, {
        op,
        hasCredentials: await this.auth.hasCredentials(registry, op.repo.repository),
      });
    }
  }

  /** The blob's size when the repository has it, undefined when it does not. */
  headBlob(repo: Repo, digest: Digest): Promise<number | undefined> {
    const operation = `check blob ${digest}`;
    return this.retrying(operation, async () => {
      const res = await this.send({
        repo,
        method: "HEAD",
        path: `blobs/${digest}`,
        operation,
        expect: [200, 404],
        followRedirects: true,
      });
      await res.body.dump();
      if (res.statusCode === 404) return undefined;
      return Number(res.headers["content-length"] ?? Number.NaN);
    });
  }

  /**
   * Streams a blob, verifying digest (and size when given) as the bytes pass. A connection that
   * breaks or stalls mid-body is resumed with a Range request instead of failing the consumer.
   */
  async blob(repo: Repo, digest: Digest, size?: number): Promise<Readable> {
    const operation = `download blob ${digest}`;
    const url = this.url(repo, `blobs/${digest}`);
    const get = (offset: number) =>
      this.retrying(operation, () =>
        this.send({
          repo,
          method: "GET",
          path: `blobs/${digest}`,
          operation,
          headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
          expect: offset > 0 ? [200, 206] : [200],
          followRedirects: true,
        }),
      );
    const first = await get(0);
    const policy = this.retryPolicy;
    const onRetry = this.onRetry;
    async function* resumable(): AsyncGenerator<Buffer> {
      let res = first;
      let offset = 0;
      for (let attempt = 0; ; ) {
        // A server that ignores Range answers 200 from the start: skip what was already passed on.
        let skip = res.statusCode === 200 ? offset : 0;
        try {
          for await (const chunk of res.body as AsyncIterable<Buffer>) {
            const part = skip > 0 ? chunk.subarray(Math.min(skip, chunk.length)) : chunk;
            skip = Math.max(0, skip - chunk.length);
            if (part.length === 0) continue;
            offset += part.length;
            yield part;
          }
          return;
        } catch (e) {
          const err = networkError(e, { registry: repo.registry, method: "GET", url });
          if (!err.retryable || attempt >= policy.retries) throw err;
          const delayMs = backoffDelay(attempt++, policy);
          onRetry?.({ attempt, delayMs, error: err, operation });
          await sleep(delayMs);
          res = await get(offset);
        }
      }
    }
    return verifyingStream(Readable.from(resumable(), { objectMode: false }), {
      digest,
      size,
      what: `blob ${digest}`,
      where: `${repo.registry}/${repo.repository}`,
    });
  }

  /** Manifest descriptor by tag or digest, or undefined when absent (digest unknown if the header is missing). */
  headManifest(
    repo: Repo,
    reference: string,
  ): Promise<{ digest: Digest | undefined; mediaType: string; size: number } | undefined> {
    const operation = `check manifest ${named(repo, reference)}`;
    return this.retrying(operation, async () => {
      const res = await this.send({
        repo,
        method: "HEAD",
        path: `manifests/${reference}`,
        operation,
        headers: { accept: MANIFEST_ACCEPT },
        expect: [200, 404],
      });
      await res.body.dump();
      if (res.statusCode === 404) return undefined;
      const where = `${repo.registry}/${repo.repository}: Docker-Content-Digest of ${reference}`;
      const header = res.headers["docker-content-digest"];
      // The header names blobs and URL paths later: a malformed one is refused, not ignored.
      const digest = header !== undefined ? parseDigest(header, where) : digestOrUndefined(reference);
      return {
        digest,
        mediaType: String(res.headers["content-type"] ?? ""),
        size: Number(res.headers["content-length"] ?? 0),
      };
    });
  }

  /** Fetches a manifest; by digest it is verified, by tag its digest is computed from the bytes. */
  manifest(repo: Repo, reference: string): Promise<FetchedManifest> {
    const operation = `fetch manifest ${named(repo, reference)}`;
    return this.retrying(operation, async () => {
      const res = await this.send({
        repo,
        method: "GET",
        path: `manifests/${reference}`,
        operation,
        headers: { accept: MANIFEST_ACCEPT },
        expect: [200],
      });
      const where = `${repo.registry}/${repo.repository}`;
      let raw: Buffer;
      try {
        raw = await res.body.bytes({
          maxBytes: MAX_MANIFEST_BYTES,
          what: `manifest ${named(repo, reference)}`,
          where,
        });
      } catch (e) {
        if (e instanceof TugError) throw e;
        throw networkError(e, {
          registry: repo.registry,
          method: "GET",
          url: this.url(repo, `manifests/${reference}`),
        });
      }
      const pinned = digestOrUndefined(reference);
      if (pinned) verifyBuffer(raw, pinned, `manifest ${reference}`, where);
      const header =
        String(res.headers["content-type"] ?? "")
          .split(";")[0]
          ?.trim() ?? "";
      let mediaType = header;
      if (!mediaType || mediaType === "application/json") {
        mediaType = parseManifestJson<{ mediaType?: unknown }>(raw, where).mediaType as string;
        if (typeof mediaType !== "string") mediaType = MediaType.ociManifest;
      }
      return { raw, mediaType, digest: sha256(raw) };
    });
  }

  /**
   * Stores a manifest under a tag or its digest and returns the digest of the bytes sent.
   * `onSubject` hears the `OCI-Subject` header a registry with the referrers API answers a
   * manifest that has a `subject` with (distribution-spec 1.1, "Pushing Manifests with Subject").
   */
  async putManifest(
    repo: Repo,
    reference: string,
    raw: Buffer,
    mediaType: string,
    onSubject?: (subject: string) => void,
  ): Promise<Digest> {
    const digest = sha256(raw);
    const operation = `push manifest ${named(repo, reference)}`;
    await this.retrying(operation, async () => {
      const res = await this.send({
        repo,
        method: "PUT",
        path: `manifests/${reference}`,
        operation,
        push: true,
        headers: { "content-type": mediaType },
        body: async () => raw,
        expect: [200, 201, 202],
      });
      await res.body.dump();
      const subject = res.headers["oci-subject"];
      if (onSubject && typeof subject === "string") onSubject(subject);
    });
    return digest;
  }

  /**
   * The referrers of `digest` through the referrers API (`GET /v2/<name>/referrers/<digest>`),
   * or undefined when the registry has none (404, as docker-registry 2.8 answers any unknown path).
   */
  referrers(repo: Repo, digest: Digest): Promise<IndexManifest | undefined> {
    const operation = `list referrers of ${named(repo, digest)}`;
    return this.retrying(operation, async () => {
      const res = await this.send({
        repo,
        method: "GET",
        path: `referrers/${digest}`,
        operation,
        headers: { accept: MediaType.ociIndex },
        expect: [200, 404],
      });
      const where = `${repo.registry}/${repo.repository}: referrers of ${digest}`;
      if (res.statusCode === 404) {
        await res.body.dump();
        return undefined;
      }
      const raw = await res.body.bytes({
        maxBytes: MAX_MANIFEST_BYTES,
        what: `the referrers of ${digest}`,
        where,
      });
      const index = parseManifestJson<IndexManifest>(raw, where);
      if (typeof index !== "object" || index === null || !Array.isArray(index.manifests))
        throw new RegistryError({ what: "the registry's referrers answer is not an image index", where });
      return index;
    });
  }
}

/** A reference that is a digest (`sha256:…`), checked; a tag gives undefined. */
function digestOrUndefined(reference: string): Digest | undefined {
  return reference.includes(":") ? parseDigest(reference, `manifest reference ${reference}`) : undefined;
}

/** Manifest bytes as JSON, or one clear error (never a bare SyntaxError). */
export function parseManifestJson<T>(raw: Buffer, where: string): T {
  try {
    return JSON.parse(raw.toString("utf8")) as T;
  } catch (e) {
    throw new RegistryError({
      what: "the registry sent a manifest that is not valid JSON",
      where,
      hint: "the registry (or a proxy) is broken or hostile",
      cause: e,
    });
  }
}

function withOperation(e: unknown, operation: string): unknown {
  if (!(e instanceof RegistryError) || e.code === undefined || e.what.includes(operation)) return e;
  return new RegistryError({
    what: `${e.what} during ${operation}`,
    where: e.where,
    hint: e.hint,
    retryable: e.retryable,
    status: e.status,
    code: e.code,
    cause: e,
  });
}

/** `app:1` for a tag, `app@sha256:…` for a digest, as users write references. */
function named(repo: Repo, reference: string): string {
  return `${repo.repository}${reference.includes(":") ? "@" : ":"}${reference}`;
}
