import { type Readable, Transform } from "node:stream";
import { Agent, type Dispatcher, request } from "undici";
import { TugError } from "../../errors.ts";
import { registryHost } from "../reference.ts";
import { networkError, RegistryError } from "./errors.ts";

export interface Timeouts {
  /** Longest wait for response headers once the request is sent. */
  headersMs: number;
  /** Longest silence inside a response body before the request is abandoned. */
  bodyIdleMs: number;
  /** Longest time an upload body may go without the socket taking more bytes. */
  uploadIdleMs: number;
  connectMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  headersMs: 120_000,
  bodyIdleMs: 60_000,
  uploadIdleMs: 60_000,
  connectMs: 15_000,
};

export interface TransportOptions {
  /** Hosts (`host` or `host:port`) spoken to over plain HTTP. */
  insecureRegistries?: string[];
  timeouts?: Partial<Timeouts>;
  /** Connections kept per registry origin. */
  connections?: number;
  userAgent?: string;
}

export interface HttpRequest {
  registry: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
}

export type HttpResponse = Dispatcher.ResponseData;

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/** Plain HTTP for loopback (as docker does) and for hosts the user marked insecure. */
export function isPlainHttp(registry: string, insecure: readonly string[] = []): boolean {
  const host = registry.startsWith("[")
    ? registry.slice(0, registry.indexOf("]") + 1)
    : registry.split(":")[0];
  if (host !== undefined && LOOPBACK.has(host)) return true;
  return insecure.some((h) => h === registry || h === host);
}

/** Request counts by method; tests and `--explain` read them to prove what a push cost. */
export type RequestCounts = Record<string, number> & { total: number };

/** One keep-alive connection pool per origin, request counting and stall detection. */
export class Transport {
  readonly timeouts: Timeouts;
  private readonly agent: Agent;
  private readonly insecure: string[];
  private readonly userAgent: string;
  private counts: RequestCounts = { total: 0 };

  constructor(opts: TransportOptions = {}) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.insecure = opts.insecureRegistries ?? [];
    this.userAgent = opts.userAgent ?? "tug";
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: opts.connections ?? 16,
      connect: { timeout: this.timeouts.connectMs },
    });
  }

  baseUrl(registry: string): string {
    return `${isPlainHttp(registry, this.insecure) ? "http" : "https"}://${registryHost(registry)}`;
  }

  requestCounts(): RequestCounts {
    return { ...this.counts };
  }

  resetCounts(): void {
    this.counts = { total: 0 };
  }

  async send(req: HttpRequest): Promise<HttpResponse> {
    this.counts.total++;
    this.counts[req.method] = (this.counts[req.method] ?? 0) + 1;
    const body =
      req.body && !Buffer.isBuffer(req.body) ? watchUpload(req.body, this.timeouts.uploadIdleMs) : req.body;
    try {
      return await request(req.url, {
        dispatcher: this.agent,
        method: req.method as Dispatcher.HttpMethod,
        headers: { "user-agent": this.userAgent, ...req.headers },
        body: body ?? null,
        headersTimeout: this.timeouts.headersMs,
        bodyTimeout: this.timeouts.bodyIdleMs,
      });
    } catch (e) {
      if (body && !Buffer.isBuffer(body)) body.destroy();
      // The upload's own source failed (a blob that does not match its digest): that error,
      // not a network one, is what the user must see, and retrying cannot help.
      if (e instanceof TugError && !(e instanceof RegistryError)) throw e;
      throw networkError(e, { registry: req.registry, method: req.method, url: req.url });
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/**
 * undici's timeouts watch responses only; a server that stops reading an upload would leave
 * the request hanging, so the body itself fails when the socket takes nothing for too long.
 */
function watchUpload(source: Readable, idleMs: number): Readable {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const err = Object.assign(new Error(`upload stalled for ${idleMs} ms`), { code: "TUG_STALLED" });
      watched.destroy(err);
      source.destroy();
    }, idleMs);
  };
  const watched = new Transform({
    transform(chunk, _enc, cb) {
      arm();
      cb(null, chunk);
    },
    flush(cb) {
      clearTimeout(timer);
      cb();
    },
    destroy(err, cb) {
      clearTimeout(timer);
      cb(err);
    },
  });
  source.on("error", (e) => watched.destroy(e));
  arm();
  source.pipe(watched);
  return watched;
}
