/**
 * Path globs for `fall_back_on` and `run.when`, relative to the context with '/' separators:
 * `*` and `?` stay within one path segment, `**` spans segments, and a pattern without a
 * wildcard also matches everything under it when it names a directory (`src/` or `src`).
 */
export function globToRegExp(pattern: string): RegExp {
  let p = pattern.replace(/^\.\//, "");
  const dirPrefix = !/[*?[]/.test(p);
  if (p.endsWith("/")) p = p.slice(0, -1);
  let re = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === "*") {
      if (p[i + 1] === "*") {
        const slash = p[i + 2] === "/";
        re += slash ? "(?:.*/)?" : ".*";
        i += slash ? 2 : 1;
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(dirPrefix ? `^${re}(?:/.*)?$` : `^${re}$`);
}

export function matchesAny(path: string, patterns: string[]): boolean {
  return patterns.some((p) => globToRegExp(p).test(path));
}
