// Runs the independent OCI tools (skopeo, umoci, podman) that check what tug writes.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { promisify } from "node:util";

const exec = promisify(execFile);

export async function run(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { maxBuffer: 64 << 20 });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${err.stderr ?? err.message}`);
  }
}

/** A temp directory removed when the test ends. */
export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "tug-oci-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** podman with private storage under `dir` (vfs, no daemon, no system state touched). */
export function podman(dir: string, args: string[]): Promise<string> {
  return run("podman", [
    "--root",
    join(dir, "root"),
    "--runroot",
    join(dir, "runroot"),
    "--storage-driver",
    "vfs",
    "--runtime",
    "runc",
    "--cgroup-manager=cgroupfs",
    ...args,
  ]);
}
