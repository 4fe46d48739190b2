import { TugError } from "../errors.ts";

/**
 * How long any network operation (an index page, a wheel, a registry request, a remote-cache
 * request, a token) may take before tug gives up with an error naming host and operation.
 * `--http-timeout SECONDS` or TUG_HTTP_TIMEOUT; 60 s by default, so a silent server never hangs
 * a build. Connect and idle limits derive from it; large downloads are bounded by idle time
 * (bytes must keep flowing), small requests by the whole deadline.
 */
export interface HttpTimeouts {
  connectMs: number;
  /** Longest wait for response headers. */
  headersMs: number;
  /** Longest silence within a body (download or upload). */
  idleMs: number;
  /** Whole-operation deadline for requests whose bodies are small (pages, manifests, tokens, records). */
  deadlineMs: number;
}

const DEFAULT_SECONDS = 60;

export function parseHttpTimeoutSeconds(raw: string, where: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 86_400) {
    throw new TugError({
      what: `bad HTTP timeout ${JSON.stringify(raw)}`,
      where,
      hint: "give seconds, a number above 0 (e.g. --http-timeout 30)",
    });
  }
  return n;
}

let override: number | undefined;

/** Set by the CLI's --http-timeout; wins over TUG_HTTP_TIMEOUT. */
export function setHttpTimeoutSeconds(seconds: number | undefined): void {
  override = seconds;
}

export function httpTimeouts(): HttpTimeouts {
  const env = process.env.TUG_HTTP_TIMEOUT;
  const seconds =
    override ??
    (env !== undefined && env !== "" ? parseHttpTimeoutSeconds(env, "TUG_HTTP_TIMEOUT") : DEFAULT_SECONDS);
  const ms = Math.round(seconds * 1000);
  return {
    connectMs: Math.min(ms, 15_000),
    headersMs: ms,
    idleMs: ms,
    deadlineMs: ms,
  };
}
