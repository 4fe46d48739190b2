// A proxy that checks every request's AWS SigV4 signature the way S3 does, from the request as
// it arrives on the wire, before passing it on. Written apart from src/remote/sigv4.ts (node's
// encodeURIComponent, its own HMAC chain) so that a shared mistake cannot pass unnoticed. Like
// S3, it hashes the body and refuses one that does not match `x-amz-content-sha256`.
import { createHash, createHmac } from "node:crypto";
import { createServer, type IncomingMessage, request } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { TestContext } from "node:test";

export interface VerifiedRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  /** Undefined when the signature checked out; else the S3 error code sent back. */
  rejected?: string;
}

export interface SigV4Verifier {
  /** `http://127.0.0.1:PORT` */
  url: string;
  requests: VerifiedRequest[];
}

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

/** The error code S3 would answer with, or undefined when the request is properly signed. */
function check(
  req: IncomingMessage,
  body: Buffer,
  creds: { accessKeyId: string; secretAccessKey: string },
): string | undefined {
  const auth = /^AWS4-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([a-f0-9]{64})$/.exec(
    req.headers.authorization ?? "",
  );
  if (!auth) return "AuthorizationHeaderMalformed";
  const [, credential = "", signedHeaders = "", signature] = auth;
  const [keyId, day = "", region = "", service = "", terminator] = credential.split("/");
  if (keyId !== creds.accessKeyId) return "InvalidAccessKeyId";
  if (terminator !== "aws4_request") return "AuthorizationHeaderMalformed";
  const payloadHash = req.headers["x-amz-content-sha256"];
  if (typeof payloadHash !== "string") return "InvalidRequest";
  if (payloadHash !== "UNSIGNED-PAYLOAD" && payloadHash !== createHash("sha256").update(body).digest("hex")) {
    return "XAmzContentSHA256Mismatch";
  }
  const names = signedHeaders.split(";");
  for (const required of ["host", "x-amz-date", "x-amz-content-sha256"]) {
    if (!names.includes(required)) return "AccessDenied";
  }
  const date = String(req.headers["x-amz-date"] ?? "");
  if (!date.startsWith(day)) return "SignatureDoesNotMatch";
  const [rawPath = "/", rawQuery = ""] = (req.url ?? "/").split("?", 2);
  const path = rawPath
    .split("/")
    .map((seg) => rfc3986(decodeURIComponent(seg)))
    .join("/");
  const query = rawQuery
    .split("&")
    .filter(Boolean)
    .map((pair) => {
      const [k = "", v = ""] = pair.split("=", 2);
      return `${rfc3986(decodeURIComponent(k))}=${rfc3986(decodeURIComponent(v))}`;
    })
    .sort()
    .join("&");
  const headerLines = names.map((n) => `${n}:${String(req.headers[n] ?? "").trim()}\n`).join("");
  const canonical = [req.method, path, query, headerLines, signedHeaders, payloadHash].join("\n");
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${date}\n${scope}\n${createHash("sha256").update(canonical).digest("hex")}`;
  const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, day), region), service), "aws4_request");
  return createHmac("sha256", key).update(toSign).digest("hex") === signature
    ? undefined
    : "SignatureDoesNotMatch";
}

/** Starts the verifier in front of `upstream` (`http://127.0.0.1:PORT`); closed when `t` ends. */
export async function startSigV4Verifier(
  t: TestContext,
  opts: { upstream: string; credentials: { accessKeyId: string; secretAccessKey: string } },
): Promise<SigV4Verifier> {
  const target = new URL(opts.upstream);
  const requests: VerifiedRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const entry: VerifiedRequest = { method: req.method ?? "GET", url: req.url ?? "/" };
    requests.push(entry);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const rejected = check(req, body, opts.credentials);
      if (rejected) {
        entry.rejected = rejected;
        const status = rejected === "InvalidRequest" || rejected === "XAmzContentSHA256Mismatch" ? 400 : 403;
        res.writeHead(status, { "content-type": "application/xml" });
        res.end(
          req.method === "HEAD"
            ? undefined
            : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${rejected}</Code><Message>rejected by the test's SigV4 verifier</Message></Error>`,
        );
        return;
      }
      const up = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on("error", () => req.socket.destroy());
      up.end(body);
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests };
}
