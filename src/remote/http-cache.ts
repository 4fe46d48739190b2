import type { Readable } from "node:stream";
import { TugError } from "../errors.ts";
import { type Digest, hexOf, isDigest } from "../oci/digest.ts";
import { limiter } from "../util/limiter.ts";
import { type RemoteTimeouts, readRecordBody, remoteTimeouts } from "./remote-cache.ts";
import { type CacheRequest, CacheTransport, type CountingRemoteCache } from "./transport.ts";

export interface HttpRemoteCacheOptions {
  timeouts?: RemoteTimeouts;
  /** Sent as `Authorization: Bearer …` when the URL carries no user and password. */
  token?: string;
}

/** HEADs in flight at once when asking about many blobs. */
const HEAD_CONCURRENCY = 8;

/** Splits `http://user:pass@host/prefix` into a credential-free base URL and an Authorization value. */
export function parseCacheUrl(url: string, token?: string): { base: string; authorization?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TugError({
      what: `remote cache URL is not a URL: ${redact(url)}`,
      hint: "write it as http(s)://host[:port][/prefix], e.g. http://cache.internal:9090/team-a",
    });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new TugError({ what: `not an http(s) remote cache URL: ${redact(url)}` });
  }
  let authorization: string | undefined;
  if (u.username || u.password) {
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
  } else if (token) authorization = `Bearer ${token}`;
  u.username = "";
  u.password = "";
  u.search = "";
  u.hash = "";
  return { base: u.toString().replace(/\/+$/, ""), authorization };
}

/** For messages about a URL that did not parse: drop anything that looks like userinfo. */
function redact(url: string): string {
  return url.replace(/\/\/[^/@]*@/, "//");
}

/**
 * The Bazel HTTP remote-cache protocol: `{base}/cas/HEX` holds blobs by sha256, `{base}/ac/HEX`
 * holds action records by key; GET / HEAD / PUT, 404 for a miss. Any server that stores PUT
 * bodies speaks it: bazel-remote, nginx with WebDAV, a bucket behind a proxy.
 */
export function httpRemoteCache(url: string, opts: HttpRemoteCacheOptions = {}): CountingRemoteCache {
  const { base, authorization } = parseCacheUrl(url, opts.token);
  const http = new CacheTransport(base, opts.timeouts ?? remoteTimeouts(), HEAD_CONCURRENCY);
  const headers = (extra: Record<string, string> = {}): Record<string, string> =>
    authorization ? { authorization, ...extra } : extra;
  const casUrl = (d: Digest) => {
    if (!isDigest(d))
      throw new Error(`internal: blob digest must be sha256:<64 hex>, got ${String(d).slice(0, 80)}`);
    return `${base}/cas/${hexOf(d)}`;
  };
  const acUrl = (key: string) => {
    if (!/^[a-f0-9]{64}$/.test(key)) throw new Error(`action key must be 64 hex chars, got ${key}`);
    return `${base}/ac/${key}`;
  };

  const head = async (target: string): Promise<boolean> => {
    const req: CacheRequest = { method: "HEAD", url: target, headers: headers() };
    const res = await http.send(req);
    await res.body.dump();
    if (res.statusCode === 404) return false;
    if (res.statusCode >= 200 && res.statusCode < 300) return true;
    throw await http.readError(req, res);
  };

  const get = async (target: string): Promise<{ body: Readable; length?: string } | undefined> => {
    const req: CacheRequest = { method: "GET", url: target, headers: headers() };
    const res = await http.send(req);
    if (res.statusCode === 404) {
      await res.body.dump();
      return undefined;
    }
    if (res.statusCode === 200) return { body: res.body, length: res.headers["content-length"] };
    throw await http.readError(req, res);
  };

  const put = async (target: string, size: number, body: Buffer | Readable): Promise<void> => {
    const req: CacheRequest = {
      method: "PUT",
      url: target,
      headers: headers({ "content-length": String(size), "content-type": "application/octet-stream" }),
      body,
    };
    const res = await http.send(req);
    if (res.statusCode >= 200 && res.statusCode < 300) {
      await res.body.dump();
      return;
    }
    throw await http.readError(req, res);
  };

  const limit = limiter(HEAD_CONCURRENCY);
  return {
    name: base,
    async hasBlobs(digests) {
      const unique = [...new Set(digests)];
      const found = await Promise.all(unique.map((d) => limit(() => head(casUrl(d)))));
      return new Set(unique.filter((_, i) => found[i]));
    },
    getBlob: async (digest) => (await get(casUrl(digest)))?.body,
    async putBlob(digest, size, open) {
      if (await head(casUrl(digest))) return;
      await put(casUrl(digest), size, await open());
    },
    async getRecord(key) {
      const got = await get(acUrl(key));
      if (!got) return undefined;
      return readRecordBody(got.body, { server: base, key, contentLength: got.length });
    },
    putRecord: (key, body) => put(acUrl(key), body.length, body),
    requestCounts: () => http.requestCounts(),
    close: () => http.close(),
  };
}
