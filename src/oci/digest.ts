import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";

export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

export function sha256(data: string | Uint8Array): Digest {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export function hexOf(d: Digest): string {
  return d.slice("sha256:".length);
}

/** Hashes a stream to its end, returning digest and byte count. */
export async function digestStream(stream: Readable): Promise<{ digest: Digest; size: number }> {
  const h = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${h.digest("hex")}`, size };
}

export function digestFile(path: string): Promise<{ digest: Digest; size: number }> {
  return digestStream(createReadStream(path, { highWaterMark: 1 << 20 }));
}
