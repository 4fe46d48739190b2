// The local PEP 503 wheel mirror that this machine's pip is configured with, for benches that
// compare tug's Python packaging with pip: its URLs (from `pip config list`), a presence check,
// and pip's `--platform` list for a manylinux target.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The index URLs named by pip's own configuration: `index-url` first (when set), then every
 * `extra-index-url`, in order, without duplicates. Values in `pip config list` are quoted and
 * may hold several URLs separated by whitespace.
 */
export function pipConfigIndexUrls(python = "python3"): string[] {
  const r = spawnSync(python, ["-m", "pip", "config", "list"], { encoding: "utf8" });
  if (r.error || r.status !== 0) return [];
  const index: string[] = [];
  const extra: string[] = [];
  for (const line of r.stdout.split("\n")) {
    const m = /^[^=]*\.(index-url|extra-index-url)='(.*)'$/.exec(line.trim());
    if (!m) continue;
    const urls = m[2]!.split(/\s+/).filter(Boolean);
    (m[1] === "index-url" ? index : extra).push(...urls);
  }
  return [...new Set([...index, ...extra])];
}

/**
 * Why the mirror cannot serve `projects`, or undefined when it can. Only `file://` indexes are
 * checked (a project is there when `simple/NAME/` exists); an http(s) index is taken on trust.
 */
export function mirrorProblem(urls: string[], projects: string[]): string | undefined {
  if (urls.length === 0) return "no index URL: `pip config list` names no index-url or extra-index-url";
  const local = urls.filter((u) => u.startsWith("file:"));
  if (local.length < urls.length) return undefined;
  const dirs = local.map((u) => fileURLToPath(u));
  const absent = dirs.filter((d) => !existsSync(d));
  if (absent.length === dirs.length) return `the index directories do not exist: ${absent.join(", ")}`;
  const missing = projects.filter((p) => !dirs.some((d) => existsSync(join(d, p))));
  if (missing.length) return `no index among ${urls.join(", ")} lists ${missing.join(", ")}`;
  return undefined;
}

/**
 * pip's `--platform` values for a glibc ceiling, best first, the way packaging.tags orders them
 * on such a host: manylinux_2_N from the ceiling down (to 2_17 for aarch64, 2_5 for x86_64) with
 * the legacy aliases beside their equivalents. pip 23 does not widen `manylinux_2_28_x86_64` to
 * the older tags itself (it only does so for manylinux2014/2010), so every one is passed.
 */
export function manylinuxPlatforms(glibcMinor: number, arch: "x86_64" | "aarch64"): string[] {
  const legacy: Record<number, string> = { 17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1" };
  const floor = arch === "aarch64" ? 17 : 5;
  const out: string[] = [];
  for (let minor = glibcMinor; minor >= floor; minor--) {
    out.push(`manylinux_2_${minor}_${arch}`);
    const alias = legacy[minor];
    if (alias) out.push(`${alias}_${arch}`);
  }
  return out;
}
