import { readdir, rm } from "node:fs/promises";
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

// Temp names tug writes next to outputs: `….PID.HEX.tmp`.
const TEMP = /\.(\d+)\.[0-9a-f]+\.tmp$/;

/**
 * Removes the temp files that killed runs left in `dir` (a kill -9 between write and rename
 * leaves one; nothing else would ever reclaim it). Only names of the form `….PID.HEX.tmp` whose
 * process is gone are touched: a concurrent build's temp files stay.
 */
export async function sweepDeadTemps(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const pid = Number(TEMP.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid)) continue;
    await rm(join(dir, name), { force: true });
  }
}
