import { withoutUserinfo } from "./index-auth.ts";

/**
 * Which indexes a build uses, in this order of precedence (the first that is set wins):
 *   1. --index-url (the CLI puts it into python.index_url), 2. python.index_url in tug.yaml,
 *   3. TUG_INDEX_URL, 4. PIP_INDEX_URL, 5. UV_INDEX_URL, 6. PyPI.
 * Extra indexes: python.extra_index_urls always; PIP_EXTRA_INDEX_URL and UV_EXTRA_INDEX_URL
 * (whitespace-separated, as pip and uv read them) only when tug itself names no index (1–3), so
 * a project that says where its packages come from is not changed by a pip setting in the shell.
 */
export function chooseIndexUrls(opts: {
  indexUrl: string | undefined;
  extraIndexUrls: readonly string[];
  env: NodeJS.ProcessEnv;
  defaultUrl: string;
}): string[] {
  const { env } = opts;
  const tugIndex = opts.indexUrl ?? nonEmpty(env.TUG_INDEX_URL);
  const index =
    tugIndex ?? nonEmpty(env.PIP_INDEX_URL)?.trim() ?? nonEmpty(env.UV_INDEX_URL)?.trim() ?? opts.defaultUrl;
  const extras = [...opts.extraIndexUrls];
  if (tugIndex === undefined) {
    for (const name of ["PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL"]) {
      for (const url of (env[name] ?? "").split(/\s+/)) if (url) extras.push(url);
    }
  }
  return [index, ...extras];
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

/**
 * The index URLs as keys and records hold them: without `user:password@` (a rotated password
 * neither rebuilds anything nor lands in a record); a URL without a login is kept byte for byte,
 * so keys of honest builds do not change.
 */
export function indexUrlsForKeys(urls: readonly string[]): string[] {
  return urls.map(withoutUserinfo);
}

/** Whether any of the URLs carries a login (`user:password@`): such a value must not be recorded. */
export function hasIndexLogin(urls: readonly (string | undefined)[]): boolean {
  return urls.some((u) => u !== undefined && withoutUserinfo(u) !== u);
}
