import { createHash } from "node:crypto";
import { promises as fs, realpathSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { TugError } from "../errors.ts";

// Mirrored by bin/server-client.js (plain JS, loaded before the bundle): change both together.

/** `${XDG_RUNTIME_DIR:-/tmp}/tug-UID`: per user, so no one else can reach a server. */
export function socketDir(env: NodeJS.ProcessEnv): string {
  const runtime = env.XDG_RUNTIME_DIR;
  const base = runtime && isAbsolute(runtime) ? runtime : "/tmp";
  return join(base, `tug-${process.getuid?.() ?? 0}`);
}

/** The socket of the server for the project in `dir` (by its real path: symlinks agree). */
export function socketPath(dir: string, env: NodeJS.ProcessEnv): string {
  const real = realpathSync.native(dir);
  const name = createHash("sha256").update(real).digest("hex").slice(0, 32);
  return join(socketDir(env), `${name}.sock`);
}

/**
 * Creates the socket directory (0700) or checks the one there: a directory (not a link) owned by
 * this user that no one else can enter. Anything else could let another user answer our builds.
 */
export async function ensureSocketDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "EEXIST") throw e;
  });
  const st = await fs.lstat(dir);
  const problem = socketDirProblem(st);
  if (problem) {
    throw new TugError({
      what: `the server socket directory ${dir} ${problem}`,
      where: dir,
      hint: "remove it (tug recreates it with mode 0700) or set XDG_RUNTIME_DIR to a private directory",
    });
  }
}

export function socketDirProblem(st: {
  isDirectory(): boolean;
  uid: number;
  mode: number;
}): string | undefined {
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory()) return "is not a directory";
  if (st.uid !== uid) return `is owned by uid ${st.uid}, not ${uid}`;
  if ((st.mode & 0o077) !== 0) return `has mode ${(st.mode & 0o777).toString(8)}, not 700`;
  return undefined;
}
