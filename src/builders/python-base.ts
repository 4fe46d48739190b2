import { posix } from "node:path";
import type { Engine } from "../engine/engine.ts";
import { imageFileTables } from "../engine/image-files.ts";
import { envPath } from "../image/entrypoint-check.ts";
import { findExecutable, type LayerFileTable, mergeFileTables, resolveInImage } from "../oci/file-table.ts";
import { readLayerFile } from "../oci/layer-file.ts";
import type { Image, Platform } from "../oci/types.ts";

/** What a base image says of its CPython, read from its layers and config (never run). */
export interface BaseInterpreter {
  /** The `python3` on the base's PATH, after symlinks. */
  executable: string;
  python: readonly [number, number];
  /** "3.12.4" when the base says so: PYTHON_VERSION (official images) or dpkg's pythonX.Y-minimal. */
  fullVersion?: string;
  /** "2.36" from libc.so.6's own version string; "musl" for Alpine-style bases. */
  libc?: { kind: "glibc"; version: string } | { kind: "musl" };
  /**
   * The directory whose `.pth` files the base's `site` module reads at startup (siteDirOf): the
   * image puts one there so that /app/site-packages is a site directory, as a pip install's is.
   */
  siteDir: string;
}

const RECORD_KIND = "base-python";
const MAX_LIBC = 32 << 20;
const MAX_DPKG_STATUS = 16 << 20;

function isBaseInterpreter(v: unknown): v is BaseInterpreter {
  if (typeof v !== "object" || v === null) return false;
  const b = v as Record<string, unknown>;
  return (
    typeof b.executable === "string" &&
    Array.isArray(b.python) &&
    b.python.length === 2 &&
    b.python.every((n) => Number.isSafeInteger(n)) &&
    // A record from before siteDir was read is a miss: the base is read again once.
    typeof b.siteDir === "string" &&
    b.siteDir.startsWith("/") &&
    (b.fullVersion === undefined ||
      (typeof b.fullVersion === "string" && /^3\.\d+\.\d+$/.test(b.fullVersion)))
  );
}

/**
 * Reads the base's CPython (version from the executable's name or its stdlib directory, patch
 * from PYTHON_VERSION or dpkg) and libc (from libc.so.6's bytes). Cached per base config digest;
 * undefined when the base has no `python3` on its PATH.
 */
export async function baseInterpreter(
  engine: Engine,
  image: Image,
  where: string,
): Promise<BaseInterpreter | undefined> {
  const configDigest = (await image.manifest()).config.digest;
  const known = await engine.store.getRecord(RECORD_KIND, configDigest, isBaseInterpreter);
  if (known) return known;
  const config = (await image.config()).config ?? {};
  const { tables } = await imageFileTables(engine, image, where);
  const fs = mergeFileTables(tables);
  const { resolution } = findExecutable(fs, "python3", { path: envPath(config.Env), workdir: "/" });
  if (!("found" in resolution)) return undefined;
  const executable = resolution.found;
  const python = versionOfExecutable(executable) ?? versionOfStdlib(fs, executable);
  if (!python) return undefined;
  const layers = await image.layers();
  const readTop = async (path: string, maxBytes: number): Promise<Buffer | undefined> => {
    const i = topmostLayerWith(tables, path);
    return i === undefined ? undefined : readLayerFile(layers[i]!, path, { maxBytes, where });
  };
  const fullVersion =
    envVersion(config.Env, python) ??
    dpkgVersion(await readTop("/var/lib/dpkg/status", MAX_DPKG_STATUS), python);
  const libc = await libcOf(fs, readTop);
  const found: BaseInterpreter = {
    executable,
    python,
    siteDir: siteDirOf(fs, executable, python),
    ...(fullVersion ? { fullVersion } : {}),
    ...(libc ? { libc } : {}),
  };
  await engine.store.putRecord(RECORD_KIND, configDigest, found);
  return found;
}

/**
 * Where `site` looks for `.pth` files in this base: Debian's python3 (its patched site.py) reads
 * PREFIX/lib/python3/dist-packages and never PREFIX/lib/pythonX.Y/site-packages; a CPython built
 * from source (python:X.Y images, pyenv, Fedora) reads PREFIX/lib/pythonX.Y/site-packages, which
 * `site` skips while it does not exist (the layer then makes it). PREFIX is the executable's
 * grandparent. A base with neither directory and PREFIX /usr is Debian's (distroless python3).
 */
export function siteDirOf(
  fs: ReadonlyMap<string, unknown>,
  executable: string,
  python: readonly [number, number],
): string {
  const prefix = posix.dirname(posix.dirname(executable));
  const lib = `${prefix === "/" ? "" : prefix}/lib`;
  const debian = `${lib}/python3/dist-packages`;
  const upstream = `${lib}/python${python[0]}.${python[1]}/site-packages`;
  const has = (dir: string) => {
    for (const p of fs.keys()) if (p === dir || p.startsWith(`${dir}/`)) return true;
    return false;
  };
  if (has(debian)) return debian;
  if (has(upstream)) return upstream;
  return prefix === "/usr" ? debian : upstream;
}

function versionOfExecutable(path: string): [number, number] | undefined {
  const m = /python(3)\.(\d+)$/.exec(posix.basename(path));
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** A `python3` with no version in its name: the one pythonX.Y stdlib beside it (PREFIX/lib/pythonX.Y/os.py). */
function versionOfStdlib(fs: Map<string, unknown>, executable: string): [number, number] | undefined {
  const prefix = posix.dirname(posix.dirname(executable));
  const found = new Set<string>();
  const re = new RegExp(
    `^${prefix === "/" ? "" : prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/lib/python(3\\.\\d+)/os\\.py$`,
  );
  for (const p of fs.keys()) {
    const m = re.exec(p);
    if (m?.[1]) found.add(m[1]);
  }
  if (found.size !== 1) return undefined;
  const [major, minor] = [...found][0]!.split(".").map(Number);
  return [major!, minor!];
}

function envVersion(env: string[] | undefined, python: readonly [number, number]): string | undefined {
  const v = (env ?? [])
    .filter((e) => e.startsWith("PYTHON_VERSION="))
    .pop()
    ?.slice("PYTHON_VERSION=".length);
  const m = v ? /^(3)\.(\d+)\.(\d+)$/.exec(v) : null;
  return m && Number(m[2]) === python[1] ? `${m[1]}.${m[2]}.${m[3]}` : undefined;
}

/** Debian's pythonX.Y-minimal package version ("3.11.2-6+deb12u6" → 3.11.2). */
function dpkgVersion(status: Buffer | undefined, python: readonly [number, number]): string | undefined {
  if (!status) return undefined;
  const name = `python${python[0]}.${python[1]}-minimal`;
  for (const stanza of status.toString("utf8").split(/\n\n+/)) {
    if (!new RegExp(`^Package: ${name.replace(".", "\\.")}$`, "m").test(stanza)) continue;
    if (!/^Status: .* installed$/m.test(stanza)) continue;
    const m = /^Version: (?:\d+:)?(3)\.(\d+)\.(\d+)/m.exec(stanza);
    if (m && Number(m[2]) === python[1]) return `${m[1]}.${m[2]}.${m[3]}`;
  }
  return undefined;
}

function topmostLayerWith(tables: LayerFileTable[], path: string): number | undefined {
  for (let i = tables.length - 1; i >= 0; i--) if (path in tables[i]!.files) return i;
  return undefined;
}

async function libcOf(
  fs: Map<string, unknown>,
  readTop: (path: string, maxBytes: number) => Promise<Buffer | undefined>,
): Promise<BaseInterpreter["libc"]> {
  const paths = [...fs.keys()];
  if (paths.some((p) => /\/ld-musl-[^/]+\.so\.1$/.test(p))) return { kind: "musl" };
  const typed = fs as Parameters<typeof resolveInImage>[0];
  for (const p of paths
    .filter((p) => /^\/(usr\/)?lib(64|32)?(\/[^/]+-linux-gnu[^/]*)?\/libc\.so\.6$/.test(p))
    .sort()) {
    const r = resolveInImage(typed, p);
    const real = "found" in r ? r.found : r.missing === "not-executable" ? r.path : undefined;
    if (!real) continue;
    // glibc before 2.34 names the file libc-2.31.so; later ones say it only inside.
    const named = /libc-(2\.\d+)\.so$/.exec(real);
    if (named?.[1]) return { kind: "glibc", version: named[1] };
    const bytes = await readTop(real, MAX_LIBC);
    const m = bytes ? /release version (2\.\d+)/.exec(bytes.toString("latin1")) : null;
    if (m?.[1]) return { kind: "glibc", version: m[1] };
  }
  return undefined;
}

const LAST_KIND = "base-python-of-target";

function lastKey(target: { name: string; base: unknown }, platform: Platform): string {
  return `${target.name}|${platform.os}/${platform.architecture}|${JSON.stringify(target.base)}`;
}

/**
 * The base's interpreter when the base is at hand (a build), else the one the last build of this
 * target on this base read: `tug explain` and the local dev runtime plan without pulling bases.
 */
export async function targetBaseInterpreter(
  engine: Engine,
  target: { name: string; base: unknown; where: string },
  platform: Platform,
  base: (() => Promise<Image>) | undefined,
): Promise<{ interpreter: BaseInterpreter | undefined; read: boolean }> {
  if (!base) {
    const last = await engine.store.getRecord(LAST_KIND, lastKey(target, platform), isBaseInterpreter);
    return { interpreter: last, read: last !== undefined };
  }
  const interpreter = await baseInterpreter(engine, await base(), target.where);
  if (interpreter) await engine.store.putRecord(LAST_KIND, lastKey(target, platform), interpreter);
  return { interpreter, read: true };
}
