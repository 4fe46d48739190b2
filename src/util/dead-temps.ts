import { createHash, randomBytes } from "node:crypto";
import { readdir, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";

/** Whether a process with this pid exists (a permission error still means it does). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

// This host, in every temp name: a pid only says "dead" about a process of this machine (and
// PID namespace's hostname); temps another host writes into a shared directory are left alone.
const HOST = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);

// Temp names tug writes next to outputs: `….PID.HOSTRAND.tmp`.
const TEMP = /\.(\d+)\.([0-9a-f]{8})[0-9a-f]+\.tmp$/;

/** A temp path next to `path` that sweepDeadTemps can reclaim if this process dies. */
export function tempPathFor(path: string): string {
  return `${path}.${process.pid}.${HOST}${randomBytes(4).toString("hex")}.tmp`;
}

/**
 * Removes the temp files that killed runs left in `dir` (a kill -9 between write and rename
 * leaves one; nothing else would ever reclaim it). Only names made by tempPathFor on this host
 * whose process is gone are touched: a concurrent build's temp files stay.
 */
export async function sweepDeadTemps(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const m = TEMP.exec(name);
    const pid = Number(m?.[1]);
    if (m?.[2] !== HOST || !Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid))
      continue;
    await rm(join(dir, name), { force: true });
  }
}
