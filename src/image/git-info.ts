import { promises as fs } from "node:fs";
import { dirname, join, resolve } from "node:path";

/**
 * The commit and remote URL of the repository holding `dir`, read from .git directly: a
 * no-op build must not pay for spawning git. Missing pieces are simply left out.
 */
export async function gitInfo(dir: string): Promise<{ revision?: string; source?: string }> {
  const gitDir = await findGitDir(resolve(dir));
  if (!gitDir) return {};
  // A linked worktree's .git/worktrees/NAME holds HEAD; branches, packed-refs and the remote
  // live in the repository's common dir, which its `commondir` file names.
  const commonRel = await fs.readFile(join(gitDir, "commondir"), "utf8").catch(() => undefined);
  const commonDir = commonRel ? resolve(gitDir, commonRel.trim()) : gitDir;
  const out: { revision?: string; source?: string } = {};
  try {
    const head = (await fs.readFile(join(gitDir, "HEAD"), "utf8")).trim();
    if (/^[0-9a-f]{40}$/.test(head)) out.revision = head;
    else if (head.startsWith("ref: ")) {
      const ref = head.slice(5);
      const loose =
        (await fs.readFile(join(gitDir, ref), "utf8").catch(() => undefined)) ??
        (await fs.readFile(join(commonDir, ref), "utf8").catch(() => undefined));
      if (loose) out.revision = loose.trim();
      else {
        const packed = await fs.readFile(join(commonDir, "packed-refs"), "utf8").catch(() => "");
        const line = packed.split("\n").find((l) => l.endsWith(` ${ref}`));
        if (line) out.revision = line.slice(0, 40);
      }
    }
  } catch {
    // not a readable repository
  }
  try {
    const config = await fs.readFile(join(commonDir, "config"), "utf8");
    const m = /\[remote "origin"\][^[]*?url\s*=\s*(\S+)/.exec(config);
    // Credentials embedded in a remote URL must never end up in an image.
    if (m?.[1]) out.source = m[1].replace(/\/\/[^/@]+@/, "//");
  } catch {
    // no config
  }
  return out;
}

async function findGitDir(dir: string): Promise<string | undefined> {
  for (let d = dir; ; d = dirname(d)) {
    const candidate = join(d, ".git");
    const st = await fs.stat(candidate).catch(() => undefined);
    if (st?.isDirectory()) return candidate;
    if (st?.isFile()) {
      const m = /^gitdir:\s*(.+)$/m.exec(await fs.readFile(candidate, "utf8"));
      if (m?.[1]) return resolve(d, m[1].trim());
    }
    if (dirname(d) === d) return undefined;
  }
}
