// An HTTP proxy in front of a registry that misbehaves on purpose, reproducibly from a seed.
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { TestContext } from "node:test";

export type Fault =
  /** Drop the connection before forwarding anything. */
  | "reset"
  /** Forward the request, let the registry act on it, then drop the connection: a lost response. */
  | "reset-after"
  /** Answer without forwarding. */
  | "500"
  | "503"
  | "429"
  /** Forward, then never answer (headers never come). */
  | "stall"
  /** Forward, send headers and half of the body, then go silent. */
  | "stall-body";

export interface ProxiedRequest {
  method: string;
  url: string;
  /** 0-based count of requests seen so far. */
  n: number;
}

export interface FaultProxyOptions {
  /** Upstream `host:port`. */
  target: string;
  seed?: number;
  /** Probability that a request gets a random fault (chosen from `faults`). */
  rate?: number;
  faults?: Fault[];
  /** Scripted faults; takes precedence over the random ones. Return undefined to pass through. */
  decide?: (req: ProxiedRequest) => Fault | undefined;
}

export interface FaultProxy {
  host: string;
  port: number;
  repo(path: string): string;
  /** Faults injected, by kind, and every request seen. */
  injected: Partial<Record<Fault, number>>;
  seen: ProxiedRequest[];
  setRate(rate: number): void;
}

/** mulberry32: a tiny seeded PRNG, so a failing seed can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const ALL_FAULTS: Fault[] = ["reset", "reset-after", "500", "503", "429", "stall", "stall-body"];

/** Starts the proxy on a free 127.0.0.1 port; every socket is destroyed when `t` ends. */
export async function startFaultProxy(t: TestContext, opts: FaultProxyOptions): Promise<FaultProxy> {
  const random = prng(opts.seed ?? 1);
  let rate = opts.rate ?? 0;
  const faults = opts.faults ?? ALL_FAULTS;
  const [upHost = "127.0.0.1", upPort = "80"] = opts.target.split(":");
  const upstream = new Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  const injected: FaultProxy["injected"] = {};
  const seen: ProxiedRequest[] = [];

  const forward = (req: IncomingMessage, onResponse: (res: IncomingMessage, body: Buffer) => void) => {
    const up = request(
      {
        host: upHost,
        port: Number(upPort),
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: upstream,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => onResponse(res, Buffer.concat(chunks)));
      },
    );
    up.on("error", () => req.socket.destroy());
    req.pipe(up);
  };

  const reply = (res: ServerResponse, up: IncomingMessage, body: Buffer) => {
    res.writeHead(up.statusCode ?? 502, up.headers);
    res.end(body);
  };

  const server = createServer((req, res) => {
    const info: ProxiedRequest = { method: req.method ?? "GET", url: req.url ?? "/", n: seen.length };
    seen.push(info);
    // Draw for every request, so the sequence of draws depends only on the seed and request order.
    const draw = random();
    const pick = faults[Math.floor(random() * faults.length)];
    const fault = opts.decide ? opts.decide(info) : draw < rate ? pick : undefined;
    if (fault) injected[fault] = (injected[fault] ?? 0) + 1;
    switch (fault) {
      case undefined:
        return forward(req, (up, body) => reply(res, up, body));
      case "reset":
        return void req.socket.destroy();
      case "500":
      case "503":
      case "429":
        req.resume();
        req.on("end", () => {
          res.writeHead(Number(fault), { "content-type": "application/json", "retry-after": "0" });
          res.end(`{"errors":[{"code":"UNAVAILABLE","message":"injected ${fault}"}]}`);
        });
        return;
      case "reset-after":
        return forward(req, () => req.socket.destroy());
      case "stall":
        return forward(req, () => {});
      case "stall-body":
        return forward(req, (up, body) => {
          if (body.length < 2) return; // nothing to cut in half: stall before headers instead
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.write(body.subarray(0, body.length >> 1));
        });
    }
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    upstream.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return {
    host: "127.0.0.1",
    port,
    repo: (p) => `127.0.0.1:${port}/${p}`,
    injected,
    seen,
    setRate: (r) => {
      rate = r;
    },
  };
}
