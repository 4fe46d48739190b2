import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
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
