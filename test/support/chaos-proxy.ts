// An HTTP proxy in front of a real registry that misbehaves per request, reproducibly: a seeded
// generator picks for each request whether it passes or meets one of the faults a flaky network
// or an overloaded registry produces. Stopped when the test ends.
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { TestContext } from "node:test";

export type Fault =
  /** Answered by the proxy without reaching the registry. */
  | "500"
  | "503"
  /** The connection is reset after part of the request body was forwarded. */
  | "reset-request"
  /** The registry handled the request in full; the connection is reset while its response is relayed. */
  | "reset-response"
  /** No response at all until the client gives up. */
  | "stall"
  /** Headers and part of the body are relayed, then nothing more until the client gives up. */
  | "stall-body";

export const ALL_FAULTS: readonly Fault[] = [
  "500",
  "503",
  "reset-request",
  "reset-response",
  "stall",
  "stall-body",
];

export interface ChaosProxyOptions {
  /** `host:port` of the real registry. */
  upstream: string;
  seed: number;
  /** Chance that a request meets a fault, in [0, 1]. */
  rate: number;
  faults?: readonly Fault[];
  /** A stalled connection is dropped after this long if the client has not given up by then. */
  maxStallMs?: number;
}

export interface ChaosProxy {
  port: number;
  /** `127.0.0.1:PORT/<path>` */
  repo(path: string): string;
  /** Every request and what happened to it, for failure messages. */
  log: Array<{ method: string; url: string; fault: Fault | "pass" }>;
  /** Changes the fault rate for the requests that follow (0 turns the proxy into a plain relay). */
  setRate(rate: number): void;
  close(): Promise<void>;
}

/** mulberry32: a tiny seeded PRNG, so a failing run can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startChaosProxy(t: TestContext, opts: ChaosProxyOptions): Promise<ChaosProxy> {
  const random = prng(opts.seed);
  const faults = opts.faults ?? ALL_FAULTS;
  const maxStallMs = opts.maxStallMs ?? 20_000;
  const [upHost = "127.0.0.1", upPort = "80"] = opts.upstream.split(":");
  let rate = opts.rate;
  const log: ChaosProxy["log"] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const later = (ms: number, f: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      f();
    }, ms);
    timers.add(timer);
  };
  const reset = (s: Socket) => (s.destroyed ? undefined : s.resetAndDestroy());

  const forward = (req: IncomingMessage, res: ServerResponse, fault: Fault | "pass") => {
    // The Host header stays the proxy's: the registry builds upload Locations from it, and those
    // must lead back through the proxy.
    const up = request({
      host: upHost,
      port: Number(upPort),
      method: req.method,
      path: req.url,
      headers: req.headers,
    });
    up.on("error", () => reset(req.socket));
    up.on("response", (upRes) => {
      if (fault === "reset-response" || fault === "stall-body") {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        res.flushHeaders();
        let sent = 0;
        upRes.on("data", (chunk: Buffer) => {
          if (sent === 0 && chunk.length > 0) res.write(chunk.subarray(0, Math.ceil(chunk.length / 2)));
          sent += chunk.length;
        });
        const cut = () => {
          if (fault === "reset-response") reset(req.socket);
          else later(maxStallMs, () => reset(req.socket));
        };
        // Wait for the whole upstream response, so the registry has certainly finished the request.
        upRes.on("end", cut);
        upRes.on("error", cut);
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    if (fault === "reset-request") {
      const length = Number(req.headers["content-length"] ?? 0);
      if (!(length > 0)) {
        up.destroy();
        reset(req.socket);
        return;
      }
      let forwarded = 0;
      req.on("data", (chunk: Buffer) => {
        forwarded += chunk.length;
        if (forwarded >= length / 2) {
          up.destroy();
          reset(req.socket);
        } else up.write(chunk);
      });
      return;
    }
    req.pipe(up);
  };

  const server = createServer((req, res) => {
    const fault: Fault | "pass" = random() < rate ? faults[Math.floor(random() * faults.length)]! : "pass";
    log.push({ method: req.method ?? "?", url: req.url ?? "?", fault });
    switch (fault) {
      case "500":
      case "503": {
        req.resume();
        const body = JSON.stringify({ errors: [{ code: "UNAVAILABLE", message: "chaos proxy" }] });
        res.writeHead(Number(fault), { "content-type": "application/json", "content-length": body.length });
        res.end(body);
        return;
      }
      case "stall":
        req.resume();
        later(maxStallMs, () => reset(req.socket));
        return;
      default:
        forward(req, res, fault);
    }
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("clientError", (_e, s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    for (const timer of timers) clearTimeout(timer);
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.after(close);
  return {
    port,
    repo: (p) => `127.0.0.1:${port}/${p}`,
    log,
    setRate: (r) => {
      rate = r;
    },
    close,
  };
}
