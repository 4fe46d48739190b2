import type { Readable } from "node:stream";
import { TugError } from "../errors.ts";
import { RegistryError } from "../oci/registry/errors.ts";
import { type HttpResponse, type RequestCounts, Transport } from "../oci/registry/transport.ts";
import type { RemoteCache, RemoteTimeouts } from "./remote-cache.ts";

/** A RemoteCache that also reports how many requests it made (for `--explain` and benchmarks). */
export interface CountingRemoteCache extends RemoteCache {
  requestCounts(): RequestCounts;
}

export interface CacheRequest {
  method: "GET" | "HEAD" | "PUT";
  /** Absolute URL without credentials. */
  url: string;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
}

/**
 * The registry client's node:http transport (keep-alive pool per origin, stall detection on
 * sockets, request counts), with a cache's time limits and errors that name the cache server
 * rather than "a registry". Nothing here retries: a cache that fails is skipped by the caller.
 */
export class CacheTransport {
  private readonly transport: Transport;

  constructor(
    /** The server as messages show it, without credentials. */
    readonly server: string,
    private readonly timeouts: RemoteTimeouts,
    connections = 8,
  ) {
    this.transport = new Transport({
      connections,
      timeouts: {
        connectMs: timeouts.connectMs,
        headersMs: timeouts.idleMs,
        bodyIdleMs: timeouts.idleMs,
        uploadIdleMs: timeouts.idleMs,
      },
    });
  }

  async send(req: CacheRequest): Promise<HttpResponse> {
    try {
      return await this.transport.send({ registry: this.server, ...req });
    } catch (e) {
      // An upload's own source failing (a file that vanished, a digest mismatch) is its own error.
      if (e instanceof TugError && !(e instanceof RegistryError)) throw e;
      const code = e instanceof RegistryError ? e.code : undefined;
      throw new TugError({
        what: `remote cache ${this.server}: ${req.method} ${pathOf(req.url)} ${this.reason(code, e)}`,
        hint: "check that the cache server is up and reachable from here",
        cause: e,
      });
    }
  }

  /** The error for an unexpected status; drains the body so the connection is reusable. */
  async readError(req: CacheRequest, res: HttpResponse): Promise<TugError> {
    await res.body.dump().catch(() => {});
    return this.statusError(req, res.statusCode);
  }

  statusError(req: CacheRequest, status: number, detail?: string): TugError {
    const auth = status === 401 || status === 403;
    return new TugError({
      what: `remote cache ${this.server}: ${req.method} ${pathOf(req.url)} answered ${status}${detail ? ` (${detail})` : ""}`,
      hint: auth
        ? "the cache server refused the credentials: check the user and password in the URL, or the token"
        : undefined,
    });
  }

  requestCounts(): RequestCounts {
    return this.transport.requestCounts();
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  private reason(code: string | undefined, e: unknown): string {
    switch (code) {
      case "ECONNREFUSED":
        return "failed: connection refused";
      case "ENOTFOUND":
        return "failed: the host name does not resolve";
      case "TUG_CONNECT_TIMEOUT":
        return `failed: no connection within ${this.timeouts.connectMs} ms`;
      case "TUG_HEADERS_TIMEOUT":
      case "TUG_BODY_TIMEOUT":
      case "TUG_STALLED":
        return `stalled for ${this.timeouts.idleMs} ms`;
      default:
        return `failed (${code ?? (e instanceof Error ? e.message : String(e))})`;
    }
  }
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}
