// A TCP proxy on 127.0.0.1 that stands for a slow network link: every byte crosses a shared
// link of `bitsPerSecond` in each direction (all connections through the proxy share it, as
// they would share an uplink) and arrives `oneWayDelayMs` after it left, so a request/response
// round trip costs 2 × oneWayDelayMs more than on loopback. Bytes are paced by when the link is
// free (serialisation) plus the fixed delay (propagation); a direction with more than
// HIGH_WATER bytes in flight pauses its reader, so a fast sender is slowed as TCP would slow it.
import { chmod } from "node:fs/promises";
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

/** A TCP port on 127.0.0.1, or a unix socket path. */
export type Endpoint = number | { path: string };

export interface ThrottleProxy {
  /** `127.0.0.1:PORT`, or the socket path when listening on one. */
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
    readonly delayMs: number,
  ) {}

  /** When `bytes` sent now arrive: after the link is free, their serialisation, and the delay. */
  arrival(bytes: number): number {
    const leaves = Math.max(performance.now(), this.freeAt) + bytes / this.bytesPerMs;
    this.freeAt = leaves;
    return leaves + this.delayMs;
  }
}

/**
 * One connection's bytes in one direction: a FIFO drained by one timer, so pieces arrive in the
 * order they were sent whatever the timers' rounding (one timer per piece can reorder pieces
 * due in the same millisecond, which corrupts the stream), and an end arrives after the data.
 */
class Pipe {
  private readonly queue: Array<{ at: number; piece?: Buffer; done?: () => void }> = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  /** No piece arrives before this time (performance.now()). */
  notBefore = 0;

  constructor(
    private readonly link: Link,
    private readonly src: Socket,
    private readonly dst: Socket,
  ) {}

  send(data: Buffer): void {
    for (let off = 0; off < data.length; off += CHUNK) {
      const piece = data.subarray(off, off + CHUNK);
      this.queue.push({ at: Math.max(this.notBefore, this.link.arrival(piece.length)), piece });
      this.inFlight += piece.length;
    }
    if (this.inFlight > HIGH_WATER) this.src.pause();
    this.pump();
  }

  /** Runs `f` when everything sent so far has arrived. */
  after(f: () => void): void {
    const last = this.queue.at(-1)?.at ?? 0;
    this.queue.push({ at: Math.max(last, performance.now() + this.link.delayMs), done: f });
    this.pump();
  }

  private pump(): void {
    if (this.timer) return;
    const now = performance.now();
    while (this.queue.length && this.queue[0]!.at <= now) {
      const item = this.queue.shift()!;
      if (item.piece) {
        this.inFlight -= item.piece.length;
        if (!this.dst.destroyed) this.dst.write(item.piece);
      }
      item.done?.();
    }
    if (this.inFlight <= HIGH_WATER / 2 && this.src.isPaused()) this.src.resume();
    const next = this.queue[0];
    if (next) {
      this.timer = setTimeout(
        () => {
          this.timer = undefined;
          this.pump();
        },
        Math.max(1, next.at - now),
      );
    }
  }
}

/**
 * A proxy to `upstream` through `link`, listening on a free 127.0.0.1 port, or on the unix
 * socket `listen.path` (mode 0600: a podman API socket must not be open to other users).
 */
export async function startThrottleProxy(
  upstream: Endpoint,
  link: SlowLink,
  listen?: { path: string },
): Promise<ThrottleProxy> {
  const { up, down } = link;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const toServer = new Socket();
    sockets.add(client).add(toServer);
    // The delay is ours to add: Nagle's algorithm on top would hold small writes back further.
    client.setNoDelay(true);
    toServer.setNoDelay(true);
    const toUpstream = new Pipe(up, client, toServer);
    const toClient = new Pipe(down, toServer, client);
    // The connection itself takes a round trip before the first byte, as a TCP handshake would:
    // nothing reaches the server before then (Node buffers writes while it connects).
    toUpstream.notBefore = performance.now() + 2 * up.delayMs;
    if (typeof upstream === "number") toServer.connect(upstream, "127.0.0.1");
    else toServer.connect(upstream.path);
    client.on("data", (b: Buffer) => toUpstream.send(b));
    toServer.on("data", (b: Buffer) => toClient.send(b));
    client.on("end", () => toUpstream.after(() => toServer.end()));
    toServer.on("end", () => toClient.after(() => client.end()));
    const close = () => {
      client.destroy();
      toServer.destroy();
      sockets.delete(client);
      sockets.delete(toServer);
    };
    client.on("error", close);
    toServer.on("error", close);
    client.on("close", () => toUpstream.after(close));
    toServer.on("close", () => toClient.after(close));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if (listen) server.listen(listen.path, () => resolve());
    else server.listen(0, "127.0.0.1", () => resolve());
  });
  if (listen) await chmod(listen.path, 0o600);
  const address = server.address();
  if (!address) throw new Error("throttle proxy has no address");
  return {
    host: typeof address === "string" ? address : `127.0.0.1:${address.port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
