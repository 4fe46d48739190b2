import { createHash, createHmac } from "node:crypto";

/** AWS credentials as the SDKs name them; `sessionToken` only for temporary (STS) credentials. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SigV4Request {
  method: string;
  /** `host` or `host:port`, exactly as sent in the Host header. */
  host: string;
  /** The path, not yet percent-encoded (an S3 key may hold `$`, spaces, …). */
  path: string;
  /** Query parameters, not yet percent-encoded; order does not matter. */
  query?: ReadonlyArray<readonly [string, string]>;
  /** Further headers to sign (names in any case), e.g. `range`. */
  headers?: Readonly<Record<string, string>>;
  /** Hex sha256 of the body, or `UNSIGNED-PAYLOAD`; sent as `x-amz-content-sha256`. */
  payloadHash: string;
  region: string;
  service: string;
  credentials: AwsCredentials;
  date: Date;
}

export const EMPTY_PAYLOAD_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";

/** RFC 3986 percent-encoding as SigV4 wants it: only A-Z a-z 0-9 - _ . ~ stay as they are. */
export function uriEncode(s: string, keepSlash = false): string {
  let out = "";
  for (const byte of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === "/")) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** The query string both signed and sent: encoded pairs sorted by name, then value. */
export function canonicalQuery(query: ReadonlyArray<readonly [string, string]> = []): string {
  return query
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

function amzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

/** Every header that goes into the signature, lower-cased, with the `x-amz-*` ones SigV4 adds. */
function headersToSign(req: SigV4Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers ?? {})) out[k.toLowerCase()] = v;
  out.host = req.host;
  out["x-amz-content-sha256"] = req.payloadHash;
  out["x-amz-date"] = amzDate(req.date);
  if (req.credentials.sessionToken) out["x-amz-security-token"] = req.credentials.sessionToken;
  return out;
}

export interface SigV4Parts {
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
  /** The headers to send: everything signed, plus `authorization`. */
  headers: Record<string, string>;
}

/**
 * Signs a request with AWS Signature Version 4 (the single-chunk, Authorization-header form),
 * S3 flavour: the path is encoded once, not twice as for other services.
 */
export function signV4(req: SigV4Request): SigV4Parts {
  const headers = headersToSign(req);
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names
    .map((n) => `${n}:${(headers[n] ?? "").trim().replace(/ +/g, " ")}\n`)
    .join("");
  const signedHeaders = names.join(";");
  const canonicalRequest = [
    req.method.toUpperCase(),
    uriEncode(req.path, true),
    canonicalQuery(req.query),
    canonicalHeaders,
    signedHeaders,
    req.payloadHash,
  ].join("\n");
  const stamp = headers["x-amz-date"] ?? "";
  const day = stamp.slice(0, 8);
  const scope = `${day}/${req.region}/${req.service}/aws4_request`;
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    stamp,
    scope,
    createHash("sha256").update(canonicalRequest, "utf8").digest("hex"),
  ].join("\n");
  const key = hmac(
    hmac(hmac(hmac(`AWS4${req.credentials.secretAccessKey}`, day), req.region), req.service),
    "aws4_request",
  );
  const signature = createHmac("sha256", key).update(stringToSign, "utf8").digest("hex");
  headers.authorization =
    `AWS4-HMAC-SHA256 Credential=${req.credentials.accessKeyId}/${scope},` +
    `SignedHeaders=${signedHeaders},Signature=${signature}`;
  return { canonicalRequest, stringToSign, signature, headers };
}
