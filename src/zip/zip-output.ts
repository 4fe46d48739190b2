import { createHash, type Hash } from "node:crypto";
import { constants, createWriteStream } from "node:fs";
import { copyFile, type FileHandle, open, rename, rm, stat, truncate } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Writable } from "node:stream";
import { tempPathFor } from "../util/dead-temps.ts";
import { ioError } from "../util/io-error.ts";
import { fileIdentity } from "./zip-reuse.ts";

const HIGH_WATER = 4 << 20;

export function tmpPathFor(out: string): string {
  return tempPathFor(join(dirname(out), `.${basename(out)}`));
}

/** The sha256 of the first `bytes` bytes of a file (open, or at a path). */
async function hashHead(from: FileHandle | string, bytes: number): Promise<Hash> {
  const hash = createHash("sha256");
  await readHead(from, bytes, (chunk) => {
    hash.update(chunk);
  });
  return hash;
}

/** Reads the first `bytes` bytes of a file in chunks (the same buffer each time) through `use`. */
async function readHead(
  from: FileHandle | string,
  bytes: number,
  use: (chunk: Buffer) => void | Promise<void>,
): Promise<void> {
  const fh = typeof from === "string" ? await open(from, "r") : from;
  try {
    const buf = Buffer.allocUnsafe(Math.min(HIGH_WATER, Math.max(bytes, 1)));
    for (let pos = 0; pos < bytes; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, bytes - pos), pos);
      if (bytesRead === 0) throw new Error(`the zip to copy from is shorter than the ${bytes} bytes to keep`);
      await use(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  } finally {
    if (typeof from === "string") await fh.close();
  }
}

/** Writes the first `bytes` bytes of an open file to `to` through JS (when no kernel copy can be trusted). */
async function copyHead(from: FileHandle, to: string, bytes: number): Promise<void> {
  const out = await open(to, "w");
  try {
    let at = 0;
    await readHead(from, bytes, async (chunk) => {
      for (let done = 0; done < chunk.length; ) {
        const { bytesWritten } = await out.write(chunk, done, chunk.length - done, at);
        done += bytesWritten;
        at += bytesWritten;
      }
    });
  } finally {
    await out.close();
  }
}

/** Where a zip's leading bytes are copied from: a path, and the file as it was checked. */
export interface HeadSource {
  path: string;
  bytes: number;
  /** fileIdentity of the file that was checked. */
  identity: string;
  /** That file, still open: the head can be copied from it even if the path was replaced. */
  file?: FileHandle;
}

/** A head copy started before the zip is written (zip-head.ts); the output that uses it takes it. */
export interface BegunCopy {
  tmp: string;
  /** The copy's sha256 (undefined when the caller keeps it), or undefined when it must not be used. */
  done: Promise<{ hash: Hash | undefined; copied: number } | undefined>;
  taken: boolean;
}

/**
 * Copies the first `base.bytes` bytes of `base` to `tmp` (a new file) and hashes them unless
 * `known` is given. Undefined when the path no longer names the checked file and there is no open
 * one to copy from: the caller then writes from scratch. On failure `tmp` may be left: remove it.
 */
export async function copyAndHash(
  base: HeadSource,
  tmp: string,
  known?: Hash,
): Promise<{ hash: Hash | undefined; copied: number } | undefined> {
  const { bytes } = base;
  // Both settle before a failure is reported: the copy must not still be writing `tmp`
  // when the caller removes it.
  const [copied, hashed] = await Promise.allSettled([
    // A reflink where the file system has them (btrfs, XFS, APFS), else an in-kernel copy.
    // The whole file: Node has no length for it. The old tail is written over, and whatever of it
    // is left past the new end is cut once the zip is complete (often nothing is).
    copyFile(base.path, tmp, constants.COPYFILE_FICLONE),
    known ? undefined : hashHead(base.file ?? base.path, bytes),
  ]);
  if (copied.status === "rejected" && !base.file) throw copied.reason;
  if (hashed.status === "rejected") throw hashed.reason;
  let hash = hashed.value;
  // Copy and hash read the path; if another build replaced the file since it was checked,
  // neither can be trusted: the caller writes the zip from scratch, or the head is copied
  // from the file that was checked, still open.
  const same =
    copied.status === "fulfilled" &&
    (await stat(base.path, { bigint: true }).then(
      (st) => fileIdentity(st) === base.identity,
      () => false,
    ));
  if (!same) {
    await rm(tmp, { force: true });
    if (!base.file) return undefined;
    await copyHead(base.file, tmp, bytes);
    // A kept hash was of the file at the path; the open one is what is copied now.
    if (known) hash = await hashHead(base.file, bytes);
    return { hash, copied: bytes };
  }
  // The identity holds the size of the file that was copied.
  return { hash, copied: Number(base.identity.split(":")[1]) };
}

/**
 * Where the zip goes: counts and hashes every byte and honours backpressure. A path is written
 * through a temporary sibling renamed into place, so a failed build never leaves a partial zip.
 */
export class ZipOutput {
  offset = 0;
  /** How long the temporary file already was (a copied zip): what is past the end is cut. */
  private copied = 0;
  private failure: Error | undefined;

  private constructor(
    private readonly stream: Writable,
    private readonly tmp: string | undefined,
    private readonly target: string | undefined,
    private readonly hash: Hash = createHash("sha256"),
  ) {
    stream.on("error", (err: Error) => {
      this.failure ??= this.described(err);
    });
  }

  /** A full disk or a failing device, said once with the zip's path; other errors unchanged. */
  private described(err: unknown): Error {
    const e = this.target ? ioError(err, { path: this.target, writing: "the zip" }) : err;
    return e instanceof Error ? e : new Error(String(e));
  }

  static open(out: Writable | string): ZipOutput {
    if (typeof out !== "string") return new ZipOutput(out, undefined, undefined);
    const tmp = tmpPathFor(out);
    return new ZipOutput(createWriteStream(tmp, { highWaterMark: HIGH_WATER }), tmp, out);
  }

  /**
   * An output that starts as the first `bytes` bytes of the zip at `base` (copied in the kernel,
   * not through JS) and continues at that offset: an edit to the last entries of a big zip then
   * writes only those. The head is read once more to carry the sha256 over it, unless the caller
   * kept that hash. When `base.file` is the zip opened beforehand, the hash reads it, and if the
   * path no longer names that file once copied (another build replaced it), the head is copied
   * from it through JS instead; without it, that case answers undefined (write from scratch).
   * A copy begun earlier (`base.begun`, zip-head.ts) is taken over instead of made here.
   */
  static async resume(
    out: string,
    base: HeadSource & { begun?: BegunCopy },
    headHash?: Hash,
  ): Promise<ZipOutput | undefined> {
    const begun = base.begun && !base.begun.taken ? base.begun : undefined;
    if (begun) begun.taken = true;
    const tmp = begun?.tmp ?? tmpPathFor(out);
    try {
      const copied = await (begun?.done ?? copyAndHash(base, tmp, headHash));
      if (!copied) {
        await rm(tmp, { force: true });
        return undefined;
      }
      const hash = copied.hash ?? headHash ?? (await hashHead(base.file ?? base.path, base.bytes));
      const stream = createWriteStream(tmp, { flags: "r+", start: base.bytes, highWaterMark: HIGH_WATER });
      const output = new ZipOutput(stream, tmp, out, hash);
      output.offset = base.bytes;
      output.copied = copied.copied;
      return output;
    } catch (err) {
      await rm(tmp, { force: true });
      throw ioError(err, { path: out, writing: "the zip" });
    }
  }

  /** The sha256 of everything written so far, as a hash that can be continued (for `resume`). */
  hashSoFar(): Hash {
    return this.hash.copy();
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    this.hash.update(chunk);
    this.offset += chunk.length;
    if (!this.stream.write(chunk)) await this.drained();
  }

  private drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        this.stream.off("drain", onDrain).off("error", done).off("close", onClose);
        if (err) reject(this.described(err));
        else resolve();
      };
      const onDrain = () => done();
      const onClose = () => done(this.failure ?? new Error("zip output closed while writing"));
      this.stream.on("drain", onDrain).on("error", done).on("close", onClose);
    });
  }

  /** Ends the stream (renaming a file into place) and returns the sha256 of everything written. */
  async finish(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.stream.once("error", (err) => reject(this.described(err)));
      // A file is renamed only once its descriptor is closed; a caller's stream ends at "finish".
      if (this.tmp) this.stream.once("close", resolve).end();
      else this.stream.end(resolve);
    });
    if (this.failure) throw this.failure;
    if (this.tmp && this.target) {
      try {
        if (this.copied > this.offset) await truncate(this.tmp, this.offset);
        await rename(this.tmp, this.target);
      } catch (err) {
        throw this.described(err);
      }
    }
    return this.hash.digest("hex");
  }

  /** Tears the output down after a failure; a temporary file is removed. */
  async abort(err: Error): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      if (this.stream.closed) resolve();
      else this.stream.once("close", () => resolve());
    });
    this.stream.destroy(err);
    // A file stream may still be opening; removing the file before it closes could leave it behind.
    if (this.tmp) {
      await closed;
      await rm(this.tmp, { force: true });
    }
  }
}
