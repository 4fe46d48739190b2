// Reproducibility: the same sources give the same image digests whatever the checkout looks like
// on disk (path, mtimes, permission bits other than exec, creation order) and whatever the
// building process's time zone, umask and cache.
import assert from "node:assert/strict";
import { chmod, mkdir, readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { ArtifactReport } from "../../src/index.ts";
import { makeBusyboxBase } from "../support/bases.ts";
import { runTugJson } from "../support/cli.ts";
import { tempDir } from "../support/tmp.ts";

const DEMO = fileURLToPath(new URL("../../examples/demo", import.meta.url));
const PARTS = ["hello", "web", "public"];

interface SourceFile {
  rel: string;
  data: Buffer;
  exec: boolean;
}

async function sources(): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile()) {
        const exec = ((await stat(full)).mode & 0o111) !== 0;
        out.push({ rel: relative(DEMO, full), data: await readFile(full), exec });
      }
    }
  };
  for (const p of PARTS) await walk(join(DEMO, p));
  return out.sort((a, b) => (a.rel < b.rel ? -1 : 1));
}

interface CloneStyle {
  /** Files are created in this order. */
  reverse: boolean;
  /** Permission bits for non-executable files and for directories (exec bits kept as they are). */
  fileMode: number;
  dirMode: number;
  /** mtime (and atime) of file number i. */
  mtime: (i: number) => Date;
}

/** Writes the demo parts into `dir` in the given style; directories get their mode and mtime last. */
async function clone(dir: string, files: SourceFile[], style: CloneStyle, yaml: string): Promise<void> {
  const ordered = style.reverse ? [...files].reverse() : files;
  const dirs = new Set<string>();
  for (const f of ordered) {
    const path = join(dir, f.rel);
    await mkdir(dirname(path), { recursive: true });
    for (let d = dirname(path); d !== dir; d = dirname(d)) dirs.add(d);
    await writeFile(path, f.data);
    await chmod(path, f.exec ? style.fileMode | 0o111 : style.fileMode);
  }
  await writeFile(join(dir, "tug.yaml"), yaml);
  let i = 0;
  for (const f of ordered) {
    const t = style.mtime(i++);
    await utimes(join(dir, f.rel), t, t);
  }
  for (const d of [...dirs].sort().reverse()) {
    await chmod(d, style.dirMode);
    const t = style.mtime(i++);
    await utimes(d, t, t);
  }
}

interface BuildJson {
  artifacts: ArtifactReport[];
}

/** `tug build` in a child process with `umask` in effect (it is inherited at spawn time). */
function buildWith(dir: string, env: NodeJS.ProcessEnv, umask: number): Promise<BuildJson> {
  const old = process.umask(umask);
  try {
    // runTugJson spawns synchronously, before its first await, so the child gets `umask`.
    return runTugJson<BuildJson>(["build", "-q"], { cwd: dir, env: { ...env, TUG_REPO: undefined } });
  } finally {
    process.umask(old);
  }
}

test("two differently made clones built differently give identical digests", async (t) => {
  const busybox = await makeBusyboxBase(join(await tempDir(t, "tug-repro-busybox-"), "layout"));
  const yaml = `images:
  hello:
    builder: go
    context: ./hello
    base: scratch
  web:
    builder: node
    context: ./web
    entry: src/server.ts
    base: scratch
    entrypoint_check: false # never run here; a node image on scratch cannot start
    env: { PORT: "8080" }
    ports: [8080]
  site:
    builder: files
    context: ./public
    dest: /srv/www
    base: oci-layout:${busybox.layout}:latest
`;
  const files = await sources();
  const [a, b] = [await tempDir(t, "tug-repro-a-"), await tempDir(t, "tug-repro-bb-")];
  await clone(a, files, { reverse: false, fileMode: 0o644, dirMode: 0o755, mtime: () => new Date(0) }, yaml);
  await clone(
    b,
    files,
    {
      reverse: true,
      fileMode: 0o600,
      dirMode: 0o700,
      mtime: (i) => new Date(Date.UTC(2031, 4, 17, 13, 7, i)),
    },
    yaml,
  );
  const [cacheA, cacheB] = [await tempDir(t, "tug-repro-cache-"), await tempDir(t, "tug-repro-cache-")];
  const [ra, rb] = await Promise.all([
    buildWith(a, { TZ: "UTC", TUG_CACHE: cacheA }, 0o022),
    buildWith(b, { TZ: "Pacific/Kiritimati", TUG_CACHE: cacheB }, 0o077),
  ]);
  const digests = (r: BuildJson) =>
    Object.fromEntries(r.artifacts.map((x) => [x.target, x.digest]).sort(([x], [y]) => (x! < y! ? -1 : 1)));
  assert.deepEqual(Object.keys(digests(ra)), ["hello", "site", "web"]);
  assert.ok(ra.artifacts.every((x) => !x.cached) && rb.artifacts.every((x) => !x.cached));
  assert.deepEqual(digests(rb), digests(ra));
});
