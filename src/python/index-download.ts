import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { Readable } from "node:stream";
import { ingest } from "../engine/ingest.ts";
import { TugError } from "../errors.ts";
import { redactUrl } from "../util/redact.ts";
import { ownSha256Hex, type Sha256Hex } from "../util/sha256-hex.ts";
import { fetchError } from "./index-http.ts";

export function hashMismatch(what: string, url: string, want: string, got: string): TugError {
  return new TugError({
    what: `${what} does not match the index's sha256 (expected ${want}, got ${got})`,
    where: redactUrl(url),
    hint: "the index or a proxy serves different bytes than it lists; fix or rebuild the index",
  });
}

export interface Download {
  body: Readable;
  dest: string;
  /** "wheel x.whl", for messages. */
  what: string;
  url: string;
  /** The index's sha256: `dest` appears only when the bytes match it. */
  want?: Sha256Hex | undefined;
  max: number;
  /** Content-Length, when the server gave one. */
  announced?: number | undefined;
  /** Told each chunk's size as it arrives (a progress view); absent, nothing is counted. */
  onBytes?: ((bytes: number) => void) | undefined;
}

/** Writes a stream into `dest` atomically and returns its sha256; `dest` appears only when `want` matches. */
export async function download(d: Download): Promise<Sha256Hex> {
  const tooBig = () =>
    new TugError({
      what: `${d.what} is larger than ${Math.round(d.max / 1024 / 1024)} MiB`,
      where: redactUrl(d.url),
      hint: "a Lambda holds 250 MB unpacked, so no wheel this big can be used; the index is broken or hostile",
    });
  if (d.announced !== undefined && d.announced > d.max) {
    d.body.destroy();
    throw tooBig();
  }
  await mkdir(dirname(d.dest), { recursive: true });
  try {
    const digest = await ingest(d.body, {
      dest: d.dest,
      digest: d.want ? `sha256:${d.want}` : undefined,
      max: d.max,
      ...(d.onBytes ? { onBytes: d.onBytes } : {}),
      error: (m) =>
        m.kind === "digest"
          ? hashMismatch(d.what, d.url, d.want ?? "", m.actual.slice("sha256:".length))
          : tooBig(),
    });
    return ownSha256Hex(digest.slice("sha256:".length));
  } catch (err) {
    throw err instanceof TugError ? err : fetchError(d.what, d.url, (err as Error).message, err);
  }
}
