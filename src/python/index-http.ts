import type { ClientRequest, IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import type { Readable } from "node:stream";
import { TugError } from "../errors.ts";
import { httpLog } from "../util/http-log.ts";
import { httpTimeouts } from "../util/http-timeout.ts";
import { redactUrl } from "../util/redact.ts";

// node:http and node:https load on the first index request: every build loads this module (the
// python builder is registered with the others), and most never ask an index.
const requireBuiltin = createRequire(import.meta.url);
function clientModule(protocol: string): typeof import("node:http") {
  return requireBuiltin(protocol === "https:" ? "node:https" : "node:http");
}

/**
 * One GET against a package index, with the limits an index that does not behave must not
 * escape: connect/headers/idle timeouts and (for small bodies) a whole-request deadline from
 * httpTimeouts(), a body size cap, and a redirect policy. Every error names the host and what was
 * being fetched, with credentials redacted.
 */
export interface IndexGet {
  url: string;
  /** "the index page of numpy", "metadata of x.whl", "wheel x.whl": for messages. */
  what: string;
  accept?: string;
  range?: string;
  /** The body is small (page, metadata, range): the whole request has httpTimeouts().deadlineMs. */
  deadline: boolean;
  /**
   * Follow a redirect to another origin. Only for files whose sha256 the index gave (their bytes
   * are verified after the download), so an index cannot send tug to fetch unverified bytes elsewhere.
   */
  crossOrigin: boolean;
  /** The Authorization header for a URL of the index's own origin, if any. */
  authorization?: (url: URL) => string | undefined;
}

export interface IndexResponse {
  status: number;
  contentType: string | undefined;
  contentLength: number | undefined;
  contentRange: string | undefined;
  body: Readable;
  /** Where the body came from after redirects. */
  url: string;
}

const MAX_REDIRECTS = 5;

export function fetchError(what: string, url: string, why: string, cause?: unknown): TugError {
  const host = safeHost(url);
  const slow = /^(no answer|not finished)/.test(why);
  return new TugError({
    what: `cannot fetch ${what} from ${host}: ${why}`,
    where: redactUrl(url),
    hint: slow
      ? "the index is not answering; check it and the network, or allow longer with --http-timeout / TUG_HTTP_TIMEOUT"
      : "check index_url / extra_index_urls and the network",
    cause,
  });
}

function safeHost(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return redactUrl(url);
  }
}

/** Resolves to the response (2xx, or undefined for 404/410); rejects with one TugError. */
export function indexGet(req: IndexGet): Promise<IndexResponse | undefined> {
  return getFollowing(req, new URL(req.url), 0, Date.now());
}

async function getFollowing(
  req: IndexGet,
  url: URL,
  redirects: number,
  started: number,
): Promise<IndexResponse | undefined> {
  const first = new URL(req.url);
  const res = await getOnce(req, url, started, url.origin === first.origin);
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400 && res.headers.location) {
    res.resume();
    if (redirects >= MAX_REDIRECTS) throw fetchError(req.what, url.href, "too many redirects");
    let next: URL;
    try {
      next = new URL(res.headers.location, url);
    } catch {
      throw fetchError(req.what, url.href, "a redirect to an unparsable location");
    }
    if (next.protocol !== "http:" && next.protocol !== "https:") {
      throw fetchError(req.what, url.href, `refused a redirect to a ${next.protocol} URL`);
    }
    if (next.origin !== first.origin && !req.crossOrigin) {
      throw fetchError(
        req.what,
        url.href,
        `refused a redirect to another host (${next.host}): only files whose sha256 the index lists are fetched from elsewhere`,
      );
    }
    return getFollowing(req, next, redirects + 1, started);
  }
  if (status === 404 || status === 410) {
    res.resume();
    return undefined;
  }
  if (status < 200 || status >= 300) {
    res.resume();
    const auth =
      status === 401 || status === 403 ? " (credentials: the index URL's user:password, or ~/.netrc)" : "";
    throw fetchError(req.what, url.href, `HTTP ${status}${auth}`);
  }
  const length = Number(res.headers["content-length"]);
  return {
    status,
    contentType: res.headers["content-type"],
    contentLength: Number.isSafeInteger(length) && length >= 0 ? length : undefined,
    contentRange: res.headers["content-range"],
    body: res,
    url: url.href,
  };
}

/**
 * One request. Silence (before the connection, the headers or within the body) longer than the
 * timeouts destroys it with an error naming the host; small bodies also have a deadline from
 * the first request on, so a server trickling bytes cannot hold a build either.
 */
function getOnce(req: IndexGet, url: URL, started: number, sameOrigin: boolean): Promise<IncomingMessage> {
  const limits = httpTimeouts();
  const headers: Record<string, string> = {};
  if (req.accept) headers.accept = req.accept;
  if (req.range) headers.range = req.range;
  // Credentials go only to the index's own origin: never across a redirect to another host.
  const auth = sameOrigin ? req.authorization?.(url) : undefined;
  if (auth) headers.authorization = auth;
  const get = clientModule(url.protocol).get;
  return new Promise((resolve, reject) => {
    let request: ClientRequest;
    let response: IncomingMessage | undefined;
    // After the headers, a timeout ends the body with the error (for-await rethrows it).
    // A body already read to its end has nothing left to abort.
    const abort = (err: TugError) => {
      if (response) {
        if (!response.complete && !response.destroyed) response.destroy(err);
      } else if (!request.destroyed) request.destroy(err);
    };
    const timedOut = (phase: string, ms = limits.idleMs) =>
      fetchError(req.what, url.href, `no answer (${phase}) within ${Math.round(ms / 1000)} s`);
    const deadlineLeft = limits.deadlineMs - (Date.now() - started);
    const deadline = req.deadline
      ? setTimeout(
          () => {
            const err = fetchError(
              req.what,
              url.href,
              `not finished within ${Math.round(limits.deadlineMs / 1000)} s`,
            );
            abort(err);
            reject(err);
          },
          Math.max(1, deadlineLeft),
        )
      : undefined;
    deadline?.unref();
    const connect = setTimeout(() => abort(timedOut("connect", limits.connectMs)), limits.connectMs);
    connect.unref();
    const headersTimer = setTimeout(
      () => abort(timedOut("response headers", limits.headersMs)),
      limits.headersMs,
    );
    headersTimer.unref();
    const sent = Date.now();
    request = get(url, { headers }, (res) => {
      clearTimeout(connect);
      clearTimeout(headersTimer);
      httpLog?.({ method: "GET", url: url.href, status: res.statusCode ?? 0, ms: Date.now() - sent });
      response = res;
      res.on("close", () => clearTimeout(deadline));
      resolve(res);
    });
    request.on("socket", (socket) => {
      if (!socket.connecting) clearTimeout(connect);
      else socket.once("connect", () => clearTimeout(connect));
    });
    // Idle: no byte in either direction for idleMs, including within a body being read.
    request.setTimeout(limits.idleMs, () => abort(timedOut("idle")));
    request.on("error", (err) => {
      if (httpLog && !response)
        httpLog({
          method: "GET",
          url: url.href,
          error: (err as NodeJS.ErrnoException).code ?? err.message,
          ms: Date.now() - sent,
        });
      clearTimeout(connect);
      clearTimeout(headersTimer);
      clearTimeout(deadline);
      reject(err instanceof TugError ? err : fetchError(req.what, url.href, err.message, err));
    });
  });
}

/**
 * The body, at most `max` bytes: a larger one (announced or arriving) ends with one error
 * instead of filling memory. A body destroyed by a timeout rejects with that timeout's error.
 */
export async function readLimited(
  body: Readable,
  opts: { max: number; what: string; url: string; announced?: number | undefined },
): Promise<Buffer> {
  const tooBig = () =>
    new TugError({
      what: `${opts.what} is larger than ${formatBytes(opts.max)}`,
      where: redactUrl(opts.url),
      hint: "the index serves more than any real one does; check index_url / extra_index_urls",
    });
  if (opts.announced !== undefined && opts.announced > opts.max) {
    body.destroy();
    throw tooBig();
  }
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const b = chunk as Buffer;
      size += b.length;
      if (size > opts.max) {
        body.destroy();
        throw tooBig();
      }
      parts.push(b);
    }
  } catch (err) {
    if (err instanceof TugError) throw err;
    throw fetchError(opts.what, opts.url, (err as Error).message, err);
  }
  return Buffer.concat(parts);
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round(n / 1024 / 1024)} MiB` : `${Math.round(n / 1024)} KiB`;
}
