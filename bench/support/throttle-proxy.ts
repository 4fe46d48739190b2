// A TCP proxy on 127.0.0.1 that stands for a slow network link: every byte crosses a shared
// link of `bitsPerSecond` in each direction (all connections through the proxy share it, as
// they would share an uplink) and arrives `oneWayDelayMs` after it left, so a request/response
// round trip costs 2 × oneWayDelayMs more than on loopback. Bytes are paced by when the link is
// free (serialisation) plus the fixed delay (propagation); a direction with more than
// HIGH_WATER bytes in flight pauses its reader, so a fast sender is slowed as TCP would slow it.
import { createServer, Socket } from "node:net";

export interface LinkOptions {
  /** Link rate in each direction, e.g. 20e6 for 20 Mbit/s. */
  bitsPerSecond: number;
  /** Added one-way latency in ms (the round trip grows by twice this). */
  oneWayDelayMs: number;
}

/** Both directions of one link; proxies given the same pair share its bandwidth. */
export interface SlowLink {
  up: Link;
  down: Link;
  options: LinkOptions;
}

export function slowLink(o: LinkOptions): SlowLink {
  const bytesPerMs = o.bitsPerSecond / 8 / 1000;
  return {
    up: new Link(bytesPerMs, o.oneWayDelayMs),
    down: new Link(bytesPerMs, o.oneWayDelayMs),
    options: o,
  };
}

export interface ThrottleProxy {
  port: number;
  host: string;
  stop(): Promise<void>;
}

const CHUNK = 16 * 1024;
const HIGH_WATER = 256 * 1024;

/** One direction of the link: a clock of when it is next free, shared by all connections. */
export class Link {
  private freeAt = 0;
  constructor(
    private readonly bytesPerMs: number,
    private readonly delayMs: number,
  ) {}

  /** Sends `data` from `src` to `dst` through the link, pausing `src` while too much is in flight. */
  relay(src: Socket, dst: Socket, data: Buffer, inFlight: { n: number }): void {
    for (let off = 0; off < data.length; off += CHUNK) {
      const piece = data.subarray(off, off + CHUNK);
      const now = performance.now();
      const leaves = Math.max(now, this.freeAt) + piece.length / this.bytesPerMs;
      this.freeAt = leaves;
      const arrives = leaves + this.delayMs;
      inFlight.n += piece.length;
      if (inFlight.n > HIGH_WATER) src.pause();
      setTimeout(
        () => {
          inFlight.n -= piece.length;
          if (!dst.destroyed) dst.write(piece);
          if (inFlight.n <= HIGH_WATER / 2 && src.isPaused()) src.resume();
        },
        Math.max(0, arrives - now),
      );
    }
  }

  /** Runs `f` once everything queued so far has arrived (an end or a reset keeps its place). */
  after(f: () => void): void {
    const now = performance.now();
    setTimeout(f, Math.max(0, Math.max(now, this.freeAt) + this.delayMs - now));
  }
}

/** A proxy on a free 127.0.0.1 port to `upstreamPort` on 127.0.0.1, through `link`. */
export async function startThrottleProxy(upstreamPort: number, link: SlowLink): Promise<ThrottleProxy> {
  const { up, down } = link;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = new Socket();
    sockets.add(client).add(upstream);
    // The delay is ours to add: Nagle's algorithm on top would hold small writes back further.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const upFlight = { n: 0 };
    const downFlight = { n: 0 };
    // The connection itself takes a round trip before the first byte, as a TCP handshake would.
    client.pause();
    up.after(() =>
      down.after(() => {
        upstream.connect(upstreamPort, "127.0.0.1", () => client.resume());
      }),
    );
    client.on("data", (b: Buffer) => up.relay(client, upstream, b, upFlight));
    upstream.on("data", (b: Buffer) => down.relay(upstream, client, b, downFlight));
    client.on("end", () => up.after(() => upstream.end()));
    upstream.on("end", () => down.after(() => client.end()));
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", () => up.after(close));
    upstream.on("close", () => down.after(close));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("throttle proxy has no port");
  return {
    port: address.port,
    host: `127.0.0.1:${address.port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
