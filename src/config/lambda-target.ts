import { extname, resolve } from "node:path";
import { TugError } from "../errors.ts";
import { parseNodeRuntime } from "../lambda/node/runtime.ts";
import { chooseIndexUrls } from "../python/index-urls.ts";
import { normalizeName } from "../python/name.ts";
import { parseRuntime } from "../python/runtime.ts";
import { zipNameOf } from "../python/source-roots.ts";
import type { RawLambdaTarget, RawLayer, TugFile } from "./schema.ts";
import type { LambdaTarget, NodeLambdaTarget, PythonLayerTarget, PythonSettings } from "./types.ts";

const NODE_ONLY = ["minify", "sourcemap", "external", "native"] as const;

/** Normalises one `layers:` entry. */
export function toLayerTarget(name: string, raw: RawLayer, where: string): PythonLayerTarget {
  const runtime = parseRuntime(raw.runtime, {
    arch: raw.architecture,
    ...(raw.glibc === undefined ? {} : { glibc: raw.glibc }),
    ...(raw.python_version === undefined ? {} : { pythonVersion: raw.python_version }),
    where,
  });
  return { name, where, runtime, requirements: raw.requirements, upload: raw.upload ?? "direct" };
}

/** Every layer a lambda names exists and is built for the lambda's Python and architecture. */
export function checkLayerUse(lambdas: readonly LambdaTarget[], layers: readonly PythonLayerTarget[]): void {
  for (const l of lambdas) {
    if (l.language !== "python") continue;
    for (const name of l.layers) {
      const layer = layers.find((x) => x.name === name);
      if (!layer) {
        throw new TugError({
          what: `lambda ${l.name} uses layer ${name}, which tug.yaml does not define`,
          where: l.where,
          hint: `layers are: ${layers.map((x) => x.name).join(", ") || "(none; add a layers: section)"}`,
        });
      }
      const a = layer.runtime;
      const b = l.runtime;
      if (a.python[1] !== b.python[1] || a.arch !== b.arch) {
        throw new TugError({
          what: `layer ${name} is built for ${a.runtime}/${a.arch}, but lambda ${l.name} runs ${b.runtime}/${b.arch}`,
          where: l.where,
          hint: "a layer's wheels only fit the Python version and architecture it was built for; give the layer the same runtime and architecture",
        });
      }
      if (a.fullVersion !== b.fullVersion) {
        throw new TugError({
          what: `layer ${name} is resolved for Python ${a.fullVersion}, but lambda ${l.name} for ${b.fullVersion}`,
          where: l.where,
          hint: "markers on python_full_version may pick other distributions for each; give both the same python_version",
        });
      }
    }
  }
}
const NODE_EXTENSIONS = [".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs"];

/** Normalises one `lambdas:` entry: parsed runtime, absolute handler file, AWS handler string. */
export function toLambdaTarget(
  name: string,
  raw: RawLambdaTarget,
  dir: string,
  where: string,
  /** Absolute python.source_roots: a Python handler under one is named relative to it (as in the zip). */
  sourceRoots: readonly string[] = [],
): LambdaTarget {
  const colon = raw.handler.lastIndexOf(":");
  const file = raw.handler.slice(0, colon).replace(/^\.\//, "");
  const handlerFunction = raw.handler.slice(colon + 1);
  if (raw.runtime.startsWith("nodejs"))
    return toNodeLambdaTarget({ name, raw, dir, where, file, handlerFunction });
  const nodeOnly = NODE_ONLY.filter((k) => raw[k] !== undefined);
  if (nodeOnly.length > 0) {
    throw new TugError({
      what: `${nodeOnly.join(", ")} ${nodeOnly.length === 1 ? "is" : "are"} only for Node.js lambdas, and ${name} runs ${raw.runtime}`,
      where,
      hint: `remove ${nodeOnly.join(", ")} from lambdas.${name}`,
    });
  }
  const runtime = parseRuntime(raw.runtime, {
    arch: raw.architecture,
    ...(raw.glibc === undefined ? {} : { glibc: raw.glibc }),
    ...(raw.python_version === undefined ? {} : { pythonVersion: raw.python_version }),
    where,
  });
  if (!file.endsWith(".py")) {
    throw new TugError({
      what: `handler file ${file} is not a .py file`,
      where,
      hint: "write the handler as FILE.py:FUNCTION, e.g. lambdas/echo.py:handler",
    });
  }
  return {
    language: "python",
    layers: raw.layers ?? [],
    name,
    where,
    runtime,
    handlerFile: resolve(dir, file),
    handlerFunction,
    awsHandler: `${zipNameOf(resolve(dir, file), dir, sourceRoots).slice(0, -".py".length)}.${handlerFunction}`,
    upload: raw.upload ?? "direct",
    include: raw.include ?? [],
  };
}

function toNodeLambdaTarget(o: {
  name: string;
  raw: RawLambdaTarget;
  dir: string;
  where: string;
  file: string;
  handlerFunction: string;
}): NodeLambdaTarget {
  const { name, raw, where, file } = o;
  if (raw.layers !== undefined) {
    throw new TugError({
      what: `layers are only for Python lambdas, and ${name} runs ${raw.runtime}`,
      where,
      hint: `remove layers from lambdas.${name}; a Node.js bundle carries its dependencies`,
    });
  }
  if (raw.glibc !== undefined) {
    throw new TugError({
      what: `glibc is only for Python lambdas, and ${name} runs ${raw.runtime}`,
      where,
      hint: `remove glibc from lambdas.${name}; a Node.js bundle does not depend on the glibc version`,
    });
  }
  for (const key of ["python_version", "upload", "include"] as const) {
    if (raw[key] === undefined) continue;
    throw new TugError({
      what: `${key} is only for Python lambdas, and ${name} runs ${raw.runtime}`,
      where,
      hint: `remove ${key} from lambdas.${name}`,
    });
  }
  const runtime = parseNodeRuntime(raw.runtime, raw.architecture, where);
  const ext = extname(file);
  if (!NODE_EXTENSIONS.includes(ext)) {
    throw new TugError({
      what: `handler file ${file} is not a JavaScript or TypeScript file`,
      where,
      hint: `write the handler as FILE:FUNCTION with FILE ending in ${NODE_EXTENSIONS.join(", ")}, e.g. src/api.ts:handler`,
    });
  }
  return {
    language: "node",
    name,
    where,
    runtime,
    handlerFile: resolve(o.dir, file),
    handlerFunction: o.handlerFunction,
    // The bundle is FILE.js next to where the source was, so AWS finds it as FILE.FUNCTION.
    awsHandler: `${file.slice(0, -ext.length)}.${o.handlerFunction}`,
    minify: raw.minify ?? false,
    sourcemap: raw.sourcemap ?? false,
    external: raw.external ?? [],
    native: raw.native ?? [],
  };
}

export const PYPI_SIMPLE = "https://pypi.org/simple";

export function toPythonSettings(raw: TugFile["python"], dir: string): PythonSettings {
  return {
    ...(raw?.index_url === undefined ? {} : { indexUrl: raw.index_url }),
    extraIndexUrls: raw?.extra_index_urls ?? [],
    requirementsFile: resolve(dir, raw?.requirements ?? "requirements.txt"),
    sourceRoots: (raw?.source_roots ?? []).map((r) => resolve(dir, r)),
    moduleMapping: Object.fromEntries(
      Object.entries(raw?.module_mapping ?? {}).map(([dist, mods]) => [normalizeName(dist), mods]),
    ),
    unknownImports: raw?.unknown_imports ?? "warn",
    strip: raw?.strip ?? { tests: false, pyi: false, docs: false },
  };
}

/** --index-url / tug.yaml's index_url, else TUG_INDEX_URL, PIP_INDEX_URL, UV_INDEX_URL, PyPI; then the extras (index-urls.ts). */
export function indexUrls(settings: PythonSettings, env: NodeJS.ProcessEnv = process.env): string[] {
  return chooseIndexUrls({
    indexUrl: settings.indexUrl,
    extraIndexUrls: settings.extraIndexUrls,
    env,
    defaultUrl: PYPI_SIMPLE,
  });
}
