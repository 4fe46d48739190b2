import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, open, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import type { CliResult } from "./cli.ts";

/** One `error:` line matching `what` (and a `where:` matching `where`), non-zero exit, no stack. */
export function assertOneHostileFsError(
  t: TestContext,
  r: CliResult,
  what: RegExp,
  more: { where?: RegExp } = {},
) {
  t.diagnostic(r.stderr.trimEnd());
  const ctx = `exit ${r.code}\nstderr:\n${r.stderr}`;
  assert.notEqual(r.code, 0, ctx);
  assert.equal(r.signal, null, ctx);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("error: "));
  assert.equal(errors.length, 1, ctx);
  assert.match(errors[0] ?? "", what, ctx);
  assert.doesNotMatch(r.stderr, /^\s+at .+[:(]/m, `stack trace printed\n${ctx}`);
  assert.doesNotMatch(r.stderr, /internal error/, ctx);
  if (more.where) assert.match(r.stderr, new RegExp(`^  where: .*${more.where.source}`, "m"), ctx);
}

/** Every file under `dir` (relative paths, sorted); [] when `dir` does not exist. */
export async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/**
 * Mounts a tmpfs of `size` (e.g. "2m") on `dir` for the test `t`, unmounted in t.after. Needs
 * root (CI runs as root); otherwise the test is skipped with the reason and false is returned.
 */
export async function mountSmallTmpfs(
  t: TestContext,
  dir: string,
  size: string,
  opts: { readOnly?: boolean } = {},
): Promise<boolean> {
  if (process.getuid?.() !== 0) {
    t.skip("mounting a tmpfs needs root (CI runs as root); the full-disk case was not tried here");
    return false;
  }
  await mkdir(dir, { recursive: true });
  await run("mount", ["-t", "tmpfs", "-o", `size=${size}${opts.readOnly ? ",ro" : ""}`, "tmpfs", dir]);
  t.after(() => unmount(dir));
  return true;
}

async function unmount(dir: string): Promise<void> {
  await run("umount", [dir]).catch(() => run("umount", ["-l", dir]).catch(() => undefined));
}

/**
 * A fresh temp directory removed when `t` ends, after unmounting anything mounted under it
 * (t.after hooks run in the order they were added: a plain tempDir would be removed first and
 * fail on the mount point).
 */
export async function tempDirWithMounts(t: TestContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(async () => {
    const mounts = (await readFile("/proc/mounts", "utf8").catch(() => ""))
      .split("\n")
      .map((l) => l.split(" ")[1] ?? "")
      .filter((m) => m.startsWith(`${dir}/`))
      .sort()
      .reverse();
    for (const m of mounts) await unmount(m);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Fills the file system that holds `dir` until a write fails with ENOSPC; returns the filler. */
export async function fillUp(dir: string): Promise<string> {
  const filler = join(dir, "filler");
  const chunk = Buffer.alloc(64 << 10, 1);
  const fh = await open(filler, "w");
  try {
    for (;;) await fh.write(chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
  } finally {
    await fh.close();
  }
  // The last partial chunk may have left a few bytes; a byte at a time takes the rest.
  const tail = await open(filler, "a");
  try {
    for (;;) await tail.write(Buffer.alloc(1, 1));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
  } finally {
    await tail.close();
  }
  return filler;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, _stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(" ")}: ${stderr}`)) : resolve(),
    );
  });
}
