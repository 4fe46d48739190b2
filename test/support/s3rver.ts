// s3rver (npm), a real S3-compatible server, as a child process per test: its own data
// directory, a free 127.0.0.1 port, buckets made at start, stopped by PID when the test ends.
// s3rver checks the access key, the date and that `x-amz-content-sha256` is present, but not the
// V4 signature itself; put `startSigV4Verifier` in front of it for that.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { TestContext } from "node:test";
import { stopProcess } from "./process.ts";
import { tempDir } from "./tmp.ts";
import { freePort, waitForHttp } from "./tools.ts";

/** The only key pair s3rver knows. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export interface RunningS3rver {
  port: number;
  /** `http://127.0.0.1:PORT`: the endpoint, addressed path-style. */
  url: string;
  stop(): Promise<void>;
}

export async function startS3rver(t: TestContext, opts: { buckets: string[] }): Promise<RunningS3rver> {
  const dir = await tempDir(t, "tug-s3rver-");
  const bin = join(
    dirname(createRequire(import.meta.url).resolve("s3rver/package.json")),
    "bin",
    "s3rver.js",
  );
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    // s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 keeps in its
    // legacy provider: without it, every second page is a 500.
    const args = [
      "--openssl-legacy-provider",
      bin,
      "-d",
      dir,
      "-a",
      "127.0.0.1",
      "-p",
      String(port),
      "--silent",
    ];
    for (const b of opts.buckets) args.push("--configure-bucket", b);
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (c: string) => {
      stderr = (stderr + c).slice(-4000);
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const stop = () => stopProcess(child);
    t.after(stop);
    const url = `http://127.0.0.1:${port}`;
    const ready = await Promise.race([
      waitForHttp(`${url}/`, { timeoutMs: 15_000 }).then(() => true),
      exited.then(() => false),
    ]);
    if (ready) return { port, url, stop };
    if (tries >= 2) throw new Error(`s3rver did not start: ${stderr}`);
  }
}
