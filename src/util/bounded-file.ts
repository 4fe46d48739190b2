import { open } from "node:fs/promises";
import { TugError } from "../errors.ts";

/** 1 MiB written as people read it in messages. */
export function formatBytes(n: number): string {
  const one = (x: number) => x.toFixed(1).replace(/\.0$/, "");
  if (n >= 1 << 20) return `${one(n / (1 << 20))} MiB`;
  if (n >= 1 << 10) return `${one(n / (1 << 10))} KiB`;
  return `${n} bytes`;
}

function tooBigError(o: {
  what: string;
  path: string;
  bytes: number | undefined;
  maxBytes: number;
}): TugError {
  const size = o.bytes === undefined ? "more than" : `${formatBytes(o.bytes)}, more than`;
  return new TugError({
    what: `${o.what} is too big (${size} the ${formatBytes(o.maxBytes)} tug reads)`,
    where: o.path,
    hint: `a ${o.what} this size is not one tug can use; check that ${o.path} is the file you meant`,
  });
}

/**
 * Reads a file from the user's tree, refusing one bigger than `maxBytes` with one clear error
 * instead of reading it whole (a 50 MB tug.yaml, /dev/zero behind a symlink, a FIFO that never
 * ends). The size is checked on the open descriptor and again while reading, so a file that
 * grows after the check is still bounded. Errors opening the file (ENOENT, …) are the caller's.
 */
export async function readBoundedFile(
  path: string,
  maxBytes: number,
  what: string,
  opts: { shownPath?: string } = {},
): Promise<Buffer> {
  const shown = opts.shownPath ?? path;
  const fh = await open(path, "r");
  try {
    const st = await fh.stat();
    if (st.isFile() && st.size > maxBytes) throw tooBigError({ what, path: shown, bytes: st.size, maxBytes });
    const chunks: Buffer[] = [];
    let total = 0;
    // One byte more than allowed tells "exactly maxBytes" from "more".
    const buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, 1 << 20));
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, maxBytes + 1 - total), null);
      if (bytesRead === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, bytesRead)));
      total += bytesRead;
      if (total > maxBytes) throw tooBigError({ what, path: shown, bytes: undefined, maxBytes });
    }
    return Buffer.concat(chunks, total);
  } finally {
    await fh.close();
  }
}
