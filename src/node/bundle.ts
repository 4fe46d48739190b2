import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { dirname, extname, join, relative, resolve, sep } from "node:path";
import type { BuildOptions, Metafile } from "esbuild";
import { esbuildBinary } from "../builders/node.ts";
import type { NodeLambdaTarget } from "../config/types.ts";
import { TugError } from "../errors.ts";
import { checkDecoratorMetadata } from "./decorator-metadata.ts";
import { LOG_OVERRIDE, LOG_OVERRIDE_FLAGS } from "./esbuild-api.ts";
import { esbuildApi } from "./esbuild-module.ts";

export interface LambdaBundle {
  /** In-zip path of the bundle: the handler's path with `.js`, e.g. `src/api.js`. */
  name: string;
  code: Uint8Array;
  /** The source map, at `${name}.map`, with sources relative to it as the zip lays them out. */
  map: Uint8Array | undefined;
  /** Absolute paths of every file bundled. */
  inputs: string[];
  /** Package names the bundle still requires at run time (builtins excluded). */
  requires: string[];
}

export interface BundleOptions {
  target: NodeLambdaTarget;
  /** Directory of tug.yaml: the zip's root, and esbuild's working directory. */
  projectDir: string;
  /** Patterns esbuild leaves as `require()` calls. */
  externals: string[];
  /** An empty scratch directory esbuild writes into. */
  staging: string;
}

/** In-zip path of a handler's bundle: `src/api.ts` → `src/api.js`, next to where the source was. */
export function bundleName(target: NodeLambdaTarget, projectDir: string): string {
  const rel = relative(projectDir, target.handlerFile).split(sep).join("/");
  return `${rel.slice(0, rel.length - extname(rel).length)}.js`;
}

/**
 * esbuild options for one handler. CommonJS output, as `FILE.js`: Lambda loads it with
 * require(), bundled CommonJS dependencies and `__dirname` work as they are, and externals
 * (native addons, @aws-sdk) are reached through require() with esbuild's interop, where ESM
 * output would depend on Node guessing the named exports of CommonJS packages. The cost is no
 * top-level await, which esbuild reports as an error with its line.
 */
export function lambdaBundleOptions(o: BundleOptions): BuildOptions {
  const entry = relative(o.projectDir, o.target.handlerFile).split(sep).join("/");
  return {
    absWorkingDir: o.projectDir,
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: `node${o.target.runtime.major}`,
    external: o.externals,
    outfile: join(o.staging, bundleName(o.target, o.projectDir)),
    minify: o.target.minify,
    sourcemap: o.target.sourcemap ? "linked" : false,
    metafile: true,
    write: true,
    logLevel: "silent",
    logOverride: LOG_OVERRIDE,
    legalComments: "none",
  };
}

/** The same options as esbuild command-line flags (the metafile goes to `metafile`). */
function binaryArgs(options: BuildOptions, metafile: string): string[] {
  return [
    ...(options.entryPoints as string[]),
    "--bundle",
    `--platform=${options.platform}`,
    `--format=${options.format}`,
    `--target=${options.target}`,
    ...(options.external ?? []).map((x) => `--external:${x}`),
    `--outfile=${options.outfile}`,
    ...(options.minify ? ["--minify"] : []),
    ...(options.sourcemap ? ["--sourcemap"] : []),
    `--metafile=${metafile}`,
    `--legal-comments=${options.legalComments}`,
    ...LOG_OVERRIDE_FLAGS,
    "--log-level=error",
  ];
}

/**
 * Bundles one handler into `staging`. The native binary runs first (the JS API costs ~50 ms to
 * start, more than a small bundle); on failure the JS API runs the same build for structured
 * errors, reported as one TugError at the first error's file:line:col.
 */
export async function bundleLambda(o: BundleOptions): Promise<LambdaBundle> {
  const options = lambdaBundleOptions(o);
  const metafilePath = join(o.staging, "meta.json");
  const bin = esbuildBinary();
  const fast =
    bin !== undefined &&
    (await new Promise<boolean>((done) =>
      execFile(bin, binaryArgs(options, metafilePath), { cwd: o.projectDir }, (err) => done(!err)),
    ));
  let metafile: Metafile;
  if (fast) {
    metafile = JSON.parse(await readFile(metafilePath, "utf8")) as Metafile;
  } else {
    try {
      const { build } = esbuildApi();
      metafile = (await build(options)).metafile as Metafile;
    } catch (e) {
      throw bundleError(e, o);
    }
    await writeFile(metafilePath, JSON.stringify(metafile));
  }
  await checkDecoratorMetadata({
    inputs: Object.keys(metafile.inputs),
    baseDir: o.projectDir,
    where: o.target.where,
    hint: "compile with tsc first and point handler: at its output (e.g. dist/handler.js:handler), or drop emitDecoratorMetadata if nothing reads the metadata",
  });
  const name = bundleName(o.target, o.projectDir);
  const outfile = options.outfile as string;
  const code = await readFile(outfile);
  checkExported({ metafile, code, options, target: o.target, projectDir: o.projectDir });
  const map = o.target.sourcemap
    ? relocateSourceMap(await readFile(`${outfile}.map`), dirname(outfile), dirname(join(o.projectDir, name)))
    : undefined;
  const output = Object.values(metafile.outputs).find((x) => x.entryPoint !== undefined);
  const requires = new Set(
    (output?.imports ?? []).filter((i) => i.external).flatMap((i) => packageOf(i.path) ?? []),
  );
  return {
    name,
    code,
    map,
    inputs: Object.keys(metafile.inputs).map((p) => resolve(o.projectDir, p)),
    requires: [...requires].sort(),
  };
}

/** `@scope/pkg/sub` → `@scope/pkg`, `pkg/sub` → `pkg`; undefined for builtins and relative paths. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith("node:") || specifier.startsWith(".") || specifier.startsWith("/"))
    return undefined;
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
  if (!name || BUILTINS.has(name)) return undefined;
  return name;
}

const BUILTINS = new Set(builtinModules);

/**
 * A source map's `sources` are relative to the file it was written next to (the staging dir);
 * rewrite them as relative to where the bundle sits in the zip, so stack traces name real paths.
 */
function relocateSourceMap(map: Uint8Array, from: string, to: string): Uint8Array {
  const json = JSON.parse(Buffer.from(map).toString("utf8")) as { sources: string[] };
  json.sources = json.sources.map((s) => relative(to, resolve(from, s)).split(sep).join("/"));
  return Buffer.from(JSON.stringify(json));
}

/**
 * The handler function must be an export of the entry. For an ES module entry, esbuild's
 * CommonJS output ends with `0 && (module.exports = {a, b})`, the annotation that lets Node
 * see its export names; a CommonJS entry's exports are only known by running it.
 */
function checkExported(o: {
  metafile: Metafile;
  code: Uint8Array;
  options: BuildOptions;
  target: NodeLambdaTarget;
  projectDir: string;
}): void {
  const entry = (o.options.entryPoints as string[])[0] as string;
  const format = o.metafile.inputs[entry]?.format;
  if (format === "cjs") return;
  const exports = format === "esm" ? annotatedExports(Buffer.from(o.code).toString("utf8")) : [];
  const fn = o.target.handlerFunction;
  if (exports.includes(fn)) return;
  throw new TugError({
    what: `handler function ${fn} is not exported by ${entry}`,
    where: o.target.where,
    hint: exports.length
      ? `it exports: ${exports.join(", ")}`
      : `export it from ${entry}: export async function ${fn}(event, context) { … }`,
  });
}

/** Names in esbuild's trailing `0 && (module.exports = {…})` annotation. */
export function annotatedExports(code: string): string[] {
  const m = /0\s*&&\s*\(module\.exports\s*=\s*\{([^}]*)\}\);?\s*(?:\/\/# sourceMappingURL=\S+\s*)?$/.exec(
    code,
  );
  if (!m?.[1]) return [];
  return m[1]
    .split(",")
    .map((item) => item.trim().replace(/\s*:\s*null$/, ""))
    .filter((item) => item !== "")
    .map((item) => (item.startsWith('"') ? (JSON.parse(item) as string) : item));
}

interface EsbuildMessage {
  text: string;
  location?: { file: string; line: number; column: number; lineText?: string } | null;
}

/** esbuild's failure as one TugError pointing at the first error's file:line:col. */
function bundleError(e: unknown, o: BundleOptions): unknown {
  const errors = (e as { errors?: EsbuildMessage[] }).errors;
  if (!errors) return e;
  const entry = relative(o.projectDir, o.target.handlerFile).split(sep).join("/");
  const at = (m: EsbuildMessage) =>
    m.location ? `${m.location.file}:${m.location.line}:${m.location.column}` : undefined;
  const first = errors[0];
  return new TugError({
    what: `esbuild could not bundle ${entry} for lambda ${o.target.name}: ${first?.text ?? "unknown error"}`,
    where: (first && at(first)) ?? o.target.where,
    hint: errors
      .slice(0, 10)
      .map((m) => (m.location ? `${at(m)}: ${m.text}\n    ${m.location.lineText ?? ""}` : m.text))
      .join("\n"),
  });
}
