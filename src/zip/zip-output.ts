import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Writable } from "node:stream";

/**
 * Where the zip goes: counts and hashes every byte and honours backpressure. A path is written
 * through a temporary sibling renamed into place, so a failed build never leaves a partial zip.
 */
export class ZipOutput {
  offset = 0;
  private readonly hash = createHash("sha256");
  private failure: Error | undefined;

  private constructor(
    private readonly stream: Writable,
    private readonly tmp: string | undefined,
    private readonly target: string | undefined,
  ) {
    stream.on("error", (err: Error) => {
      this.failure ??= err;
    });
  }

  static open(out: Writable | string): ZipOutput {
    if (typeof out !== "string") return new ZipOutput(out, undefined, undefined);
    const tmp = join(dirname(out), `.${basename(out)}.${randomBytes(6).toString("hex")}.tmp`);
    return new ZipOutput(createWriteStream(tmp, { highWaterMark: 4 << 20 }), tmp, out);
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
        if (err) reject(err);
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
      this.stream.once("error", reject);
      // A file is renamed only once its descriptor is closed; a caller's stream ends at "finish".
      if (this.tmp) this.stream.once("close", resolve).end();
      else this.stream.end(resolve);
    });
    if (this.failure) throw this.failure;
    if (this.tmp && this.target) await rename(this.tmp, this.target);
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
