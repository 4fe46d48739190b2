import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { NodeTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import type { LayerRecipe } from "../engine/layer-action.ts";
import { type SourceFile, scanTree } from "../engine/source-tree.ts";
import { TugError } from "../errors.ts";
import { findNativePackages, runtimeClosure } from "../node/externals.ts";
import { productionPackages } from "../node/lockfile.ts";
import { checkNativeBinaries } from "../node/native-binaries.ts";
import { sha256 } from "../oci/digest.ts";
import type { Platform } from "../oci/types.ts";
import { Limiter } from "../util/limiter.ts";
import { entriesUnder } from "./builder.ts";

const run = promisify(execFile);
export const LOCKFILES = ["package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml"];
/** The lockfiles `npm ci` installs from. */
export const NPM_LOCKFILES = ["npm-shrinkwrap.json", "package-lock.json"];
const NODE_ARCH: Record<string, string> = { amd64: "x64", arm64: "arm64", arm: "arm", "386": "ia32" };

interface PlatformInstall {
  cpu: string;
  /** The host's own platform: its node_modules (built with install scripts) is used as it is. */
  host: boolean;
  /** Part of the key: a host copy holds addons compiled for this Node's ABI. */
  abi: string;
}

function platformInstall(platform: Platform): PlatformInstall {
  const cpu = NODE_ARCH[platform.architecture] ?? platform.architecture;
  const host = platform.os === process.platform && cpu === process.arch;
  return { cpu, host, abi: host ? `modules-${process.versions.modules}` : "npm-ci" };
}

export async function externalsOf(
  engine: Engine,
  target: NodeTarget,
  lockfiles: SourceFile[],
): Promise<string[]> {
  const nodeModules = join(target.context, "node_modules");
  const lockKey = lockfiles.map((f) => `${f.path}:${f.digest}`).join(",");
  // Native detection walks node_modules; remember the answer per lockfile.
  const memoKey = lockKey ? `${target.context}|${lockKey}` : undefined;
  let native = memoKey ? await engine.store.getRecord<string[]>("node-native", memoKey) : undefined;
  if (!native) {
    native = await findNativePackages(nodeModules);
    if (memoKey) await engine.store.putRecord("node-native", memoKey, native);
  }
  return [...new Set([...native, ...target.external])].sort();
}

/** Bundled apps: the packages left out of the bundle and their runtime closure, in /app/node_modules. */
export function externalsRecipe(o: {
  engine: Engine;
  target: NodeTarget;
  platform: Platform;
  externals: string[];
  lockfiles: SourceFile[];
  installed: string;
}): LayerRecipe {
  const { engine, target, platform, externals } = o;
  const install = platformInstall(platform);
  return {
    target: target.name,
    step: `deps ${platform.os}/${platform.architecture}`,
    kind: "node-deps",
    version: 2,
    params: { externals, os: platform.os, cpu: install.cpu, abi: install.abi, installed: o.installed },
    trees: { lockfile: o.lockfiles },
    produce: async () => {
      let nodeModules = join(target.context, "node_modules");
      let cleanup: (() => Promise<void>) | undefined;
      if (!install.host) {
        const dir = await npmCi({ engine, target, platform, cpu: install.cpu, lockfiles: o.lockfiles });
        nodeModules = join(dir, "node_modules");
        cleanup = () => fs.rm(dir, { recursive: true, force: true });
      }
      try {
        const closure = await runtimeClosure(nodeModules, externals);
        const missing = externals.filter((x) => !closure.includes(x));
        if (missing.length > 0) {
          throw new TugError({
            what: `external package ${missing.join(", ")} is not installed in ${nodeModules}`,
            where: target.where,
            hint: install.host
              ? "run npm install (or npm ci) in the context first"
              : "list it in package.json's dependencies (not devDependencies) and update package-lock.json",
          });
        }
        const trees = await Promise.all(
          closure.map((name) =>
            scanTree(join(nodeModules, name), { statCache: install.host ? engine.statCache : undefined }),
          ),
        );
        const files = trees.flatMap((t, i) =>
          t.files.map((f) => ({ ...f, path: `${closure[i]}/${f.path}` })),
        );
        await checkNativeBinaries({ files, platform, where: target.where });
        return { entries: entriesUnder("/app/node_modules", files), cleanup };
      } catch (e) {
        await cleanup?.();
        throw e;
      }
    },
  };
}

/**
 * `bundle: false`: node_modules as `npm ci --omit=dev` installs it from the lockfile, keyed by
 * the lockfile and the platform. The host platform takes the context's installed packages
 * (their install scripts ran, native addons are built), checked against the lockfile's
 * versions; other platforms run `npm ci --ignore-scripts --os --cpu` in a temp dir.
 */
export function nodeModulesRecipe(o: {
  engine: Engine;
  target: NodeTarget;
  platform: Platform;
  lockfile: SourceFile;
  /** The context's patch-package patches (`patches/`), applied by its postinstall. */
  patches: SourceFile[];
}): LayerRecipe {
  const { engine, target, platform, lockfile, patches } = o;
  const install = platformInstall(platform);
  return {
    target: target.name,
    step: `node_modules ${platform.os}/${platform.architecture}`,
    kind: "node-modules",
    version: 2,
    params: { os: platform.os, cpu: install.cpu, abi: install.abi, omit: "dev" },
    // patch-package's patches change installed files without a lockfile change. (Keying on the
    // installed files themselves cost a 4,000-file node_modules ~300 ms per no-op here.)
    trees: { lockfile: [lockfile], patches },
    produce: async () => {
      if (install.host) {
        const files = await hostProductionFiles(engine, target, lockfile);
        await checkNativeBinaries({ files, platform, where: target.where });
        return { entries: entriesUnder("/app/node_modules", files) };
      }
      const dir = await npmCi({ engine, target, platform, cpu: install.cpu, lockfiles: [lockfile] });
      try {
        const tree = await scanTree(join(dir, "node_modules"), { ignore: (p) => p.startsWith(".") });
        await checkNativeBinaries({ files: tree.files, platform, where: target.where });
        return {
          entries: entriesUnder("/app/node_modules", tree.files),
          cleanup: () => fs.rm(dir, { recursive: true, force: true }),
        };
      } catch (e) {
        await fs.rm(dir, { recursive: true, force: true });
        throw e;
      }
    },
  };
}

/** The lockfile's production packages as installed in the context, each checked against its locked version. */
async function hostProductionFiles(
  engine: Engine,
  target: NodeTarget,
  lockfile: SourceFile,
): Promise<SourceFile[]> {
  const where = `${target.where} (${lockfile.path})`;
  const locked = productionPackages(await fs.readFile(lockfile.abs, "utf8"), where);
  // Packages are scanned a few at a time: one after another, a 4,000-file node_modules
  // waited on each package's lstats in turn.
  const limiter = new Limiter(8);
  const scanned = await Promise.all(locked.map((pkg) => limiter.run(() => installedFiles(pkg))));
  return scanned.flat();

  async function installedFiles(pkg: (typeof locked)[number]): Promise<SourceFile[]> {
    const dir = join(target.context, pkg.path);
    let version: unknown;
    try {
      version = (JSON.parse(await fs.readFile(join(dir, "package.json"), "utf8")) as { version?: unknown })
        .version;
    } catch {
      if (pkg.optional) return []; // an optional dependency for another platform
      throw new TugError({
        what: `${pkg.path} (${pkg.version}, in ${lockfile.path}) is not installed`,
        where: target.where,
        hint: "run npm ci in the context: node_modules must match the lockfile",
      });
    }
    if (version !== pkg.version) {
      throw new TugError({
        what: `${pkg.path} is ${String(version)} but ${lockfile.path} locks ${pkg.version}`,
        where: target.where,
        hint: "run npm ci in the context: node_modules must match the lockfile",
      });
    }
    // Nested packages are lockfile entries of their own (and dev ones must stay out).
    const tree = await scanTree(dir, { statCache: engine.statCache, ignore: (p) => p === "node_modules" });
    const prefix = pkg.path.slice("node_modules/".length);
    return tree.files.map((f) => ({ ...f, path: `${prefix}/${f.path}` }));
  }
}

/**
 * `npm ci --omit=dev --ignore-scripts` for another platform in a temp dir holding the context's
 * package.json, lockfile and .npmrc: every version, transitive ones included, comes from the
 * lockfile. No scripts: nothing compiled here could run there.
 */
async function npmCi(o: {
  engine: Engine;
  target: NodeTarget;
  platform: Platform;
  cpu: string;
  lockfiles: SourceFile[];
}): Promise<string> {
  const { target, platform, cpu } = o;
  const lockfile = o.lockfiles.find((f) => NPM_LOCKFILES.includes(f.path));
  if (!lockfile) {
    throw new TugError({
      what: `${platform.os}/${platform.architecture} packages are installed from package-lock.json, and ${target.context} has none`,
      where: target.where,
      hint: "run npm install to write package-lock.json (yarn.lock and pnpm-lock.yaml are not read), or build only this machine's platform",
    });
  }
  const dir = await o.engine.store.tempPath("npm");
  await fs.mkdir(dir, { recursive: true });
  for (const name of ["package.json", lockfile.path, ".npmrc"]) {
    await fs.copyFile(join(target.context, name), join(dir, name)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT" || name !== ".npmrc") throw e;
    });
  }
  try {
    await run(
      "npm",
      [
        "ci",
        "--omit=dev",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        `--os=${platform.os}`,
        `--cpu=${cpu}`,
      ],
      { cwd: dir, maxBuffer: 64 << 20 },
    );
  } catch (e) {
    await fs.rm(dir, { recursive: true, force: true });
    throw new TugError({
      what: `npm ci could not install ${lockfile.path} for ${platform.os}/${cpu}`,
      where: target.where,
      hint: String((e as { stderr?: string }).stderr ?? e)
        .trim()
        .slice(0, 2000),
    });
  }
  return dir;
}

/** name@version of every top-level installed package, as one digest (no lockfile to key on). */
export async function installedPackages(nodeModules: string): Promise<string> {
  const names: string[] = [];
  for (const n of await fs.readdir(nodeModules).catch(() => [] as string[])) {
    if (n.startsWith(".")) continue;
    if (n.startsWith("@"))
      for (const s of await fs.readdir(join(nodeModules, n)).catch(() => [] as string[]))
        names.push(`${n}/${s}`);
    else names.push(n);
  }
  const versions = await Promise.all(
    names.sort().map(async (n) => {
      const text = await fs.readFile(join(nodeModules, n, "package.json"), "utf8").catch(() => "{}");
      let version = "?";
      try {
        version = (JSON.parse(text) as { version?: string }).version ?? "?";
      } catch {
        // a broken package.json still counts, as "?"
      }
      return `${n}@${version}`;
    }),
  );
  return versions.length === 0 ? "" : sha256(versions.join("\n"));
}
