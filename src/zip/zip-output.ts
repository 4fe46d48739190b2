import { createHash, type Hash } from "node:crypto";
import { constants, createWriteStream } from "node:fs";
import { copyFile, open, rename, rm, stat, truncate } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Writable } from "node:stream";
import { tempPathFor } from "../util/dead-temps.ts";
import { ioError } from "../util/io-error.ts";
import { fileIdentity } from "./zip-reuse.ts";

const HIGH_WATER = 4 << 20;

function tmpPathFor(out: string): string {
  return tempPathFor(join(dirname(out), `.${basename(out)}`));
}

async function hashHead(path: string, bytes: number): Promise<Hash> {
  const hash = createHash("sha256");
  const fh = await open(path, "r");
  try {
    const buf = Buffer.allocUnsafe(HIGH_WATER);
    for (let pos = 0; pos < bytes; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, bytes - pos), pos);
      if (bytesRead === 0) throw new Error(`${path} is shorter than the ${bytes} bytes to keep`);
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return hash;
  } finally {
    await fh.close();
  }
}

/**
 * Where the zip goes: counts and hashes every byte and honours backpressure. A path is written
 * through a temporary sibling renamed into place, so a failed build never leaves a partial zip.
 */
export class ZipOutput {
  offset = 0;
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
   * writes only those. The head is read once more to carry the sha256 over it.
   */
  static async resume(
    out: string,
    base: { path: string; bytes: number; identity: string },
    headHash?: Hash,
  ): Promise<ZipOutput | undefined> {
    const tmp = tmpPathFor(out);
    const { bytes } = base;
    try {
      // Both settle before a failure is reported: the copy must not still be writing `tmp`
      // when the cleanup below removes it.
      const [copied, hashed] = await Promise.allSettled([
        // A reflink where the file system has them (btrfs, XFS, APFS), else an in-kernel copy.
        copyFile(base.path, tmp, constants.COPYFILE_FICLONE).then(() => truncate(tmp, bytes)),
        headHash ?? hashHead(base.path, bytes),
      ]);
      if (copied.status === "rejected") throw copied.reason;
      if (hashed.status === "rejected") throw hashed.reason;
      const hash = hashed.value;
      // Copy and hash read the path; if another build replaced the file since it was checked,
      // neither can be trusted: the caller writes the zip from scratch.
      if (fileIdentity(await stat(base.path, { bigint: true })) !== base.identity) {
        await rm(tmp, { force: true });
        return undefined;
      }
      const stream = createWriteStream(tmp, { flags: "r+", start: bytes, highWaterMark: HIGH_WATER });
      const output = new ZipOutput(stream, tmp, out, hash);
      output.offset = bytes;
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
