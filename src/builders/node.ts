import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import type { BuildOptions } from "esbuild";
import type { NodeTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { DEFAULT_IGNORE } from "../engine/ignore-rules.ts";
import type { LayerRecipe } from "../engine/layer-action.ts";
import { type SourceFile, scanTree } from "../engine/source-tree.ts";
import { TugError } from "../errors.ts";
import { sha256 } from "../oci/digest.ts";
import type { Platform } from "../oci/types.ts";
import { type Builder, entriesUnder } from "./builder.ts";
import { type BundleMetafile, uncoveredBundleInputs, uncoveredInputsError } from "./bundle-inputs.ts";
import { findNativePackages, runtimeClosure } from "./node-externals.ts";

const run = promisify(execFile);
// esbuild's JS API costs ~60 ms to import: read its version from package.json for keys, and
// import the API only when a bundle really has to be built.
export const esbuildVersion = (createRequire(import.meta.url)("esbuild/package.json") as { version: string })
  .version;
const LOCKFILES = ["package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml"];
const NODE_ARCH: Record<string, string> = { amd64: "x64", arm64: "arm64", arm: "arm", "386": "ia32" };

/**
 * `node`: esbuild bundles `entry` with its dependencies into /app/index.mjs (the small app
 * layer, rebuilt on a source edit). Packages that cannot be bundled (native addons, `external`)
 * go into /app/node_modules in a deps layer keyed by the lockfile, so a source edit never
 * rebuilds or re-pushes it.
 */
export const nodeBuilder: Builder = {
  async plan({ engine, target, platform }) {
    if (target.builder !== "node") throw new Error("node builder given another target");
    const tree = await scanTree(target.context, {
      statCache: engine.statCache,
      where: target.where,
      ignore: (p) => p === "node_modules" || p.endsWith("/node_modules"),
      ignoreFiles: target.ignore ?? DEFAULT_IGNORE,
    });
    if (!tree.files.some((f) => f.path === target.entry)) {
      const excluded = await fs.stat(join(target.context, target.entry)).then(
        () => true,
        () => false,
      );
      throw new TugError({
        what: excluded
          ? `entry ${target.entry} is excluded by the context's ignore files`
          : `entry ${target.entry} not found in ${target.context}`,
        where: target.where,
        hint: excluded
          ? `\`tug explain ${target.name} --path ${target.entry}\` names the rule; re-include it in .tugignore`
          : "set `entry:` to the service's main file, relative to `context:`",
      });
    }
    const lockfiles = tree.files.filter((f) => LOCKFILES.includes(f.path));
    const externals = await externalsOf(engine, target, lockfiles);
    // Without a lockfile nothing stands for node_modules: key on what is installed instead.
    const installed =
      lockfiles.length === 0 ? await installedPackages(join(target.context, "node_modules")) : "";
    const layers: LayerRecipe[] = [];
    if (externals.length > 0)
      layers.push(depsRecipe(engine, target, platform, externals, lockfiles, installed));
    layers.push({
      target: target.name,
      step: `bundle ${platform.os}/${platform.architecture}`,
      kind: "node-bundle",
      version: 1,
      params: { esbuild: esbuildVersion, entry: target.entry, node: target.node, externals, installed },
      // The bundle inlines node_modules; the lockfile (or `installed`) stands for their contents.
      trees: { context: tree.files },
      produce: async () => ({
        entries: [
          {
            path: "app/index.mjs",
            type: "file",
            mode: 0o644,
            data: await bundle(target, externals, tree.files),
          },
        ],
      }),
    });
    return {
      layers,
      config: { entrypoint: ["node", "/app/index.mjs"], workdir: "/app", env: { NODE_ENV: "production" } },
    };
  },
};

/** esbuild options of the app bundle; the dev loop's incremental context uses the same ones. */
export function bundleOptions(target: NodeTarget, externals: string[]): BuildOptions & { write: false } {
  return {
    absWorkingDir: target.context,
    entryPoints: [target.entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: `node${target.node}`,
    external: externals,
    write: false,
    outfile: "index.mjs",
    logLevel: "silent",
    legalComments: "none",
    // Bundled CommonJS dependencies call require(); give ESM output one.
    banner: {
      js: "import { createRequire as __tugRequire } from 'node:module'; const require = __tugRequire(import.meta.url);",
    },
  };
}

export async function bundle(
  target: NodeTarget,
  externals: string[],
  keyed: SourceFile[],
): Promise<Uint8Array> {
  // One-shot builds run esbuild's native binary directly: loading its JS API and starting its
  // service costs ~50 ms, five times the bundling itself. On any failure the JS API runs
  // instead, for its structured errors.
  const fast = await bundleWithBinary(target, externals);
  let out: { code: Uint8Array; metafile: BundleMetafile };
  if (fast) out = fast;
  else {
    try {
      const { build: esbuild } = await import("esbuild");
      const result = await esbuild({ ...bundleOptions(target, externals), metafile: true });
      out = { code: bundleOutput(result), metafile: result.metafile };
    } catch (e) {
      throw esbuildError(e, target);
    }
  }
  const uncovered = uncoveredBundleInputs(out.metafile, keyed);
  if (uncovered.length > 0) throw uncoveredInputsError(uncovered, target.where);
  return out.code;
}

export function esbuildBinary(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve(`@esbuild/${process.platform}-${process.arch}/bin/esbuild`);
  } catch {
    return undefined;
  }
}

/** The same options as `bundleOptions`, as command-line flags; the bundle goes to stdout. */
async function bundleWithBinary(
  target: NodeTarget,
  externals: string[],
): Promise<{ code: Uint8Array; metafile: BundleMetafile } | undefined> {
  const bin = esbuildBinary();
  if (!bin) return undefined;
  const o = bundleOptions(target, externals);
  const metafile = join(await fs.mkdtemp(join(tmpdir(), "tug-esbuild-")), "meta.json");
  const args = [
    ...(o.entryPoints as string[]),
    "--bundle",
    `--platform=${o.platform}`,
    `--format=${o.format}`,
    `--target=${o.target}`,
    ...(o.external ?? []).map((x) => `--external:${x}`),
    `--legal-comments=${o.legalComments}`,
    `--banner:js=${o.banner?.js ?? ""}`,
    "--log-level=error",
    `--metafile=${metafile}`,
  ];
  try {
    const code = await new Promise<Uint8Array | undefined>((resolve) => {
      execFile(bin, args, { cwd: target.context, encoding: "buffer", maxBuffer: 1 << 30 }, (err, stdout) =>
        resolve(err ? undefined : new Uint8Array(stdout)),
      );
    });
    if (!code) return undefined;
    return { code, metafile: JSON.parse(await fs.readFile(metafile, "utf8")) as BundleMetafile };
  } finally {
    await fs.rm(dirname(metafile), { recursive: true, force: true });
  }
}

export function bundleOutput(result: { outputFiles?: Array<{ contents: Uint8Array }> }): Uint8Array {
  const out = result.outputFiles?.[0];
  if (!out) throw new Error("esbuild produced no output");
  return out.contents;
}

/** esbuild's failure as a TugError pointing at the first error's file:line:col. */
export function esbuildError(e: unknown, target: NodeTarget): unknown {
  const errors = (
    e as {
      errors?: Array<{ text: string; location?: { file: string; line: number; column: number } | null }>;
    }
  ).errors;
  if (!errors) return e;
  const first = errors[0];
  return new TugError({
    what: `esbuild failed to bundle ${target.entry} for ${target.name}`,
    where: first?.location
      ? `${first.location.file}:${first.location.line}:${first.location.column}`
      : target.where,
    hint: errors
      .map((x) => (x.location ? `${x.location.file}:${x.location.line}: ${x.text}` : x.text))
      .join("; "),
  });
}

async function externalsOf(engine: Engine, target: NodeTarget, lockfiles: SourceFile[]): Promise<string[]> {
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

function depsRecipe(
  engine: Engine,
  target: NodeTarget,
  platform: Platform,
  externals: string[],
  lockfiles: SourceFile[],
  installed: string,
): LayerRecipe {
  const cpu = NODE_ARCH[platform.architecture] ?? platform.architecture;
  const hostMatches = platform.os === process.platform && cpu === process.arch;
  // Copied from the host, compiled addons are built for this Node's ABI.
  const abi = hostMatches ? `modules-${process.versions.modules}` : "npm-install";
  return {
    target: target.name,
    step: `deps ${platform.os}/${platform.architecture}`,
    kind: "node-deps",
    version: 1,
    params: { externals, os: platform.os, cpu, abi, installed },
    trees: { lockfile: lockfiles },
    produce: async () => {
      const nodeModules = join(target.context, "node_modules");
      if (hostMatches) {
        const closure = await runtimeClosure(nodeModules, externals);
        const files = (await Promise.all(closure.map((name) => scanTree(join(nodeModules, name))))).flatMap(
          (t, i) => entriesUnder(`/app/node_modules/${closure[i]}`, t.files),
        );
        return { entries: files };
      }
      // Another OS/CPU: let npm pick that platform's optional binaries (no scripts: cannot compile for it).
      const dir = await engine.store.tempPath("npm");
      await fs.mkdir(dir, { recursive: true });
      const specs = await Promise.all(
        externals.map(async (n) => `${n}@${await installedVersion(nodeModules, n)}`),
      );
      try {
        await run(
          "npm",
          [
            "install",
            "--omit=dev",
            "--no-save",
            "--no-package-lock",
            "--ignore-scripts",
            `--os=${platform.os}`,
            `--cpu=${cpu}`,
            ...specs,
          ],
          { cwd: dir },
        );
      } catch (e) {
        throw new TugError({
          what: `npm could not install ${specs.join(", ")} for ${platform.os}/${cpu}`,
          where: target.where,
          hint: String((e as { stderr?: string }).stderr ?? e)
            .trim()
            .slice(0, 2000),
        });
      }
      const tree = await scanTree(join(dir, "node_modules"));
      return {
        entries: entriesUnder("/app/node_modules", tree.files),
        cleanup: () => fs.rm(dir, { recursive: true, force: true }),
      };
    },
  };
}

async function installedVersion(nodeModules: string, name: string): Promise<string> {
  try {
    return (
      JSON.parse(await fs.readFile(join(nodeModules, name, "package.json"), "utf8")) as { version: string }
    ).version;
  } catch {
    throw new TugError({
      what: `external package ${name} is not installed in ${nodeModules}`,
      hint: "run npm install (or npm ci) in the context first",
    });
  }
}

/** name@version of every top-level installed package, as one digest (no lockfile to key on). */
async function installedPackages(nodeModules: string): Promise<string> {
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
