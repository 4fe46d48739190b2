import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { TugError } from "../errors.ts";
import { withoutUserinfo } from "./index-auth.ts";
import { chooseIndexUrls } from "./index-urls.ts";
import type { IndexOption } from "./requirements-file.ts";
import { readRequirementsSource } from "./requirements-source.ts";

const same = (a: string, b: string) =>
  withoutUserinfo(a).replace(/\/+$/, "") === withoutUserinfo(b).replace(/\/+$/, "");

/**
 * The indexes a build uses once the requirements file has its say, as pip reads it: an
 * `--index-url` in the file replaces the default index (PyPI, PIP_INDEX_URL, UV_INDEX_URL) and
 * `--extra-index-url` lines are added after python.extra_index_urls. When tug itself names an
 * index (--index-url, python.index_url, TUG_INDEX_URL) and the file names another, or two files
 * name different ones, tug cannot tell which is meant: one error naming both. Messages show URLs
 * without their login; the index client sends a login only to its own URL's origin.
 */
export function indexUrlsWithFileOptions(o: {
  /** python.index_url or the CLI's --index-url. */
  indexUrl: string | undefined;
  extraIndexUrls: readonly string[];
  env: NodeJS.ProcessEnv;
  defaultUrl: string;
  options: readonly IndexOption[];
}): string[] {
  const indexes = o.options.filter((x) => x.option === "--index-url");
  const first = indexes[0];
  const other = indexes.find((x) => first && !same(x.url, first.url));
  if (first && other) {
    throw new TugError({
      what: `the requirements name two indexes: ${withoutUserinfo(first.url)} (${first.file}:${first.line}) and ${withoutUserinfo(other.url)} (${other.file}:${other.line})`,
      where: `${other.file}:${other.line}`,
      hint: "keep one --index-url and add the other with --extra-index-url",
    });
  }
  const tugIndex = o.indexUrl ?? (o.env.TUG_INDEX_URL?.trim() || undefined);
  if (first && tugIndex !== undefined && !same(first.url, tugIndex)) {
    throw new TugError({
      what: `${first.file}:${first.line} names the index ${withoutUserinfo(first.url)}, but tug is told to use ${withoutUserinfo(tugIndex)}`,
      where: `${first.file}:${first.line}`,
      hint: "tug cannot tell which one you mean: remove --index-url from the file, or make python.index_url / --index-url / TUG_INDEX_URL name the same index",
    });
  }
  const extras = [...o.extraIndexUrls];
  for (const x of o.options) {
    if (x.option === "--extra-index-url" && !extras.some((e) => same(e, x.url))) extras.push(x.url);
  }
  return chooseIndexUrls({
    indexUrl: first?.url ?? o.indexUrl,
    extraIndexUrls: extras,
    env: o.env,
    defaultUrl: o.defaultUrl,
  });
}

/**
 * The index options of the project's pip requirements file (none for pyproject.toml, uv.lock or a
 * file that does not exist: the lambdas that need it say so themselves).
 */
export async function requirementsIndexOptions(
  file: string,
  where: string,
  dir: string,
): Promise<IndexOption[]> {
  const name = basename(file);
  if (name === "pyproject.toml" || name === "uv.lock") return [];
  if (!(await stat(file).catch(() => undefined))) return [];
  return (await readRequirementsSource(file, where, dir)).indexOptions ?? [];
}
