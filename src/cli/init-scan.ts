import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { imageNameFor, nodeEntry } from "../config/detect.ts";

/** One project `tug init` found below the working directory. */
export type Detected =
  | { kind: "go"; name: string; dir: string }
  | { kind: "node"; name: string; dir: string; entry: string }
  | { kind: "python-lambda"; name: string; dir: string; handler: string }
  | { kind: "python-service"; name: string; dir: string; module: string; requirements?: string }
  | { kind: "files"; name: string; dir: string };

// Never projects of their own, and often huge: dependencies, VCS data, tug's outputs.
const SKIP = new Set(["node_modules", ".git", ".tug", "vendor", "__pycache__", ".venv", "venv", "dist"]);
const MAX_DEPTH = 4;
const MAX_DIRS = 2000;
const MAX_PY_FILES = 200;
const HANDLER = /^def\s+(\w+)\s*\(\s*event\s*,\s*context\s*\)/m;

/** `dir` relative to `root`, '/'-separated; "." for the root itself. */
function rel(root: string, dir: string): string {
  return relative(root, dir).split("\\").join("/") || ".";
}

/**
 * The projects below `root`, shallowest first: a directory with go.mod, package.json or a
 * Python project file is one project and is not searched further. Directories the root's
 * .gitignore/.dockerignore/.tugignore exclude are skipped. Nothing found: one files image of root.
 */
export async function scanProjects(root: string): Promise<Detected[]> {
  const ignored = await rootIgnore(root);
  const found: Detected[] = [];
  const names = new Set<string>();
  const unique = (dirName: string) => {
    const base = imageNameFor(dirName);
    let name = base;
    for (let i = 2; names.has(name); i++) name = `${base}-${i}`;
    names.add(name);
    return name;
  };
  let queue = [root];
  let seen = 0;
  for (let depth = 0; depth <= MAX_DEPTH && queue.length > 0; depth++) {
    const next: string[] = [];
    for (const dir of queue) {
      if (++seen > MAX_DIRS) break;
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      const files = new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
      const dirName = dir === root ? (root.split("/").pop() ?? "app") : (dir.split("/").pop() ?? "app");
      const project = await detectOne(dir, files, root);
      if (project) {
        found.push({ ...project, name: unique(dirName) } as Detected);
        continue;
      }
      for (const e of entries) {
        if (!e.isDirectory() || SKIP.has(e.name) || e.name.startsWith(".")) continue;
        const child = join(dir, e.name);
        if (ignored(`${rel(root, child)}/`)) continue;
        next.push(child);
      }
    }
    queue = next.sort();
  }
  if (found.length === 0)
    found.push({ kind: "files", name: unique(root.split("/").pop() ?? "app"), dir: "." });
  return found;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Unnamed = DistributiveOmit<Detected, "name">;

async function detectOne(dir: string, files: Set<string>, root: string): Promise<Unnamed | undefined> {
  const at = rel(root, dir);
  if (files.has("go.mod")) return { kind: "go", dir: at };
  if (files.has("package.json")) {
    const entry = await nodeEntry(dir).catch(() => undefined);
    return entry ? { kind: "node", dir: at, entry } : undefined;
  }
  if (!files.has("pyproject.toml") && !files.has("requirements.txt")) return undefined;
  const py = [...files].filter((f) => f.endsWith(".py")).sort();
  for (const f of py.slice(0, MAX_PY_FILES)) {
    const text = await readFile(join(dir, f), "utf8").catch(() => "");
    const m = HANDLER.exec(text.slice(0, 1 << 20));
    if (m) return { kind: "python-lambda", dir: at, handler: `${at === "." ? "" : `${at}/`}${f}:${m[1]}` };
  }
  const requirements = files.has("requirements.txt") ? { requirements: "requirements.txt" } : {};
  for (const f of ["app.py", "main.py", "server.py"]) {
    if (files.has(f)) return { kind: "python-service", dir: at, module: f.slice(0, -3), ...requirements };
  }
  // A package with __main__.py: `python3 -m PACKAGE`.
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries
    .filter((x) => x.isDirectory() && !SKIP.has(x.name))
    .sort((a, b) => a.name.localeCompare(b.name))) {
    const inner = await readdir(join(dir, e.name)).catch(() => [] as string[]);
    if (inner.includes("__main__.py") && /^[A-Za-z_]\w*$/.test(e.name))
      return { kind: "python-service", dir: at, module: e.name, ...requirements };
  }
  return undefined;
}

/** A matcher for the root's ignore files (gitignore syntax is close enough for directories). */
async function rootIgnore(root: string): Promise<(path: string) => boolean> {
  const texts = await Promise.all(
    [".gitignore", ".dockerignore", ".tugignore"].map((n) => readFile(join(root, n), "utf8").catch(() => "")),
  );
  const lines = texts
    .join("\n")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  if (lines.length === 0) return () => false;
  const ig = (await import("ignore")).default().add(lines);
  return (path) => ig.ignores(path);
}
