import { TugError, type TugErrorFields } from "../../errors.ts";

/** A TugError that also tells the retry loop whether trying again could help. */
export class RegistryError extends TugError {
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly code: string | undefined;
  /** Seconds from a Retry-After header, when the registry sent one. */
  readonly retryAfter: number | undefined;

  constructor(
    fields: TugErrorFields & { retryable?: boolean; status?: number; code?: string; retryAfter?: number },
  ) {
    super(fields);
    this.retryable = fields.retryable ?? false;
    this.status = fields.status;
    this.code = fields.code;
    this.retryAfter = fields.retryAfter;
  }
}

// Codes node (and tug's own timeouts) use for a connection that broke or stalled: worth another try.
const RETRYABLE_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNABORTED",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH",
  "TUG_STALLED",
  "TUG_CONNECT_TIMEOUT",
  "TUG_HEADERS_TIMEOUT",
  "TUG_BODY_TIMEOUT",
  "TUG_DEADLINE",
]);

function errorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur && typeof cur === "object"; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string") return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Turns a transport failure into an actionable error; never includes request headers. */
export function networkError(
  e: unknown,
  opts: { registry: string; method: string; url: string },
): RegistryError {
  if (e instanceof RegistryError) return e;
  const code = errorCode(e) ?? "UNKNOWN";
  const where = `${opts.method} ${redactUrl(opts.url)}`;
  if (code === "ECONNREFUSED") {
    return new RegistryError({
      what: `cannot reach registry ${opts.registry}: connection refused`,
      where,
      hint: "is the registry running, and are host and port right?",
      code,
      cause: e,
    });
  }
  if (code === "ENOTFOUND") {
    return new RegistryError({
      what: `cannot reach registry ${opts.registry}: the host name does not resolve`,
      where,
      hint: "check the registry host in the image reference, and DNS",
      code,
      cause: e,
    });
  }
  if (code.includes("CERT") || code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE") {
    return new RegistryError({
      what: `TLS handshake with registry ${opts.registry} failed (${code})`,
      where,
      hint:
        code === "ERR_TLS_CERT_ALTNAME_INVALID"
          ? `its certificate does not name ${registryHostname(opts.registry)}; reach it by a name the certificate lists`
          : `its certificate is not trusted here; if it comes from a private CA, trust it with NODE_EXTRA_CA_CERTS=/path/to/ca.pem`,
      code,
      cause: e,
    });
  }
  if (code.startsWith("ERR_SSL") || code === "EPROTO") {
    return new RegistryError({
      what: `TLS handshake with registry ${opts.registry} failed (${code})`,
      where,
      hint: `if ${opts.registry} serves plain HTTP, allow it with --insecure-registry ${opts.registry} (insecureRegistries in the API)`,
      code,
      cause: e,
    });
  }
  const retryable = RETRYABLE_CODES.has(code);
  const why =
    code.includes("TIMEOUT") || code === "TUG_STALLED" || code === "TUG_DEADLINE" ? "timed out" : "failed";
  return new RegistryError({
    what: `request to registry ${opts.registry} ${why} (${code})`,
    where,
    hint: retryable
      ? "the connection broke or stalled; try again, or raise --http-timeout (TUG_HTTP_TIMEOUT)"
      : undefined,
    retryable,
    code,
    cause: e,
  });
}

/** Upload URLs carry opaque state (`_state=`), which is not secret but is noise in messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return url;
  }
}

/** `host` of `host:port` (or of `[v6]:port`). */
function registryHostname(registry: string): string {
  return registry.startsWith("[")
    ? registry.slice(0, registry.indexOf("]") + 1)
    : (registry.split(":")[0] ?? registry);
}
