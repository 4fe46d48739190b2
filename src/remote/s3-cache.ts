import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { TugError } from "../errors.ts";
import { type Digest, hexOf, isDigest } from "../oci/digest.ts";
import type { HttpResponse } from "../oci/registry/transport.ts";
import { limiter } from "../util/limiter.ts";
import { resolveAwsCredentials } from "./aws-credentials.ts";
import { type RemoteTimeouts, readRecordBody, remoteTimeouts } from "./remote-cache.ts";
import { type AwsCredentials, canonicalQuery, EMPTY_PAYLOAD_HASH, signV4, uriEncode } from "./sigv4.ts";
import { type CacheRequest, CacheTransport, type CountingRemoteCache } from "./transport.ts";

export interface S3RemoteCacheOptions {
  /** An S3-compatible server (MinIO, R2, s3rver): addressed path-style, `endpoint/bucket/key`. */
  endpoint?: string;
  region?: string;
  credentials?: AwsCredentials;
  timeouts?: RemoteTimeouts;
  /** Where the `AWS_*` variables are read from; process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** Keys per listing page (`max-keys`); S3's own maximum, 1000, unless a test wants pages. */
  listPageSize?: number;
}

/** HEADs in flight at once, and the number of digests from which a listing is cheaper. */
const HEAD_CONCURRENCY = 8;
const LIST_FROM = 8;

export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/?#]+)\/*([^?#]*)$/.exec(url);
  const bucket = m?.[1];
  if (!bucket || bucket.includes("@")) {
    throw new TugError({
      what: `not an S3 remote cache URL: ${url.replace(/\/\/[^/@]*@/, "//")}`,
      hint: "write it as s3://bucket or s3://bucket/prefix; credentials come from AWS_* variables or ~/.aws/credentials",
    });
  }
  return { bucket, prefix: (m?.[2] ?? "").replace(/\/+$/, "") };
}

/** Where requests go: the origin, the Host header signed, and the path before the object key. */
export function s3Addressing(bucket: string, region: string, endpoint: string | undefined) {
  if (endpoint) {
    const e = new URL(endpoint);
    return { origin: e.origin, host: e.host, base: `${e.pathname.replace(/\/+$/, "")}/${bucket}` };
  }
  // Virtual-host style, except for bucket names with dots, which the *.s3 certificate cannot cover.
  if (bucket.includes(".")) {
    const host = `s3.${region}.amazonaws.com`;
    return { origin: `https://${host}`, host, base: `/${bucket}` };
  }
  const host = `${bucket}.s3.${region}.amazonaws.com`;
  return { origin: `https://${host}`, host, base: "" };
}

function xmlText(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, "&");
}

function xmlTag(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  return m?.[1] === undefined ? undefined : xmlText(m[1]);
}

/**
 * The S3 API as a RemoteCache: blobs at `PREFIX/cas/HEX`, records at `PREFIX/ac/HEX`, signed
 * with SigV4. Works against AWS, MinIO, R2 and s3rver.
 */
export async function s3RemoteCache(
  url: string,
  opts: S3RemoteCacheOptions = {},
): Promise<CountingRemoteCache> {
  const env = opts.env ?? process.env;
  const { bucket, prefix } = parseS3Url(url);
  const name = `s3://${bucket}${prefix ? `/${prefix}` : ""}`;
  const credentials = opts.credentials ?? (await resolveAwsCredentials(env));
  if (!credentials) {
    throw new TugError({
      what: `no AWS credentials for the remote cache ${name}`,
      hint: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE naming a section of ~/.aws/credentials",
    });
  }
  const region = opts.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1";
  const endpoint = opts.endpoint || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const at = s3Addressing(bucket, region, endpoint);
  const http = new CacheTransport(
    endpoint ? `${name} at ${at.origin}` : name,
    opts.timeouts ?? remoteTimeouts(),
    HEAD_CONCURRENCY,
  );
  const keyPrefix = prefix ? `${prefix}/` : "";
  const casKey = (d: Digest) => {
    if (!isDigest(d))
      throw new Error(`internal: blob digest must be sha256:<64 hex>, got ${String(d).slice(0, 80)}`);
    return `${keyPrefix}cas/${hexOf(d)}`;
  };
  const acKey = (key: string) => {
    if (!/^[a-f0-9]{64}$/.test(key)) throw new Error(`action key must be 64 hex chars, got ${key}`);
    return `${keyPrefix}ac/${key}`;
  };

  const send = async (r: {
    method: CacheRequest["method"];
    key?: string;
    query?: Array<[string, string]>;
    payloadHash?: string;
    size?: number;
    body?: Buffer | Readable;
  }): Promise<{ req: CacheRequest; res: HttpResponse }> => {
    const path = r.key === undefined ? `${at.base}/` : `${at.base}/${r.key}`;
    const signed = signV4({
      method: r.method,
      host: at.host,
      path,
      query: r.query,
      payloadHash: r.payloadHash ?? EMPTY_PAYLOAD_HASH,
      region,
      service: "s3",
      credentials,
      date: new Date(),
    });
    const qs = canonicalQuery(r.query);
    const headers = signed.headers;
    if (r.size !== undefined) headers["content-length"] = String(r.size);
    const req: CacheRequest = {
      method: r.method,
      url: `${at.origin}${uriEncode(path, true)}${qs ? `?${qs}` : ""}`,
      headers,
      body: r.body,
    };
    return { req, res: await http.send(req) };
  };

  /** S3's `<Error><Code>…</Code><Message>…</Message></Error>`, with a hint for the usual causes. */
  const failure = async (req: CacheRequest, res: HttpResponse, text?: string): Promise<TugError> => {
    const body = text ?? (req.method === "HEAD" ? "" : await res.body.text().catch(() => ""));
    await res.body.dump().catch(() => {});
    const code = xmlTag(body, "Code");
    const detail = [code, xmlTag(body, "Message")].filter(Boolean).join(": ");
    const err = http.statusError(req, res.statusCode, detail);
    const bucketRegion = res.headers["x-amz-bucket-region"];
    let hint: string | undefined;
    if (typeof bucketRegion === "string" && bucketRegion !== region) {
      hint = `the bucket ${bucket} is in ${bucketRegion}; set AWS_REGION=${bucketRegion}`;
    } else if (res.statusCode === 403 && req.method === "HEAD") {
      hint =
        "S3 answers 403 both for refused credentials and, when they may not list the bucket " +
        "(s3:ListBucket), for a missing object; check the keys and the bucket policy";
    } else if (res.statusCode === 403) {
      hint = "check the AWS credentials, and that they may read and write this bucket and prefix";
    } else if (code === "NoSuchBucket") {
      hint = `create the bucket ${bucket}, or fix the name in the cache URL`;
    }
    return new TugError({ what: err.what, hint: hint ?? err.hint });
  };

  const head = async (key: string): Promise<boolean> => {
    const { req, res } = await send({ method: "HEAD", key });
    await res.body.dump();
    if (res.statusCode === 404) return false;
    if (res.statusCode === 200) return true;
    throw await failure(req, res);
  };

  const get = async (key: string): Promise<Readable | undefined> => {
    const { req, res } = await send({ method: "GET", key });
    if (res.statusCode === 200) return res.body;
    if (res.statusCode === 404) {
      const body = await res.body.text();
      // A missing bucket is a configuration error, not a cache miss.
      if (xmlTag(body, "Code") !== "NoSuchBucket") return undefined;
      throw await failure(req, res, body);
    }
    throw await failure(req, res);
  };

  const put = async (
    key: string,
    payloadHash: string,
    size: number,
    body: Buffer | Readable,
  ): Promise<void> => {
    const { req, res } = await send({ method: "PUT", key, payloadHash, size, body });
    if (res.statusCode === 200) {
      await res.body.dump();
      return;
    }
    throw await failure(req, res);
  };

  const limit = limiter(HEAD_CONCURRENCY);
  const headAll = async (digests: Digest[]): Promise<Set<Digest>> => {
    const found = await Promise.all(digests.map((d) => limit(() => head(casKey(d)))));
    return new Set(digests.filter((_, i) => found[i]));
  };

  /**
   * Listing returns keys in order, 1000 a page, so one listing from just before the smallest
   * wanted key up to the largest answers every question. It is sequential, though, so when the
   * bucket holds far more blobs than asked about, the pages stop at the cost of the HEADs they
   * replace and whatever lies beyond the last listed key is HEADed instead.
   */
  const listing = async (digests: Digest[]): Promise<Set<Digest>> => {
    const byHex = new Map(digests.map((d) => [hexOf(d), d]));
    const wanted = [...byHex.keys()].sort();
    const first = wanted[0] ?? "";
    const last = wanted[wanted.length - 1] ?? "";
    const casPrefix = `${keyPrefix}cas/`;
    const found = new Set<Digest>();
    const maxPages = Math.max(2, Math.ceil(digests.length / HEAD_CONCURRENCY));
    let token: string | undefined;
    let listedUpTo = "";
    for (let page = 0; page < maxPages; page++) {
      const query: Array<[string, string]> = [
        ["list-type", "2"],
        ["prefix", casPrefix],
      ];
      if (opts.listPageSize) query.push(["max-keys", String(opts.listPageSize)]);
      // A proper prefix of a key sorts before it, so the listing starts at the smallest wanted key.
      if (token) query.push(["continuation-token", token]);
      else query.push(["start-after", `${casPrefix}${first.slice(0, -1)}`]);
      const { req, res } = await send({ method: "GET", query });
      if (res.statusCode !== 200) throw await failure(req, res);
      const xml = await res.body.text();
      for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) {
        const hex = xmlText(m[1] ?? "").slice(casPrefix.length);
        const d = byHex.get(hex);
        if (d) found.add(d);
        if (hex > listedUpTo) listedUpTo = hex;
      }
      token = xmlTag(xml, "NextContinuationToken");
      if (xmlTag(xml, "IsTruncated") !== "true" || !token) return found;
      if (listedUpTo >= last) return found;
    }
    const rest = wanted.filter((hex) => hex > listedUpTo).map((hex) => byHex.get(hex) as Digest);
    for (const d of await headAll(rest)) found.add(d);
    return found;
  };

  return {
    name,
    async hasBlobs(digests) {
      const unique = [...new Set(digests)];
      if (unique.length === 0) return new Set();
      return unique.length >= LIST_FROM ? listing(unique) : headAll(unique);
    },
    getBlob: (digest) => get(casKey(digest)),
    async putBlob(digest, size, open) {
      if (await head(casKey(digest))) return;
      // The object is the blob, so its sha256 is the digest: signed without reading the file
      // twice, and S3 itself refuses a body that does not match (XAmzContentSHA256Mismatch).
      await put(casKey(digest), hexOf(digest), size, await open());
    },
    async getRecord(key) {
      const body = await get(acKey(key));
      if (!body) return undefined;
      return readRecordBody(body, { server: name, key });
    },
    putRecord: (key, body) =>
      put(acKey(key), createHash("sha256").update(body).digest("hex"), body.length, body),
    requestCounts: () => http.requestCounts(),
    close: () => http.close(),
  };
}
