import { promises as fs } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Per-key inter-process lock (O_EXCL lock file holding the owner's pid). It is not needed for
 * correctness, since every cache write is an atomic rename, but it stops two concurrent builds
 * from doing the same expensive action twice: the second waits, then finds the first's record.
 * A lock whose owner is dead (kill -9) is taken over.
 */
export async function withKeyLock<T>(root: string, key: string, fn: () => Promise<T>): Promise<T> {
  const path = join(root, "locks", `${key}.lock`);
  await fs.mkdir(dirname(path), { recursive: true });
  let delay = 5;
  for (;;) {
    try {
      const fh = await fs.open(path, "wx");
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      if (await ownerIsDead(path)) {
        await fs.rm(path, { force: true });
        continue;
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 100);
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(path, { force: true });
  }
}

async function ownerIsDead(path: string): Promise<boolean> {
  let pid: number;
  try {
    pid = Number.parseInt(await fs.readFile(path, "utf8"), 10);
  } catch {
    return false; // being written or just removed: try again
  }
  if (!Number.isFinite(pid) || pid <= 0) {
    // An empty file left by a process killed between open and write.
    const st = await fs.stat(path).catch(() => undefined);
    return st !== undefined && Date.now() - st.mtimeMs > 2000;
  }
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}
