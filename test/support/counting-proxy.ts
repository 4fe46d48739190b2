// A transparent HTTP proxy in front of a test registry that records every request line, so a
// test can say exactly what a push cost ("one blob upload, one manifest PUT") at the wire level,
// whichever process (library or CLI child) sent it.
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";

export interface RecordedRequest {
  method: string;
  /** Path and query as sent, e.g. `/v2/demo/web/blobs/uploads/?mount=sha256:…&from=base/node`. */
  path: string;
  status: number;
}

export interface CountingProxy {
  /** `127.0.0.1:PORT`: use it as the registry host, so every request passes through. */
  host: string;
  port: number;
  /** `127.0.0.1:PORT/<path>` */
  repo(path: string): string;
  requests(): RecordedRequest[];
  reset(): void;
  stop(): Promise<void>;
}

/**
 * Starts a proxy on a free port forwarding to `upstream` (`http://127.0.0.1:PORT`). The Host
 * header is passed through unchanged, so the upload URLs the registry hands out name the proxy
 * and later requests of an upload come through it too. Stopped when `t` ends.
 */
export async function startCountingProxy(t: TestContext, upstream: string): Promise<CountingProxy> {
  const target = new URL(upstream);
  let log: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const entry: RecordedRequest = { method: req.method ?? "GET", path: req.url ?? "/", status: 0 };
    log.push(entry);
    const up = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (upRes) => {
        entry.status = upRes.statusCode ?? 0;
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on("error", (e) => {
      entry.status = 502;
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(String(e));
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = `127.0.0.1:${port}`;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.after(stop);
  return {
    host,
    port,
    repo: (p) => `${host}/${p}`,
    requests: () => log.map((r) => ({ ...r })),
    reset: () => {
      log = [];
    },
    stop,
  };
}
