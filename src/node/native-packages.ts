import { execFile } from "node:child_process";
import {
  copyFile,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { join, resolve } from "node:path";
import { hashJson } from "../engine/key.ts";
import { TugError } from "../errors.ts";
import type { LambdaDistribution } from "../lambda/build-python.ts";
import { npmCpu } from "../lambda/node/runtime.ts";
import type { ZipEntry } from "../zip/entry.ts";
import { findNativePackages } from "./externals.ts";

/** What npm is asked to install for one native package. */
export interface NativeSpec {
  name: string;
  /** `name@1.2.3`, `name@^1.2`, or `file:/abs/dir` for a local package. */
  spec: string;
}

interface LockEntry {
  version?: string;
  resolved?: string;
  link?: boolean;
}

interface PackageJson {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const readJson = async <T>(path: string): Promise<T | undefined> => {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch {
    return undefined;
  }
};

/** Packages under the project's node_modules that cannot be bundled (binding.gyp, prebuilt .node). */
export function detectNativePackages(projectDir: string): Promise<string[]> {
  return findNativePackages(join(projectDir, "node_modules"));
}

/**
 * The version of each native package the project uses, so the target platform gets the same one:
 * package-lock.json's entry first, then a `file:` dependency in package.json (installed from that
 * directory), then the installed copy's version, then package.json's range.
 */
export async function nativeSpecs(projectDir: string, names: string[], where: string): Promise<NativeSpec[]> {
  const lock = await readJson<{ packages?: Record<string, LockEntry> }>(
    join(projectDir, "package-lock.json"),
  );
  const pkg = await readJson<PackageJson>(join(projectDir, "package.json"));
  const declared = { ...pkg?.optionalDependencies, ...pkg?.dependencies };
  return Promise.all(
    names.map(async (name): Promise<NativeSpec> => {
      const locked = lock?.packages?.[`node_modules/${name}`];
      const range = declared[name];
      if (locked?.link && locked.resolved)
        return { name, spec: `file:${resolve(projectDir, locked.resolved)}` };
      if (locked?.resolved?.startsWith("file:"))
        return { name, spec: `file:${resolve(projectDir, locked.resolved.slice("file:".length))}` };
      if (locked?.version) return { name, spec: `${name}@${locked.version}` };
      if (range?.startsWith("file:")) return { name, spec: `file:${resolve(projectDir, range.slice(5))}` };
      const installed = await readJson<PackageJson>(join(projectDir, "node_modules", name, "package.json"));
      if (installed?.version) return { name, spec: `${name}@${installed.version}` };
      if (range) return { name, spec: `${name}@${range}` };
      throw new TugError({
        what: `native package ${name} is neither installed nor listed in package.json`,
        where,
        hint: `add it to package.json and run npm install, or remove it from native:`,
      });
    }),
  );
}

/**
 * npm's arguments to install `specs` for Lambda's linux/glibc on `arch`: npm then picks the
 * optional per-platform packages (`@img/sharp-linux-arm64`, …) for that platform, not the host's.
 * No install scripts: nothing can be compiled for another platform here, and prebuilt binaries
 * are what Lambda can run.
 */
export function npmInstallArgs(specs: NativeSpec[], arch: "x86_64" | "arm64"): string[] {
  return [
    "install",
    "--os=linux",
    `--cpu=${npmCpu(arch)}`,
    "--libc=glibc",
    "--omit=dev",
    "--no-save",
    "--no-package-lock",
    "--ignore-scripts",
    // A file: dependency is copied like a registry package, not symlinked out of the zip.
    "--install-links",
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
    ...specs.map((s) => s.spec),
  ];
}

const EXACT_VERSION = /^(@[^/@]+\/)?[^/@]+@\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?$/;

export interface InstalledNatives {
  /** `node_modules/...` entries read from `dir` (which must live until the zip is written). */
  entries: ZipEntry[];
  /** Every package installed (with the natives' dependencies), name and version; `wheel` is "". */
  distributions: LambdaDistribution[];
  /** Removes the install, unless it is the shared cached one. */
  cleanup: () => Promise<void>;
}

/**
 * Installs `specs` for the lambda's platform with npm and lists the result as zip entries, copied
 * as they are. Registry versions are pinned, so their install is kept under `cacheDir` and reused;
 * a `file:` package can change without its spec changing, so it is installed every time.
 */
export async function installNatives(o: {
  specs: NativeSpec[];
  arch: "x86_64" | "arm64";
  projectDir: string;
  cacheDir: string;
  where: string;
}): Promise<InstalledNatives> {
  const args = npmInstallArgs(o.specs, o.arch);
  const cacheable = o.specs.every((s) => EXACT_VERSION.test(s.spec));
  const cached = cacheable ? join(o.cacheDir, "node-native", hashJson({ args })) : undefined;
  if (cached && (await isDir(join(cached, "node_modules")))) {
    return { ...(await listInstalled(join(cached, "node_modules"))), cleanup: async () => {} };
  }
  await mkdir(o.cacheDir, { recursive: true });
  const dir = await mkdtemp(join(o.cacheDir, "npm-"));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    // A package.json pins npm's prefix to this directory; the project's .npmrc brings its registry.
    await writeFile(join(dir, "package.json"), '{"name":"tug-lambda-natives","private":true}\n');
    await copyFile(join(o.projectDir, ".npmrc"), join(dir, ".npmrc")).catch(() => {});
    await new Promise<void>((done, fail) =>
      execFile("npm", args, { cwd: dir, maxBuffer: 1 << 26 }, (err, _stdout, stderr) => {
        if (!err) return done();
        fail(
          new TugError({
            what: `npm could not install ${o.specs.map((s) => s.name).join(", ")} for linux/${npmCpu(o.arch)}`,
            where: o.where,
            hint: `npm ${args.join(" ")}\n${String(stderr || err.message)
              .trim()
              .slice(0, 2000)}`,
          }),
        );
      }),
    );
    if (cached) {
      await mkdir(join(o.cacheDir, "node-native"), { recursive: true });
      // Another build may have won the race: then its identical install is used and this one dropped.
      await rename(dir, cached).catch(() => {});
      if (await isDir(join(cached, "node_modules"))) {
        await cleanup();
        return { ...(await listInstalled(join(cached, "node_modules"))), cleanup: async () => {} };
      }
    }
    return { ...(await listInstalled(join(dir, "node_modules"))), cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

const isDir = (p: string) =>
  stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );

/** The files of an installed node_modules as `node_modules/…` entries, and the packages in it. */
export async function listInstalled(
  nodeModules: string,
): Promise<Pick<InstalledNatives, "entries" | "distributions">> {
  const entries: ZipEntry[] = [];
  const distributions: LambdaDistribution[] = [];
  const walk = async (dir: string, name: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      const zipName = `${name}/${e.name}`;
      // npm's own bookkeeping and command shims: not part of any package.
      if (name === "node_modules" || name.endsWith("/node_modules")) {
        if (e.name === ".bin" || e.name === ".package-lock.json" || e.name === ".cache") continue;
      }
      const st = e.isSymbolicLink() ? await stat(path).catch(() => undefined) : await lstat(path);
      if (st?.isDirectory() && !e.isSymbolicLink()) await walk(path, zipName);
      else if (st?.isFile()) {
        entries.push({ name: zipName, source: path, mode: st.mode });
        if (e.name === "package.json" && /(^|\/)node_modules\/(@[^/]+\/)?[^/@][^/]*$/.test(name)) {
          const pkg = await readJson<{ name?: string; version?: string }>(path);
          if (pkg?.name && pkg.version)
            distributions.push({ name: pkg.name, version: pkg.version, wheel: "" });
        }
      }
    }
  };
  await walk(nodeModules, "node_modules");
  distributions.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { entries, distributions };
}
