import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BuildOptions } from "esbuild";
import type { NodeTarget } from "../config/types.ts";
import type { SourceFile } from "../engine/source-tree.ts";
import { TugError } from "../errors.ts";
import { type BundleMetafile, uncoveredBundleInputs, uncoveredInputsError } from "./bundle-coverage.ts";
import { checkDecoratorMetadata } from "./decorator-metadata.ts";
import type { BundleOutput } from "./entry-module.ts";
import { esbuildApi } from "./esbuild-module.ts";
import { warmBundle } from "./warm-bundles.ts";

// esbuild's JS API costs ~60 ms to import: read its version from package.json for keys, and
// import the API only when a bundle really has to be built.
export const esbuildVersion = (createRequire(import.meta.url)("esbuild/package.json") as { version: string })
  .version;

// Bundled CommonJS dependencies call require(); ESM output needs one. esbuild renames a
// top-level `require` of the app's own (it reserves the free name), so this cannot clash.
// CommonJS modules bundled into ESM output also read __filename/__dirname, which ES modules
// lack (a ReferenceError at run time): `define` points those free names at the bundle's own,
// as esbuild's CommonJS output has them; an app's own `const __dirname = …` is bound, untouched.
const ESM_BANNER = [
  "import { createRequire as __tugRequire } from 'node:module';",
  "import { fileURLToPath as __tugFileURLToPath } from 'node:url';",
  "import { dirname as __tugDirnameOf } from 'node:path';",
  "const require = __tugRequire(import.meta.url);",
  "const __tugFilename = __tugFileURLToPath(import.meta.url);",
  "const __tugDirname = __tugDirnameOf(__tugFilename);",
].join(" ");
const ESM_DEFINE = { __filename: "__tugFilename", __dirname: "__tugDirname" };

/** esbuild options of the app bundle; the dev loop's incremental context uses the same ones. */
export function bundleOptions(
  target: NodeTarget,
  externals: string[],
  output: BundleOutput,
): BuildOptions & { write: false } {
  return {
    absWorkingDir: target.context,
    entryPoints: [target.entry],
    bundle: true,
    platform: "node",
    format: output.format,
    target: `node${target.node}`,
    external: externals,
    write: false,
    outfile: output.path,
    logLevel: "silent",
    logOverride: LOG_OVERRIDE,
    legalComments: "none",
    ...(output.format === "esm" ? { banner: { js: ESM_BANNER }, define: ESM_DEFINE } : {}),
  };
}

/**
 * esbuild warnings that mean the bundle behaves differently from the sources, made errors:
 * `import.meta` in CommonJS output is an empty object, so `new URL("x", import.meta.url)` (an
 * ESM dependency finding its own files) throws at run time where `node src/main.js` works.
 */
export const LOG_OVERRIDE = { "empty-import-meta": "error" } as const;

/** LOG_OVERRIDE as esbuild command-line flags. */
export const LOG_OVERRIDE_FLAGS = Object.entries(LOG_OVERRIDE).map(
  ([id, level]) => `--log-override:${id}=${level}`,
);

const NATIVE_HINT =
  "a native addon outside the context's node_modules (hoisted to a workspace root, say) cannot be bundled or found: tug ships native packages from the context's own node_modules, so install it there (npm install --workspace=… --install-strategy=nested), or build from the directory that holds node_modules";

const IMPORT_META_HINT =
  'the bundle is CommonJS and this code reads import.meta: make the app ESM (an .mjs/.mts entry, or "type": "module" in the package.json nearest the entry), put the package in external:, or set bundle: false';

export interface BundleResult {
  code: Uint8Array;
  /** Context-relative paths of the files the bundle read (esbuild's metafile inputs). */
  inputs: Set<string>;
}

export async function bundle(
  target: NodeTarget,
  externals: string[],
  output: BundleOutput,
  keyed: SourceFile[],
): Promise<BundleResult> {
  // A server keeps an incremental context per target (warm-bundles.ts). One-shot builds run
  // esbuild's native binary directly: loading its JS API and starting its service costs ~50 ms,
  // five times the bundling itself. On any failure the JS API runs instead, for its structured
  // errors.
  let out: { code: Uint8Array; metafile: BundleMetafile };
  const warm = await warmBundle(bundleOptions(target, externals, output)).catch((e: unknown) => {
    throw esbuildError(e, target);
  });
  const fast = warm ? undefined : await bundleWithBinary(target, externals, output);
  if (warm) out = { code: bundleOutput(warm), metafile: warm.metafile };
  else if (fast) out = fast;
  else {
    try {
      const { build: esbuild } = esbuildApi();
      const result = await esbuild({ ...bundleOptions(target, externals, output), metafile: true });
      out = { code: bundleOutput(result), metafile: result.metafile };
    } catch (e) {
      throw esbuildError(e, target);
    }
  }
  const uncovered = uncoveredBundleInputs(out.metafile, keyed);
  if (uncovered.length > 0) throw uncoveredInputsError(uncovered, target.where);
  const inputs = new Set(Object.keys(out.metafile.inputs).map((p) => p.replace(/^\.\//, "")));
  await checkDecoratorMetadata({
    inputs,
    baseDir: target.context,
    where: target.where,
    hint: "compile with tsc first and set entry: to its output (e.g. dist/main.js; bundle: false if the app cannot be bundled), or drop emitDecoratorMetadata if nothing reads the metadata",
  });
  return { code: out.code, inputs };
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
  output: BundleOutput,
): Promise<{ code: Uint8Array; metafile: BundleMetafile } | undefined> {
  const bin = esbuildBinary();
  if (!bin) return undefined;
  const o = bundleOptions(target, externals, output);
  const dir = await fs.mkdtemp(join(tmpdir(), "tug-esbuild-"));
  const metafile = join(dir, "meta.json");
  // esbuild writes a metafile only beside an output file: the bundle goes to the temp dir, at
  // the entry's own relative path (as the API's outfile), and is read back from there.
  const outfile = join(dir, "out", output.path);
  const args = [
    ...(o.entryPoints as string[]),
    "--bundle",
    `--platform=${o.platform}`,
    `--format=${o.format}`,
    `--target=${o.target}`,
    ...(o.external ?? []).map((x) => `--external:${x}`),
    `--legal-comments=${o.legalComments}`,
    ...LOG_OVERRIDE_FLAGS,
    ...(o.banner?.js ? [`--banner:js=${o.banner.js}`] : []),
    ...Object.entries(o.define ?? {}).map(([name, value]) => `--define:${name}=${value}`),
    "--log-level=error",
    `--outfile=${outfile}`,
    `--metafile=${metafile}`,
  ];
  try {
    const ok = await new Promise<boolean>((resolve) => {
      execFile(bin, args, { cwd: target.context }, (err) => resolve(!err));
    });
    if (!ok) return undefined;
    return {
      code: new Uint8Array(await fs.readFile(outfile)),
      metafile: JSON.parse(await fs.readFile(metafile, "utf8")) as BundleMetafile,
    };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
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
    hint: [
      ...errors.map((x) => (x.location ? `${x.location.file}:${x.location.line}: ${x.text}` : x.text)),
      ...(errors.some((x) => x.text.includes('"import.meta"')) ? [IMPORT_META_HINT] : []),
      ...(errors.some((x) => x.text.includes('".node" files')) ? [NATIVE_HINT] : []),
    ].join("; "),
  });
}
