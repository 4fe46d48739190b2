import { stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { TugError } from "../errors.ts";
import { readBoundedFile } from "../util/bounded-file.ts";
import { defaultBase, parseBase } from "./base.ts";
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

async function nodeEntry(dir: string): Promise<string> {
  const pkgFile = join(dir, "package.json");
  let main: unknown;
  try {
    const text = (await readBoundedFile(pkgFile, 1 << 20, "package.json")).toString("utf8");
    main = (JSON.parse(text) as { main?: unknown }).main;
  } catch (cause) {
    if (cause instanceof TugError) throw cause;
    throw new TugError({
      what: "package.json is not valid JSON",
      where: displayPath(pkgFile),
      hint: "fix package.json, or write a tug.yaml that names the entry",
      cause,
    });
  }
  const candidates =
    typeof main === "string" && main
      ? [main.replace(/^\.\//, ""), ...NODE_ENTRY_CANDIDATES]
      : NODE_ENTRY_CANDIDATES;
  for (const c of candidates) if (await exists(join(dir, c), "file")) return c;
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
      base: parseBase(defaultBase("node"), abs),
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
