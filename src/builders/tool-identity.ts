import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import type { Engine } from "../engine/engine.ts";
import { TugError } from "../errors.ts";

const run = promisify(execFile);

export interface Tool {
  /** Absolute path of the executable found on PATH. */
  path: string;
  /** What the tool says its version is: this, never the path, goes into keys. */
  version: string;
}

/**
 * Finds a tool on PATH and its version. The version is asked once per binary and remembered
 * by (path, size, mtime), so a no-op build does not spawn `go version` on every run.
 */
export async function toolIdentity(
  engine: Engine,
  name: string,
  versionArgs: string[],
  hint: string,
): Promise<Tool> {
  const path = await which(name);
  if (!path) throw new TugError({ what: `${name} is not installed (not found on PATH)`, hint });
  const st = await fs.stat(path);
  const memo = `${path}|${st.size}|${st.mtimeMs}`;
  const known = await engine.store.getRecord<string>("tool", memo);
  if (known) return { path, version: known };
  const { stdout } = await run(path, versionArgs);
  const version = stdout.trim();
  await engine.store.putRecord("tool", memo, version);
  return { path, version };
}

export async function which(name: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      await fs.access(p, fs.constants.X_OK);
      return await fs.realpath(p);
    } catch {
      // not here
    }
  }
  return undefined;
}
