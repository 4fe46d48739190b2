import { type FSWatcher, promises as fs, watch as fsWatch } from "node:fs";
import { basename, join, relative, sep } from "node:path";
import { globToRegExp } from "../engine/glob.ts";
import { loadContextRules, readIgnoreFile } from "../engine/ignore-files.ts";
import {
  type ContextRules,
  IGNORE_FILE_NAMES,
  type IgnoreSettings,
  loadMatchers,
} from "../engine/ignore-rules.ts";
import { isEditorTemp } from "./editor-temp.ts";

export interface WatchEvent {
  /** Absolute path. */
  path: string;
  deleted: boolean;
}

export interface Watcher {
  close(): Promise<void>;
}

export interface WatchOptions {
  /** Quiet time after the last event before a batch is delivered (editor save storms). */
  debounceMs?: number;
  /** Called on the first event of a batch: latency is measured from here, not from its delivery. */
  onFirstEvent?(): void;
  onBatch(events: WatchEvent[]): void | Promise<void>;
  onError?(e: Error): void;
  /**
   * The root is an image context: paths its ignore files exclude are not watched and not
   * reported, exactly the files its builds leave out. Edits of the ignore files themselves are
   * always reported (they change which files are inputs) and reload the rules.
   */
  ignoreFiles?: IgnoreSettings;
}

const ALWAYS_IGNORED = ["**/.git", "**/node_modules", "**/.tug"];

/**
 * Recursive native watching: one inotify watch per directory (node's fs.watch), set up by a walk
 * that reads directories only and never stats files, so start-up costs O(directories), well
 * under a second on a 100k-file tree (bench/watcher-start.ts; @parcel/watcher, which stats every
 * file up front, took seconds there). .git, node_modules, .tug and the root .gitignore's
 * patterns are skipped at walk time (no watch at all); bursts (editor save storms) coalesce into
 * one batch per quiet period; directories created later are watched as they appear.
 */
export async function watch(root: string, opts: WatchOptions): Promise<Watcher> {
  const always = ALWAYS_IGNORED.map(globToRegExp);
  const legacy = opts.ignoreFiles ? [] : (await gitignorePatterns(root)).map(globToRegExp);
  let rules: ContextRules | undefined = opts.ignoreFiles
    ? await loadContextRules(root, opts.ignoreFiles)
    : undefined;
  const ignored = (abs: string, isDir: boolean) => {
    const rel = relative(root, abs).split(sep).join("/");
    if (rel === "" || always.some((re) => re.test(rel))) return rel !== "";
    if (rules && !isDir && IGNORE_FILE_NAMES.has(basename(rel))) return false;
    return legacy.some((re) => re.test(rel)) || (rules?.excludes(rel, isDir) ?? false);
  };
  /** An ignore file changed: read the rules again and watch directories they no longer exclude. */
  const reloadRules = async (abs: string) => {
    if (!opts.ignoreFiles) return;
    const dir = relative(root, join(abs, "..")).split(sep).join("/");
    rules = await loadContextRules(root, opts.ignoreFiles);
    if (opts.ignoreFiles.git) {
      const text = await readIgnoreFile(join(root, dir, ".gitignore"));
      if (text !== undefined) await loadMatchers();
      rules.setGitignore(dir, text);
    }
    await watchDir(root, false, true);
  };
  const debounceMs = opts.debounceMs ?? 25;
  const watchers = new Map<string, FSWatcher>();
  let pending = new Map<string, WatchEvent>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  // Paths seen to exist (from the walk's readdir or a later batch): a path that is gone now is a
  // deletion only if it was known; one never seen is an editor's temp file, created and removed.
  const known = new Set<string>();
  const knownDirs = new Set<string>();
  const forget = (path: string) => {
    known.delete(path);
    if (!knownDirs.has(path)) return;
    for (const set of [known, knownDirs])
      for (const k of set) if (k === path || k.startsWith(path + sep)) set.delete(k);
  };
  const settle = async (paths: string[]): Promise<WatchEvent[]> => {
    const out: WatchEvent[] = [];
    for (const path of paths) {
      const exists = await fs.lstat(path).then(
        () => true,
        () => false,
      );
      if (exists) known.add(path);
      else if (known.has(path)) forget(path);
      else continue;
      out.push({ path, deleted: !exists });
    }
    return out;
  };
  const flush = () => {
    timer = undefined;
    const paths = [...pending.keys()];
    pending = new Map();
    if (paths.length === 0) return;
    settle(paths)
      .then((batch) => (batch.length > 0 && !closed ? opts.onBatch(batch) : undefined))
      .catch((e: Error) => opts.onError?.(e));
  };
  const record = (path: string) => {
    if (closed || ignored(path, false) || isEditorTemp(basename(path))) return;
    if (rules && IGNORE_FILE_NAMES.has(basename(path)))
      reloadRules(path).catch((e: Error) => opts.onError?.(e));
    if (pending.size === 0) opts.onFirstEvent?.();
    // Existence is decided when the batch settles: an event says "look here", not what happened.
    pending.set(path, { path, deleted: false });
    if (timer) clearTimeout(timer);
    timer = setTimeout(flush, debounceMs);
  };

  const watchDir = async (dir: string, announce: boolean, again = false): Promise<void> => {
    if (closed || (watchers.has(dir) && !again) || ignored(dir, true)) return;
    const fresh = !watchers.has(dir);
    if (fresh && !startWatch(dir)) return;
    knownDirs.add(dir);
    // After new ignore rules, the files of a directory they stopped excluding are changes too.
    const report = announce || (again && fresh);
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    if (rules && opts.ignoreFiles?.git && entries.some((e) => e.name === ".gitignore")) {
      const rel = relative(root, dir).split(sep).join("/");
      const text = await readIgnoreFile(join(dir, ".gitignore"));
      if (text !== undefined) await loadMatchers();
      rules.setGitignore(rel, text);
    }
    await Promise.all(
      entries.map((e) => {
        const path = join(dir, e.name);
        known.add(path);
        if (e.isDirectory()) return watchDir(path, report, again);
        if (isEditorTemp(e.name)) return undefined;
        if (report) record(path);
        return undefined;
      }),
    );
  };
  /** One native watch on `dir`; false when it vanished before it could be watched. */
  const startWatch = (dir: string): boolean => {
    let w: FSWatcher;
    try {
      w = fsWatch(dir, (_type, name) => {
        if (!name) return;
        const path = join(dir, name.toString());
        record(path);
        // A new directory (or one moved in) gets its own watch, and its files count as changes.
        fs.stat(path).then(
          (st) => (st.isDirectory() ? watchDir(path, true) : undefined),
          () => unwatchUnder(path),
        );
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw e;
    }
    w.on("error", (e) => {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") opts.onError?.(e);
    });
    watchers.set(dir, w);
    return true;
  };
  const unwatchUnder = (path: string) => {
    for (const [dir, w] of watchers) {
      if (dir === path || dir.startsWith(path + sep)) {
        w.close();
        watchers.delete(dir);
      }
    }
  };

  await watchDir(root, false);
  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}

/** Without `ignoreFiles` (lambda sources): the root .gitignore as globs, without negations. */
async function gitignorePatterns(root: string): Promise<string[]> {
  const text = await fs.readFile(join(root, ".gitignore"), "utf8").catch(() => "");
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("!")) continue;
    const p = line.replace(/\/$/, "");
    out.push(p.startsWith("/") ? p.slice(1) : p.includes("/") ? p : `**/${p}`);
  }
  return out;
}

export function relativeTo(root: string, abs: string): string | undefined {
  const rel = relative(root, abs);
  if (rel.startsWith("..") || rel === "") return undefined;
  return rel.split(sep).join("/");
}
