// A package index that misbehaves on purpose: each test hands it a request handler, it listens on
// 127.0.0.1 on a free port, records what it was asked (with the Authorization header) and is
// stopped when the test ends.
import { readdir, readFile, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { TestContext } from "node:test";

export interface SeenRequest {
  path: string;
  authorization: string | undefined;
  range: string | undefined;
}

export interface HostileIndex {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  port: number;
  seen: SeenRequest[];
}

export type HostileHandler = (req: IncomingMessage, res: ServerResponse, path: string) => void;

export async function startHostileIndex(t: TestContext, handle: HostileHandler): Promise<HostileIndex> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    seen.push({ path, authorization: req.headers.authorization, range: req.headers.range });
    handle(req, res, path);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, port, seen };
}

/** A PEP 691 JSON answer. */
export function sendJson(res: ServerResponse, doc: unknown): void {
  const body = Buffer.from(JSON.stringify(doc));
  res.writeHead(200, {
    "content-type": "application/vnd.pypi.simple.v1+json",
    "content-length": body.length,
  });
  res.end(body);
}

export function sendHtml(res: ServerResponse, html: string): void {
  res.writeHead(200, { "content-type": "text/html" });
  res.end(html);
}

export function sendBytes(res: ServerResponse, data: Buffer): void {
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": data.length });
  res.end(data);
}

/** Every file under `dir` whose bytes contain `secret` (relative paths), for "no secret on disk" checks. */
export async function filesContaining(dir: string, secret: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    const names = await readdir(d).catch(() => [] as string[]);
    for (const name of names) {
      const p = join(d, name);
      const st = await stat(p).catch(() => undefined);
      if (!st) continue;
      if (name.includes(secret)) found.push(join(rel, name));
      if (st.isDirectory()) await walk(p, join(rel, name));
      else if (st.isFile() && (await readFile(p)).includes(secret)) found.push(join(rel, name));
    }
  };
  await walk(dir, "");
  return found;
}
