import { stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { nodeSchema } from "../builders/node-schema.ts";
import { TugError } from "../errors.ts";
import { readBoundedFile } from "../util/bounded-file.ts";
import { parseBase } from "./base.ts";
import { displayPath } from "./find.ts";
import { hostPlatform } from "./platform.ts";
import type { ImageTarget, Project, TargetCommon } from "./types.ts";

/** Where a zero-config files image puts the directory's contents. */
export const ZERO_CONFIG_FILES_DEST = "/app";

/** Entry points tried, in order, when package.json has no usable `main`. */
export const NODE_ENTRY_CANDIDATES = [
  "src/index.ts",
  "index.js",
  "src/server.ts",
  "src/index.js",
  "index.ts",
  "server.js",
];

async function exists(p: string, kind: "file" | "dir"): Promise<boolean> {
  const s = await stat(p).catch(() => undefined);
  return kind === "file" ? (s?.isFile() ?? false) : (s?.isDirectory() ?? false);
}

/** An image name from a directory name: lowercase, [a-z0-9._-], starting alphanumeric. */
export function imageNameFor(dirName: string): string {
  const name = dirName
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .replace(/[._-]+$/, "");
  return name || "app";
}

/** A file `scripts.start` runs with node (`node server.js`, `node --x dist/main.js`), if any. */
function startScriptEntry(start: unknown): string | undefined {
  if (typeof start !== "string") return undefined;
  const m = /^\s*(?:node|tsx|ts-node)\s+(?:-\S+\s+)*([^\s&|;]+\.(?:[cm]?js|[cm]?ts))\b/.exec(start);
  return m?.[1];
}

/**
 * The file that starts a Node.js app in `dir`: package.json `main`, its `bin` (the one command,
 * or the first), what `scripts.start` runs, else the first of NODE_ENTRY_CANDIDATES that exists.
 */
export async function nodeEntry(dir: string): Promise<string> {
  const pkgFile = join(dir, "package.json");
  let pkg: { main?: unknown; bin?: unknown; scripts?: { start?: unknown } };
  try {
    const text = (await readBoundedFile(pkgFile, 1 << 20, "package.json")).toString("utf8");
    const parsed: unknown = JSON.parse(text);
    pkg = typeof parsed === "object" && parsed !== null ? (parsed as typeof pkg) : {};
  } catch (cause) {
    if (cause instanceof TugError) throw cause;
    throw new TugError({
      what: "package.json is not valid JSON",
      where: displayPath(pkgFile),
      hint: "fix package.json, or write a tug.yaml that names the entry",
      cause,
    });
  }
  const main = pkg.main;
  const bin =
    typeof pkg.bin === "string"
      ? pkg.bin
      : typeof pkg.bin === "object" && pkg.bin !== null
        ? Object.values(pkg.bin).find((v): v is string => typeof v === "string")
        : undefined;
  const declared = [main, bin, startScriptEntry(pkg.scripts?.start)]
    .filter((v): v is string => typeof v === "string" && v !== "")
    .map((v) => v.replace(/^\.\//, ""));
  for (const c of [...declared, ...NODE_ENTRY_CANDIDATES]) if (await exists(join(dir, c), "file")) return c;
  throw new TugError({
    what: `cannot tell which file starts this Node.js app${typeof main === "string" && main ? ` (package.json main ${main} does not exist)` : ""}`,
    where: displayPath(pkgFile),
    hint: `set "main" in package.json, create one of ${NODE_ENTRY_CANDIDATES.join(", ")}, or write a tug.yaml with builder: node and entry:`,
  });
}

/**
 * A project for a directory without tug.yaml: one image named after the directory, built by
 * go when there is go.mod, by node when there is package.json, else as files under /app.
 */
export async function detectProject(dir: string): Promise<Project> {
  const abs = resolve(dir);
  if (!(await exists(abs, "dir"))) {
    throw new TugError({ what: `directory ${displayPath(abs)} does not exist`, where: displayPath(abs) });
  }
  const name = imageNameFor(basename(abs));
  const common = (found: string): TargetCommon => ({
    name,
    where: `${displayPath(abs) || "."} (no tug.yaml; ${found})`,
    context: abs,
    base: { kind: "scratch" },
    platforms: [hostPlatform()],
    env: {},
    ports: [],
    labels: {},
    annotations: {},
    tags: ["latest"],
  });

  let target: ImageTarget;
  if (await exists(join(abs, "go.mod"), "file")) {
    target = {
      ...common("found go.mod"),
      builder: "go",
      main: ".",
      ldflags: [],
      binary: name,
      flags: [],
      buildTags: [],
      buildEnv: {},
    };
  } else if (await exists(join(abs, "package.json"), "file")) {
    const entry = await nodeEntry(abs);
    target = {
      ...common("found package.json"),
      base: parseBase(nodeSchema.defaultBase ?? "scratch", abs),
      builder: "node",
      entry,
      external: [],
      node: "20",
      bundle: true,
    };
  } else {
    target = {
      ...common("no go.mod or package.json: copying files"),
      builder: "files",
      dest: ZERO_CONFIG_FILES_DEST,
    };
  }
  return { file: undefined, dir: abs, targets: [target] };
}
