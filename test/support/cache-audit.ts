// Checks the invariants tug's cache promises after any run, successful or not: no half-written
// files, and no record that points at a blob the cache does not hold.
import { createHash } from "node:crypto";
import { createReadStream, type Dirent } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";

export interface CacheAuditOptions {
  /** Also hash every blob under blobs/sha256 (slower; catches corruption). Default true. */
  hashBlobs?: boolean;
  /** Allow leftovers in tmp/ (a process was killed on purpose). */
  allowTemp?: boolean;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

/** sha256 of a file, as `sha256:HEX`. */
export async function hashFile(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return `sha256:${h.digest("hex")}`;
}

/**
 * Problems found in the cache at `root`, as readable strings; empty when it is sound:
 * - nothing in tmp/ (a writer that failed must remove its temp file) unless `allowTemp`;
 * - no lock files in locks/ (every lock is released, also on failure);
 * - no `*.tmp` siblings of records under ac/;
 * - every `desc` and `diff` record names a blob that exists, with the recorded size;
 * - with `hashBlobs`, every blob hashes to its file name.
 */
export async function auditCache(root: string, opts: CacheAuditOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  if (!opts.allowTemp) {
    for (const f of await filesUnder(join(root, "tmp")))
      problems.push(`temp file left: ${relative(root, f)}`);
  }
  for (const f of await filesUnder(join(root, "locks"))) problems.push(`lock left: ${relative(root, f)}`);
  for (const f of await filesUnder(join(root, "ac"))) {
    if (f.endsWith(".tmp")) {
      problems.push(`record temp file left: ${relative(root, f)}`);
      continue;
    }
    const kind = relative(join(root, "ac"), f).split("/")[0];
    if (kind !== "desc" && kind !== "diff") continue;
    let value: { digest?: string; size?: number };
    try {
      value = (JSON.parse(await readFile(f, "utf8")) as { value: { digest?: string; size?: number } }).value;
    } catch {
      problems.push(`unreadable record: ${relative(root, f)}`);
      continue;
    }
    const hex = value.digest?.replace(/^sha256:/, "") ?? "";
    const size = await stat(join(root, "blobs", "sha256", hex)).then(
      (s) => s.size,
      () => undefined,
    );
    if (size === undefined)
      problems.push(`${kind} record ${relative(root, f)} names missing blob ${value.digest}`);
    else if (size !== value.size)
      problems.push(
        `${kind} record ${relative(root, f)}: blob ${value.digest} has ${size} bytes, not ${value.size}`,
      );
  }
  if (opts.hashBlobs !== false) {
    for (const f of await filesUnder(join(root, "blobs", "sha256"))) {
      const name = f.slice(f.lastIndexOf("/") + 1);
      if (!/^[0-9a-f]{64}$/.test(name)) {
        problems.push(`stray file among blobs: ${relative(root, f)}`);
        continue;
      }
      const got = await hashFile(f);
      if (got !== `sha256:${name}`) problems.push(`blob ${name} hashes to ${got}`);
    }
  }
  return problems;
}

/**
 * Problems in an OCI layout written by tug (e.g. `.tug/out/oci`): temp files, blobs that do not
 * hash to their names, and index.json entries naming a manifest whose blobs are missing.
 */
export async function auditLayout(dir: string): Promise<string[]> {
  const problems: string[] = [];
  const blobDir = join(dir, "blobs", "sha256");
  for (const f of await filesUnder(dir)) {
    const name = f.slice(f.lastIndexOf("/") + 1);
    if (name.includes(".tmp")) problems.push(`temp file left: ${relative(dir, f)}`);
  }
  const present = new Set<string>();
  for (const f of await filesUnder(blobDir)) {
    const name = f.slice(f.lastIndexOf("/") + 1);
    if (!/^[0-9a-f]{64}$/.test(name)) continue;
    present.add(`sha256:${name}`);
    const got = await hashFile(f);
    if (got !== `sha256:${name}`) problems.push(`layout blob ${name} hashes to ${got}`);
  }
  let index: { manifests?: Array<{ digest: string }> };
  try {
    index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as typeof index;
  } catch {
    return problems; // no layout at all is not a half-written one
  }
  const check = async (digest: string): Promise<void> => {
    if (!present.has(digest)) {
      problems.push(`index.json names ${digest}, which is not in the layout`);
      return;
    }
    const m = JSON.parse(await readFile(join(blobDir, digest.slice(7)), "utf8")) as {
      config?: { digest: string };
      layers?: Array<{ digest: string }>;
      manifests?: Array<{ digest: string }>;
    };
    for (const d of [...(m.config ? [m.config] : []), ...(m.layers ?? [])]) {
      if (!present.has(d.digest)) problems.push(`manifest ${digest} names missing blob ${d.digest}`);
    }
    for (const child of m.manifests ?? []) await check(child.digest);
  };
  for (const m of index.manifests ?? []) await check(m.digest);
  return problems;
}
