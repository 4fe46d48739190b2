import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { type BigIntStats, promises as fs } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import type { GoTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { keyedFile, type SourceFile } from "../engine/source-tree.ts";
import { TugError } from "../errors.ts";
import { writeFileAtomic } from "../util/file-write.ts";
import { checkCgoFallbacks } from "./cgo.ts";
import { goHeaderDigest } from "./file-header.ts";
import {
  type GoInputs,
  goInputsOf,
  isSourceName,
  listJsonFlag,
  moduleFileCandidates,
  outsideRoots,
  parseGoList,
  type WatchedDir,
} from "./packages.ts";

/**
 * What `go list` said last time, valid while every stamp still matches. Machine-local (absolute
 * paths, inode numbers): kept beside the stat cache, never in the shared action cache.
 */
interface ListMemo {
  v: 1;
  files: string[];
  /** path → size:mtime:ctime:ino, or "-" for a path that must stay absent. */
  watch: Record<string, string>;
  /** directory → [stamp, mode, digest of the names that matter]. */
  dirs: Record<string, [string, WatchedDir["names"], string]>;
  /** Go file → goHeaderDigest: a changed stamp with the same header keeps the answer. */
  headers?: Record<string, string>;
}

export interface GoSourcesRequest {
  engine: Engine;
  target: GoTarget;
  /** The go binary and its `go version` line. */
  go: { path: string; version: string };
  /** The build's environment (goBuildEnv): go list must see the same platform, flags and tags. */
  env: NodeJS.ProcessEnv;
  /** Directories inputs may come from: the project (tug.yaml) directory and its git root. */
  roots: string[];
}

/**
 * The files a Go build reads (see goInputsOf), hashed through the stat cache, as a tree relative
 * to the context (`../shared/x.go` for a replaced sibling). `go list` runs only when a stamp
 * recorded at its last run changed, so a no-op build stats files and spawns nothing.
 */
export async function goSources(req: GoSourcesRequest): Promise<SourceFile[]> {
  const memoFile = memoPath(req);
  let memo = await readMemo(memoFile);
  const stats = new Map<string, BigIntStats | undefined>();
  if (!memo || !(await stillValid(memo, stats))) {
    stats.clear();
    const started = Date.now();
    memo = await listInputs(req, stats);
    if (!recentlyModified(memo, stats, started)) await writeFileAtomic(memoFile, JSON.stringify(memo));
  }
  const files = await Promise.all(memo.files.map((abs) => sourceFile(req, abs, stats.get(abs))));
  // Ordered by the key's own (context-relative) paths, never by where the project sits on disk.
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function memoPath(req: GoSourcesRequest): string {
  const { target, env } = req;
  const id = JSON.stringify({
    v: 1,
    context: target.context,
    main: target.main,
    go: req.go.version,
    flags: target.flags,
    tags: target.buildTags,
    // Accepting the non-cgo fallbacks skips a check a memo written before must not skip.
    cgo: target.buildEnv.CGO_ENABLED ?? "",
    env: Object.entries(env)
      .filter(([k]) => k.startsWith("GO") || k === "CGO_ENABLED")
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  });
  const h = createHash("sha256").update(id).digest("hex");
  return join(req.engine.store.root, "go-list", h.slice(0, 2), `${h}.json`);
}

async function readMemo(file: string): Promise<ListMemo | undefined> {
  try {
    const m = JSON.parse(await fs.readFile(file, "utf8")) as ListMemo;
    return m.v === 1 && Array.isArray(m.files) ? m : undefined;
  } catch {
    return undefined;
  }
}

const lstat = (p: string) => fs.lstat(p, { bigint: true }).catch(() => undefined);

function stampOf(st: BigIntStats | undefined): string {
  return st ? `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}` : "-";
}

async function namesDigest(dir: string, mode: WatchedDir["names"]): Promise<string> {
  const names = (await fs.readdir(dir).catch(() => [] as string[])).sort();
  const kept = mode === "all" ? names : names.filter(isSourceName);
  return createHash("sha256").update(kept.join("\0")).digest("hex");
}

/**
 * Whether nothing go list's answer depends on changed. A directory whose mtime moved is read
 * again: a new debug.log next to main.go leaves the Go names, and so the answer, as they were.
 */
async function stillValid(memo: ListMemo, stats: Map<string, BigIntStats | undefined>): Promise<boolean> {
  const paths = Object.keys(memo.watch);
  const fileStats = await Promise.all(paths.map(lstat));
  for (const [i, p] of paths.entries()) {
    if (stampOf(fileStats[i]) !== memo.watch[p]) {
      // A Go file whose imports, constraints and embeds are as they were: only its body changed.
      const header = memo.headers?.[p];
      const text =
        header && fileStats[i]?.isFile() ? await fs.readFile(p, "utf8").catch(() => undefined) : undefined;
      if (text === undefined || goHeaderDigest(text) !== header) return false;
    }
    stats.set(p, fileStats[i]);
  }
  for (const [dir, [stamp, mode, names]] of Object.entries(memo.dirs)) {
    if (stampOf(await lstat(dir)) === stamp) continue;
    if ((await namesDigest(dir, mode)) !== names) return false;
  }
  return true;
}

/** Written only when no watched entry is younger than the run (an edit racing go list). */
function recentlyModified(
  memo: ListMemo,
  stats: Map<string, BigIntStats | undefined>,
  started: number,
): boolean {
  const limit = BigInt(started - 2000) * 1_000_000n;
  return Object.keys(memo.watch).some((p) => (stats.get(p)?.mtimeNs ?? 0n) > limit);
}

function run(go: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(go, args, { cwd, env, maxBuffer: 256 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(stderr.trim() || String(err))) : resolve(stdout),
    ),
  );
}

async function listInputs(
  req: GoSourcesRequest,
  stats: Map<string, BigIntStats | undefined>,
): Promise<ListMemo> {
  const { target, env } = req;
  const failed = (what: string) => (e: unknown) => {
    throw new TugError({ what, where: target.where, hint: e instanceof Error ? e.message : String(e) });
  };
  const args = ["list", "-deps", listJsonFlag(req.go.version), ...target.flags];
  if (target.buildTags.length > 0) args.push(`-tags=${target.buildTags.join(",")}`);
  // Both at once: on a miss the two spawns are the cost of finding what to key.
  const listing = run(req.go.path, [...args, target.main], target.context, env);
  listing.catch(() => {}); // awaited below, after the clearer "no go.mod" check
  const modes = JSON.parse(
    await run(req.go.path, ["env", "-json", "GOMOD", "GOWORK"], target.context, env).catch(
      failed(`go env failed in ${target.context}`),
    ),
  ) as { GOMOD?: string; GOWORK?: string };
  const gomod = modes.GOMOD && modes.GOMOD !== "/dev/null" ? modes.GOMOD : undefined;
  const gowork = modes.GOWORK && modes.GOWORK !== "off" ? modes.GOWORK : undefined;
  if (!gomod && !gowork) {
    throw new TugError({
      what: `no go.mod or go.work for ${target.context}`,
      where: target.where,
      hint: "run `go mod init NAME` in the context, or point `context:` at a module or workspace directory",
    });
  }
  const packages = parseGoList(await listing.catch(failed(`go list failed for ${target.name}`)));
  if (target.buildEnv.CGO_ENABLED !== "0") {
    await checkCgoFallbacks({
      packages,
      listWithCgo: (paths) =>
        run(
          req.go.path,
          [...args, "-e", ...paths].filter((a) => a !== "-deps"),
          target.context,
          {
            ...env,
            CGO_ENABLED: "1",
          },
        ).catch(failed(`go list (cgo on) failed for ${target.name}`)),
      constraints: {
        goos: env.GOOS ?? "",
        goarch: env.GOARCH ?? "",
        tags: [...target.buildTags, ...goflagsTags(env.GOFLAGS)],
        goMinor: goMinorOf(req.go.version),
      },
      target: target.name,
      where: target.where,
    });
  }
  const candidates = moduleFileCandidates(packages, gowork);
  const present = await Promise.all(candidates.map(lstat));
  const inputs = goInputsOf(
    packages,
    candidates.filter((_, i) => present[i]?.isFile()),
  );
  await checkRoots(inputs, req);
  const watch: ListMemo["watch"] = {};
  // Module discovery: a go.mod or go.work appearing in the context or above it changes the answer.
  for (let d = target.context; ; d = dirname(d)) {
    for (const name of ["go.mod", "go.work"]) watch[join(d, name)] = "-";
    if (dirname(d) === d) break;
  }
  for (const p of [...candidates, ...inputs.watchFiles]) watch[p] = "-";
  const paths = Object.keys(watch);
  const fileStats = await Promise.all(paths.map(lstat));
  for (const [i, p] of paths.entries()) {
    watch[p] = stampOf(fileStats[i]);
    stats.set(p, fileStats[i]);
  }
  const dirs: ListMemo["dirs"] = {};
  for (const { dir, names } of inputs.watchDirs) {
    dirs[dir] = [stampOf(await lstat(dir)), names, await namesDigest(dir, names)];
  }
  const headers: Record<string, string> = {};
  for (const p of paths) {
    if (!p.endsWith(".go") || !fileStats[paths.indexOf(p)]?.isFile()) continue;
    const text = await fs.readFile(p, "utf8").catch(() => undefined);
    if (text !== undefined) headers[p] = goHeaderDigest(text);
  }
  return { v: 1, files: inputs.files, watch, dirs, headers };
}

/** The tags a GOFLAGS `-tags=a,b` sets (go build also takes the older space-separated form). */
function goflagsTags(goflags: string | undefined): string[] {
  const flag = (goflags ?? "").split(/\s+/).find((f) => /^--?tags=/.test(f));
  return flag
    ? flag
        .replace(/^--?tags=/, "")
        .split(/[,\s]+/)
        .filter(Boolean)
    : [];
}

function goMinorOf(version: string): number | undefined {
  const m = /\bgo1\.(\d+)/.exec(version);
  return m ? Number(m[1]) : undefined;
}

/** Inputs may live beside the context (a replaced sibling), but not outside the project or its repository. */
async function checkRoots(inputs: GoInputs, req: GoSourcesRequest): Promise<void> {
  const real = await Promise.all(inputs.files.map((p) => fs.realpath(p).catch(() => p)));
  const roots = await Promise.all(req.roots.map((r) => fs.realpath(r).catch(() => r)));
  const outside = outsideRoots(real, roots);
  if (outside === undefined) return;
  throw new TugError({
    what: `${req.target.name} reads ${outside}, outside the project and its git repository`,
    where: req.target.where,
    hint: outside.endsWith(".work")
      ? "a go.work above the project applies to it: move it inside, or set build_env: {GOWORK: off}"
      : "keep replaced modules and go.work members inside the project (the tug.yaml directory) or its git repository",
  });
}

async function sourceFile(
  req: GoSourcesRequest,
  abs: string,
  known: BigIntStats | undefined,
): Promise<SourceFile> {
  const st = known ?? (await lstat(abs));
  if (!st) {
    throw new TugError({
      what: `${abs} disappeared while tug was reading the Go sources`,
      where: req.target.where,
      hint: "something changed the files during the build; run it again",
    });
  }
  return keyedFile(abs, relative(req.target.context, abs).split(sep).join("/"), st, req.engine.statCache);
}

/** The git work tree holding `dir`, if any (a `.git` directory or file). */
export async function gitRootOf(dir: string): Promise<string | undefined> {
  for (let d = dir; ; d = dirname(d)) {
    if (await lstat(join(d, ".git"))) return d;
    if (dirname(d) === d) return undefined;
  }
}
