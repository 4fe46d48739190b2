import { resolve } from "node:path";
import { TugError } from "../errors.ts";
import { parseRuntime } from "../lambda/python/runtime.ts";
import type { RawLambdaTarget, TugFile } from "./schema.ts";
import type { LambdaTarget, PythonSettings } from "./types.ts";

/** Normalises one `lambdas:` entry: parsed runtime, absolute handler file, AWS handler string. */
export function toLambdaTarget(name: string, raw: RawLambdaTarget, dir: string, where: string): LambdaTarget {
  if (raw.runtime.startsWith("nodejs")) {
    throw new TugError({
      what: `Node.js lambdas (${raw.runtime}) are not supported yet`,
      where,
      hint: "use a python3.9 … python3.14 runtime, or build the function as an image",
    });
  }
  const runtime = parseRuntime(raw.runtime, {
    arch: raw.architecture,
    ...(raw.glibc === undefined ? {} : { glibc: raw.glibc }),
    where,
  });
  const colon = raw.handler.lastIndexOf(":");
  const file = raw.handler.slice(0, colon).replace(/^\.\//, "");
  const handlerFunction = raw.handler.slice(colon + 1);
  if (!file.endsWith(".py")) {
    throw new TugError({
      what: `handler file ${file} is not a .py file`,
      where,
      hint: "write the handler as FILE.py:FUNCTION, e.g. lambdas/echo.py:handler",
    });
  }
  return {
    language: "python",
    name,
    where,
    runtime,
    handlerFile: resolve(dir, file),
    handlerFunction,
    awsHandler: `${file.slice(0, -".py".length)}.${handlerFunction}`,
  };
}

export const PYPI_SIMPLE = "https://pypi.org/simple";

export function toPythonSettings(raw: TugFile["python"], dir: string): PythonSettings {
  return {
    ...(raw?.index_url === undefined ? {} : { indexUrl: raw.index_url }),
    extraIndexUrls: raw?.extra_index_urls ?? [],
    requirementsFile: resolve(dir, raw?.requirements ?? "requirements.txt"),
  };
}

/** tug.yaml's index_url, else TUG_INDEX_URL, else PyPI; then the extra indexes. */
export function indexUrls(settings: PythonSettings, env: NodeJS.ProcessEnv = process.env): string[] {
  return [settings.indexUrl ?? env.TUG_INDEX_URL ?? PYPI_SIMPLE, ...settings.extraIndexUrls];
}
