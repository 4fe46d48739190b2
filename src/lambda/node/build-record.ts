import { readFile, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { hexOf, sha256 } from "../../oci/digest.ts";
import { listingHash, type OutputRecord } from "../output-record.ts";

// A file modified this close to (or after) the bundle started may have changed after esbuild
// read it, within the same timestamp tick: such a build is not recorded (the "racy git" problem).
const RACY_MS = 50;

const CONFIG_FILES = ["package.json", "tsconfig.json", "jsconfig.json"];

/**
 * Paths whose change can change the bundle, besides the bundled files themselves: the directory
 * of each (a new file there can shadow an import: `x.ts` beside `x.js`), the package.json and
 * tsconfig.json files esbuild consults from there up to the project, the lockfile, and the
 * project's node_modules (a new native package changes what is left out of the bundle).
 */
export function watchedPaths(inputs: string[], projectDir: string, extra: string[] = []): string[] {
  const paths = new Set<string>([
    ...inputs,
    ...extra,
    join(projectDir, "package-lock.json"),
    join(projectDir, "node_modules"),
  ]);
  const visited = new Set<string>();
  for (const input of inputs) {
    let dir = dirname(input);
    paths.add(dir);
    const inside = !relative(projectDir, dir).startsWith("..");
    for (;;) {
      if (visited.has(dir)) break;
      visited.add(dir);
      for (const f of CONFIG_FILES) paths.add(join(dir, f));
      if (!inside || dir === projectDir || dirname(dir) === dir) break;
      dir = dirname(dir);
    }
  }
  return [...paths].sort();
}

/**
 * What a Node lambda's output record holds about its inputs, in the shape every lambda record
 * has (output-record.ts): each watched file by the sha256 of its content, each watched directory
 * by its listing, each missing path as a probe (creating it is a change). `since` is the wall
 * clock when the bundle started; a path modified after it was maybe edited while esbuild read it,
 * and then the build is not recordable: the next one bundles again instead of trusting it.
 */
export async function recordedInputs(
  paths: string[],
  since: number,
): Promise<{ inputs: Pick<OutputRecord, "files" | "probes" | "dirs">; recordable: boolean }> {
  const files: Record<string, string> = {};
  const probes: OutputRecord["probes"] = {};
  const dirs: Record<string, string> = {};
  let recordable = true;
  await Promise.all(
    paths.map(async (path) => {
      const st = await stat(path).catch(() => undefined);
      if (!st) probes[path] = "none";
      else if (st.isDirectory()) {
        const listing = await listingHash(path);
        if (listing) dirs[path] = listing;
      } else if (st.isFile()) {
        const data = await readFile(path).catch(() => undefined);
        if (data) files[path] = hexOf(sha256(data));
        else probes[path] = "none";
      }
      const after = await stat(path).catch(() => undefined);
      if ((after?.mtimeMs ?? 0) >= since - RACY_MS || (st?.mtimeMs ?? 0) >= since - RACY_MS)
        recordable = false;
    }),
  );
  const sorted = <T>(o: Record<string, T>) =>
    Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { inputs: { files: sorted(files), probes: sorted(probes), dirs: sorted(dirs) }, recordable };
}
