import { promises as fs } from "node:fs";
import { join, posix } from "node:path";
import type { NodeTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { DEFAULT_IGNORE } from "../engine/ignore-rules.ts";
import type { LayerRecipe } from "../engine/layer-action.ts";
import { type SourceFile, scanTree } from "../engine/source-tree.ts";
import { TugError } from "../errors.ts";
import { gitRootOf } from "../go/inputs.ts";
import {
  BUNDLE_SCOPE_KIND,
  loadScope,
  scopeOfBundle,
  scopeParam,
  scopeStillHolds,
} from "../node/bundle-scope.ts";
import type { BundleOutput } from "../node/entry-module.ts";
import { bundleOutputFor, CODE_EXTENSIONS } from "../node/entry-module.ts";
import { type BundleResult, bundle, esbuildVersion } from "../node/esbuild-api.ts";
import { lockedVersions } from "../node/lockfile.ts";
import { hexOf, sha256 } from "../oci/digest.ts";
import { recordBundledPackages } from "../sbom/npm-packages.ts";
import { type Builder, entriesUnder } from "./builder.ts";
import {
  externalsOf,
  externalsRecipe,
  installedPackages,
  LOCKFILES,
  NPM_LOCKFILES,
  nodeModulesRecipe,
} from "./node-deps.ts";

export {
  bundleOptions,
  bundleOutput,
  esbuildBinary,
  esbuildError,
  esbuildVersion,
} from "../node/esbuild-api.ts";

const APP = "/app";
const RUNTIME = { workdir: APP, env: { NODE_ENV: "production" } };

/**
 * `node`, bundled (default): esbuild bundles `entry` with its dependencies into one file at the
 * entry's own path under /app, in the entry's module format; the context's other files
 * (static/, views/, JSON, templates, package.json) ship at their paths in a layer of their own.
 * Packages that cannot be bundled (native addons, `external`) go into /app/node_modules in a
 * deps layer keyed by the lockfile, so a source edit never rebuilds or re-pushes it.
 * `bundle: false`: node_modules from the lockfile plus the context as it is.
 */
export const nodeBuilder: Builder<NodeTarget> = {
  excludes: (_target, rel) =>
    rel.split("/").includes("node_modules")
      ? "excluded: the node builder installs node_modules from the lockfile"
      : undefined,
  missingExecutableHint: (target, _argv0, base) =>
    `${base} has no node on PATH: pick a base with node, e.g. base: docker.io/library/node:${target.node}-slim or cgr.dev/chainguard/node (or your registry's copy), or base: host:node to use this machine's node`,
  async plan({ engine, target, platform }) {
    if (target.builder !== "node") throw new Error("node builder given another target");
    const tree = await scanTree(target.context, {
      skipDirs: engine.outputDirs,
      statCache: engine.statCache,
      where: target.where,
      ignore: (p) => p === "node_modules" || p.endsWith("/node_modules"),
      ignoreFiles: target.ignore ?? DEFAULT_IGNORE,
    });
    await checkEntry(target, tree.files);
    const lockfiles = tree.files.filter((f) => LOCKFILES.includes(f.path));
    if (!target.bundle) {
      const lockfile = NPM_LOCKFILES.map((n) => lockfiles.find((f) => f.path === n)).find((f) => f);
      if (!lockfile) await checkNoDependencies(target, lockfiles);
      const layers: LayerRecipe[] = [];
      const patches = tree.files.filter((f) => f.type !== "dir" && f.path.startsWith("patches/"));
      if (lockfile) layers.push(nodeModulesRecipe({ engine, target, platform, lockfile, patches }));
      layers.push(filesRecipe(target, "app", tree.files));
      return { layers, config: { ...RUNTIME, entrypoint: ["node", `${APP}/${target.entry}`] } };
    }

    const externals = await externalsOf(engine, target, lockfiles);
    // Without a lockfile nothing stands for node_modules: key on what is installed instead.
    const installed =
      lockfiles.length === 0 ? await installedPackages(join(target.context, "node_modules")) : "";
    const output = await bundleOutputFor(target.context, target.entry);
    const layers: LayerRecipe[] = [];
    if (externals.length > 0)
      layers.push(externalsRecipe({ engine, target, platform, externals, lockfiles, installed }));
    // Files esbuild never reads as code are assets; code files the bundle did not read (a
    // browser script under static/, a module loaded by a computed require) ship with the bundle.
    const assets = tree.files.filter((f) => f.type !== "dir" && !isCode(f.path));
    if (assets.length > 0) layers.push(filesRecipe(target, "assets", assets));
    const params = {
      esbuild: esbuildVersion,
      entry: target.entry,
      output: output.path,
      format: output.format,
      node: target.node,
      externals,
      installed,
    };
    const scoped = await scopedBundle({
      treeDigest: tree.digest,
      engine,
      target,
      externals,
      output,
      files: tree.files,
      params,
      lockfiles,
    });
    layers.push({
      target: target.name,
      step: `bundle ${platform.os}/${platform.architecture}`,
      kind: "node-bundle",
      // 4: the key covers what the bundle reads outside the context (bundle-scope.ts);
      // 5: ESM output defines __filename/__dirname for bundled CommonJS (esbuild-api.ts).
      version: 5,
      params: { ...params, scope: scoped.param },
      // The bundle inlines node_modules; the lockfile (or `installed`) stands for their contents.
      trees: { context: tree.files, outside: scoped.outside },
      produce: async () => {
        const { code, inputs } = scoped.early ?? (await bundle(target, externals, output, tree.files));
        await checkInlinedVersions(inputs, target, lockfiles);
        // The image's SBOM lists the packages inlined here: it finds them by the bundle's sha256.
        await recordBundledPackages(engine.store, code, inputs, target.context);
        const unbundled = tree.files.filter(
          (f) => f.type !== "dir" && isCode(f.path) && !inputs.has(f.path) && f.path !== output.path,
        );
        return {
          entries: [
            { path: `app/${output.path}`, type: "file", mode: 0o644, data: code },
            ...entriesUnder(APP, unbundled),
          ],
        };
      },
    });
    return { layers, config: { ...RUNTIME, entrypoint: ["node", `${APP}/${output.path}`] } };
  },
};

const isCode = (path: string) => CODE_EXTENSIONS.has(posix.extname(path));

/**
 * What the bundle reads outside its context, as key inputs: the scope recorded for this context
 * tree when it still holds, else found by bundling now (the bundle is then reused by produce()).
 */
async function scopedBundle(o: {
  engine: Engine;
  target: NodeTarget;
  externals: string[];
  output: BundleOutput;
  files: SourceFile[];
  /** The context tree's identity (paths, modes, contents): the recorded scope's key. */
  treeDigest: string;
  params: Record<string, string | string[]>;
  lockfiles: SourceFile[];
}): Promise<{ outside: SourceFile[]; param: string; early?: BundleResult }> {
  const { engine, target } = o;
  const gitRoot = await gitRootOf(engine.scope);
  const where = { context: target.context, roots: gitRoot ? [engine.scope, gitRoot] : [engine.scope] };
  const key = hexOf(sha256(JSON.stringify({ v: 1, params: o.params, context: o.treeDigest })));
  const recorded = await loadScope(engine.store, key, where);
  const holds = recorded && (await scopeStillHolds(recorded, where, engine.statCache));
  if (recorded && holds) return { outside: holds, param: scopeParam(recorded) };
  // A file outside the context modified as esbuild read it (within a timestamp tick of the bundle)
  // may be hashed here with other bytes than were bundled: bundle once more, then give up.
  for (let attempt = 1; ; attempt++) {
    const since = Date.now();
    // Shown as its own step: produce() reuses this bundle. One that fails here fails the same
    // way in produce(), where a build reports it as the bundle step's error; `tug explain`
    // (which plans but produces nothing) still answers.
    const early = await engine.timings.step(target.name, "bundle inputs", async () => ({
      value: await bundle(target, o.externals, o.output, o.files).catch(() => undefined),
      cached: false,
    }));
    if (!early) return { outside: [], param: "unbundled", early: undefined };
    await checkInlinedVersions(early.inputs, target, o.lockfiles);
    const { scope, recordable } = await scopeOfBundle(early.inputs, where, since);
    const outside = recordable ? await scopeStillHolds(scope, where, engine.statCache) : undefined;
    if (outside) {
      await engine.store.putRecord(BUNDLE_SCOPE_KIND, key, scope);
      return { outside, param: scopeParam(scope), early };
    }
    if (attempt === 2) {
      throw new TugError({
        what: `files ${target.name}'s bundle reads outside its context changed while it was bundled`,
        where: target.where,
        hint: "something is writing them during the build; run it again when it is done",
      });
    }
  }
}

/**
 * The packages a bundle inlined from the context's node_modules must be the lockfile's versions:
 * the key stands on the lockfile, and `npm ci` (a Dockerfile build) would install exactly those.
 * A checkout whose node_modules lags behind its lockfile (a pull without `npm ci`) is refused
 * instead of bundled into an image that no clean install would make.
 */
async function checkInlinedVersions(inputs: Set<string>, target: NodeTarget, lockfiles: SourceFile[]) {
  const lockfile = NPM_LOCKFILES.map((n) => lockfiles.find((f) => f.path === n)).find((f) => f);
  if (!lockfile) return;
  const locked = lockedVersions(await fs.readFile(lockfile.abs, "utf8"));
  if (!locked) {
    throw new TugError({
      what: `${lockfile.path} is not an npm lockfile tug can read`,
      where: target.where,
      hint: "regenerate it: npm install --package-lock-only",
    });
  }
  const roots = new Set([...inputs].flatMap((p) => installPathOf(p) ?? []));
  for (const root of [...roots].sort()) {
    const want = locked.get(root);
    const pkg = await fs.readFile(join(target.context, root, "package.json"), "utf8").catch(() => undefined);
    let have: unknown;
    try {
      have = pkg === undefined ? undefined : (JSON.parse(pkg) as { version?: unknown }).version;
    } catch {}
    if (want !== undefined && have === want) continue;
    throw new TugError({
      what:
        want === undefined
          ? `the bundle inlines ${root}${typeof have === "string" ? ` ${have}` : ""}, which ${lockfile.path} does not list`
          : `the bundle inlines ${root} ${String(have)} but ${lockfile.path} locks ${want}`,
      where: target.where,
      hint: "run npm ci in the context: node_modules must match the lockfile (an install from it is what a Dockerfile build ships)",
    });
  }
}

/** `node_modules/a/node_modules/@s/b/lib/x.js` → `node_modules/a/node_modules/@s/b`; inside the context only. */
function installPathOf(p: string): string | undefined {
  const parts = p.split("/");
  if (parts[0] !== "node_modules") return undefined;
  const at = parts.lastIndexOf("node_modules");
  const size = parts[at + 1]?.startsWith("@") ? 2 : 1;
  if (parts.length <= at + size + 1) return undefined;
  return parts.slice(0, at + 1 + size).join("/");
}

/** Context files as they are, at their paths under /app, keyed by exactly those files. */
function filesRecipe(target: NodeTarget, step: "app" | "assets", files: SourceFile[]): LayerRecipe {
  return {
    target: target.name,
    step,
    kind: `node-${step}`,
    version: 1,
    params: {},
    trees: { files },
    produce: async () => ({ entries: entriesUnder(APP, files) }),
  };
}

async function checkEntry(target: NodeTarget, files: SourceFile[]): Promise<void> {
  if (!target.bundle && /\.(ts|tsx|mts|cts)$/.test(target.entry)) {
    throw new TugError({
      what: `entry ${target.entry} is TypeScript, and bundle: false runs the sources as they are`,
      where: target.where,
      hint: "bundle it (remove bundle: false), or compile to JavaScript first (a command target, or tsc before tug build) and set entry: to the .js file",
    });
  }
  if (files.some((f) => f.path === target.entry)) return;
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

/** bundle: false without package-lock.json is fine only when there is nothing to install. */
async function checkNoDependencies(target: NodeTarget, lockfiles: SourceFile[]): Promise<void> {
  let deps: Record<string, unknown> = {};
  try {
    const pkg = JSON.parse(await fs.readFile(join(target.context, "package.json"), "utf8")) as {
      dependencies?: Record<string, unknown>;
    };
    deps = pkg.dependencies ?? {};
  } catch {
    // no (readable) package.json: nothing to install
  }
  const names = Object.keys(deps);
  if (names.length === 0) return;
  throw new TugError({
    what: `bundle: false installs node_modules from package-lock.json, and ${target.context} has ${lockfiles.length > 0 ? `only ${lockfiles.map((f) => f.path).join(", ")}` : "none"} (dependencies: ${names.slice(0, 3).join(", ")}${names.length > 3 ? ", …" : ""})`,
    where: target.where,
    hint: "run npm install to write package-lock.json (or npm install --package-lock-only)",
  });
}
