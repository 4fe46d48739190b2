import { redactUrl } from "./redact.ts";

/** One HTTP exchange as `-v/--verbose` prints it. */
export interface HttpLogEntry {
  method: string;
  url: string;
  /** The response status; undefined when the request failed before one came. */
  status?: number;
  error?: string;
  /** From sending the request to the response headers (or the failure). */
  ms: number;
}

/**
 * The per-request hook of -v/--verbose. Undefined unless set, and callers test it before
 * building an entry: a build without -v pays one comparison per request.
 */
export let httpLog: ((e: HttpLogEntry) => void) | undefined;

export function setHttpLog(fn: ((e: HttpLogEntry) => void) | undefined): void {
  httpLog = fn;
}

/** `GET https://user:****@host/v2/x/manifests/latest 200 12 ms`: no password, no query string. */
export function formatHttpLog(e: HttpLogEntry): string {
  const outcome = e.status !== undefined ? String(e.status) : `failed (${e.error ?? "no response"})`;
  return `${e.method} ${redactUrl(e.url)} ${outcome} ${Math.round(e.ms)} ms`;
}
