// A Bazel HTTP remote cache (GET/HEAD/PUT on /cas/HEX and /ac/HEX) that stores honestly in memory
// and serves whatever the test tells it to: tampered records, wrong blobs, huge bodies, silence.
// On a free 127.0.0.1 port; stopped (connections and all) when the test ends.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";

export interface HostileCacheBehaviour {
  /** Never answer anything (headers never come). */
  silent?: boolean;
  /** Answer every request with this status (e.g. 401) and no body. */
  status?: number;
  /** What GET /ac/KEY answers instead of the stored body; undefined keeps it. */
  record?: (key: string, stored: Buffer | undefined) => Buffer | undefined;
  /** What GET /cas/HEX answers instead of the stored body; undefined keeps it. */
  blob?: (hex: string, stored: Buffer | undefined) => Buffer | undefined;
}

export interface HostileCache {
  /** `http://127.0.0.1:PORT` */
  url: string;
  records: Map<string, Buffer>;
  blobs: Map<string, Buffer>;
  /** "METHOD /path" of every request, in order. */
  requests: string[];
  /** Headers of every request, in order (to check what credentials were sent). */
  headers: IncomingMessage["headers"][];
  behaviour: HostileCacheBehaviour;
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startHostileCache(
  t: TestContext,
  behaviour: HostileCacheBehaviour = {},
): Promise<HostileCache> {
  const cache: HostileCache = {
    url: "",
    records: new Map(),
    blobs: new Map(),
    requests: [],
    headers: [],
    behaviour,
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    cache.requests.push(`${req.method} ${req.url}`);
    cache.headers.push(req.headers);
    if (cache.behaviour.silent) return; // the socket stays open, nothing is ever sent
    if (cache.behaviour.status) {
      await bodyOf(req);
      res.writeHead(cache.behaviour.status).end();
      return;
    }
    const m = /\/(ac|cas)\/([^/?]+)$/.exec(req.url ?? "");
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    const [, space, name] = m as unknown as [string, "ac" | "cas", string];
    const store = space === "ac" ? cache.records : cache.blobs;
    if (req.method === "PUT") {
      store.set(name, await bodyOf(req));
      res.writeHead(200).end();
      return;
    }
    const stored = store.get(name);
    const hook = space === "ac" ? cache.behaviour.record : cache.behaviour.blob;
    const body = hook?.(name, stored) ?? stored;
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-length": String(body.length) });
    res.end(req.method === "HEAD" ? undefined : body);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  cache.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return cache;
}

/** A tug record envelope for `kind` holding `value`, with a valid checksum (what a forger writes). */
export function forgedEnvelope(kind: string, value: unknown, canonicalJson: (v: unknown) => string): Buffer {
  const check = createHash("sha256").update(canonicalJson({ kind, value })).digest("hex");
  return Buffer.from(JSON.stringify({ v: 1, kind, value, check }));
}

/** The envelope's kind and value when `body` is one of tug's records (signed or not). */
export function readEnvelope(body: Buffer): { kind: string; value: unknown } | undefined {
  const text = body.toString("utf8").replace(/^tug-hmac-sha256 [0-9a-f]{64}\n/, "");
  try {
    const env = JSON.parse(text) as { kind?: unknown; value?: unknown };
    if (typeof env.kind !== "string" || env.value === undefined) return undefined;
    return { kind: env.kind, value: env.value };
  } catch {
    return undefined;
  }
}
