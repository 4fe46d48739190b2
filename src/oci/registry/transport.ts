import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { type Readable, Transform } from "node:stream";
import { TugError } from "../../errors.ts";
import { httpLog } from "../../util/http-log.ts";
import { httpTimeouts } from "../../util/http-timeout.ts";
import { registryHost } from "../reference.ts";
import { tooLarge } from "../size-limits.ts";
import { networkError, RegistryError } from "./errors.ts";

export interface Timeouts {
  /** Longest wait for response headers once the request is sent. */
  headersMs: number;
  /** Longest silence inside a response body before the request is abandoned. */
  bodyIdleMs: number;
  /** Longest time an upload body may go without the socket taking more bytes. */
  uploadIdleMs: number;
  connectMs: number;
  /** Whole-exchange limit for responses read whole (manifests, tokens, errors), headers included. */
  deadlineMs: number;
}

/** From --http-timeout / TUG_HTTP_TIMEOUT (60 s by default), so a silent registry never hangs a build. */
export function defaultTimeouts(): Timeouts {
  const t = httpTimeouts();
  return {
    headersMs: t.headersMs,
    bodyIdleMs: t.idleMs,
    uploadIdleMs: t.idleMs,
    connectMs: t.connectMs,
    deadlineMs: t.deadlineMs,
  };
}

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

/** A response body: the stream itself, plus the few ways callers consume it whole. */
export interface ResponseBody extends Readable {
  /** Reads and discards the rest, so the connection can be reused. */
  dump(): Promise<void>;
  /**
   * The whole body, refused when it is larger than `limit` (by Content-Length before reading,
   * and by counting, for a length that lies or is absent) or takes longer than the deadline.
   */
  bytes(limit: BodyLimit): Promise<Buffer>;
  text(limit?: BodyLimit): Promise<string>;
  json(limit?: BodyLimit): Promise<unknown>;
  arrayBuffer(limit?: BodyLimit): Promise<ArrayBuffer>;
}

/** How much of a body may be read whole, and what to call it when it is too much. */
export interface BodyLimit {
  maxBytes: number;
  /** "manifest app:latest": the subject of the too-large error. */
  what: string;
  where: string;
}

const DUMP_MAX_BYTES = 64 * 1024;

const DEFAULT_BODY_LIMIT: BodyLimit = {
  maxBytes: 4 * 1024 * 1024,
  what: "a registry response",
  where: "registry",
};

export interface HttpResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: ResponseBody;
}

/**
 * One keep-alive connection pool per origin, request counting and stall detection, on
 * node:http. (undici costs 60-90 ms just to load, a third of an edit-to-push; node's own client
 * is already in memory.)
 */
export class Transport {
  readonly timeouts: Timeouts;
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;
  private readonly insecure: string[];
  private readonly userAgent: string;
  private counts: RequestCounts = { total: 0 };

  constructor(opts: TransportOptions = {}) {
    this.timeouts = { ...defaultTimeouts(), ...opts.timeouts };
    this.insecure = opts.insecureRegistries ?? [];
    this.userAgent = opts.userAgent ?? "tug";
    const agentOpts = { keepAlive: true, keepAliveMsecs: 30_000, maxSockets: opts.connections ?? 16 };
    this.http = new HttpAgent(agentOpts);
    this.https = new HttpsAgent(agentOpts);
  }

  baseUrl(registry: string): string {
    return `${isPlainHttp(registry, this.insecure) ? "http" : "https"}://${registryHost(registry)}`;
  }

  /** Whether credentials may travel to `host` (`host` or `host:port`) over plain HTTP. */
  allowsPlainHttp(host: string): boolean {
    return isPlainHttp(host, this.insecure);
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
      return await this.exchange(req, body);
    } catch (e) {
      if (body && !Buffer.isBuffer(body)) body.destroy();
      // The upload's own source failed (a blob that does not match its digest): that error,
      // not a network one, is what the user must see, and retrying cannot help.
      if (e instanceof TugError && !(e instanceof RegistryError)) throw e;
      throw networkError(e, { registry: req.registry, method: req.method, url: req.url });
    }
  }

  private exchange(req: HttpRequest, body: Buffer | Readable | undefined): Promise<HttpResponse> {
    const url = new URL(req.url);
    const secure = url.protocol === "https:";
    const headers: Record<string, string> = { "user-agent": this.userAgent, ...req.headers };
    if (Buffer.isBuffer(body)) headers["content-length"] = String(body.length);
    else if (!body && req.method !== "GET" && req.method !== "HEAD") headers["content-length"] ??= "0";
    const started = Date.now();
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(headersTimer);
        outgoing.destroy();
        reject(e);
      };
      const outgoing = (secure ? httpsRequest : httpRequest)(url, {
        method: req.method,
        headers,
        agent: secure ? this.https : this.http,
      });
      const connectTimer = setTimeout(
        () => fail(timeoutError("TUG_CONNECT_TIMEOUT", "connect")),
        this.timeouts.connectMs,
      );
      outgoing.once("socket", (socket) => {
        if (!socket.connecting) clearTimeout(connectTimer);
        else socket.once("connect", () => clearTimeout(connectTimer));
      });
      const headersTimer = setTimeout(
        () => fail(timeoutError("TUG_HEADERS_TIMEOUT", "response headers")),
        this.timeouts.headersMs,
      );
      outgoing.once("error", (e) => {
        clearTimeout(connectTimer);
        if (httpLog && !settled)
          httpLog({ method: req.method, url: req.url, error: errorCode(e), ms: Date.now() - started });
        fail(e);
      });
      outgoing.once("response", (res) => {
        clearTimeout(connectTimer);
        clearTimeout(headersTimer);
        httpLog?.({
          method: req.method,
          url: req.url,
          status: res.statusCode ?? 0,
          ms: Date.now() - started,
        });
        if (settled) {
          res.destroy();
          return;
        }
        settled = true;
        resolve({
          statusCode: res.statusCode ?? 0,
          headers: res.headers,
          body: responseBody(
            res,
            this.timeouts.bodyIdleMs,
            this.timeouts.deadlineMs - (Date.now() - started),
          ),
        });
      });
      if (Buffer.isBuffer(body)) outgoing.end(body);
      else if (body) {
        body.once("error", (e) => fail(e));
        body.pipe(outgoing);
      } else outgoing.end();
    });
  }

  async close(): Promise<void> {
    this.http.destroy();
    this.https.destroy();
  }
}

function errorCode(e: Error): string {
  return (e as NodeJS.ErrnoException).code ?? e.message;
}

function timeoutError(code: string, what: string): Error {
  return Object.assign(new Error(`timed out waiting for ${what}`), { code });
}

/**
 * Adds the consume-whole helpers, and fails the body when its socket goes quiet for `idleMs`.
 * Whole reads also end at the exchange's deadline: a registry trickling a byte a second must
 * not hold a manifest fetch for hours.
 */
function responseBody(res: IncomingMessage, idleMs: number, remainingMs: number): ResponseBody {
  // A socket timeout, not a 'data' listener: that would switch the body into flowing mode
  // and lose whatever arrives before the caller starts reading.
  const socket = res.socket;
  const onIdle = () => res.destroy(timeoutError("TUG_BODY_TIMEOUT", "the response body"));
  socket.setTimeout(idleMs, onIdle);
  const release = () => {
    socket.setTimeout(0);
    socket.off("timeout", onIdle);
  };
  res.once("end", release);
  res.once("close", release);
  const collect = async (limit: BodyLimit): Promise<Buffer> => {
    const declared = Number(res.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit.maxBytes) {
      res.destroy();
      throw tooLarge(limit.what, limit.maxBytes, limit.where, declared);
    }
    const deadline = setTimeout(
      () => res.destroy(timeoutError("TUG_DEADLINE", "the whole response")),
      Math.max(remainingMs, 1),
    );
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of res) {
        size += (c as Buffer).length;
        if (size > limit.maxBytes) {
          res.destroy();
          throw tooLarge(limit.what, limit.maxBytes, limit.where);
        }
        chunks.push(c as Buffer);
      }
      return Buffer.concat(chunks);
    } finally {
      clearTimeout(deadline);
    }
  };
  return Object.assign(res, {
    dump: async () => {
      if (res.readableEnded || res.destroyed) return;
      // A short body is drained so the connection can be reused; an endless one is cut off.
      let drained = 0;
      res.on("data", (c: Buffer) => {
        drained += c.length;
        if (drained > DUMP_MAX_BYTES) res.destroy();
      });
      res.resume();
      await new Promise<void>((r) => {
        res.once("end", r);
        res.once("close", r);
      });
    },
    bytes: collect,
    text: async (limit = DEFAULT_BODY_LIMIT) => (await collect(limit)).toString("utf8"),
    json: async (limit = DEFAULT_BODY_LIMIT): Promise<unknown> =>
      JSON.parse((await collect(limit)).toString("utf8")),
    arrayBuffer: async (limit = DEFAULT_BODY_LIMIT) => {
      const b = await collect(limit);
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    },
  });
}

/**
 * Response timeouts watch responses only; a server that stops reading an upload would leave
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
