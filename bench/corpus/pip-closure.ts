// pip's answer for one corpus set: `pip install --dry-run --report -` for the function's
// requirements on the set's target, from the same index, with pip's own configuration kept out.
// Reports are cached in the state dir by a hash of everything that feeds them, so a rerun of a
// long corpus only asks pip about what changed.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { manylinuxPlatforms } from "../support/pip-mirror.ts";
import { runProcess } from "./run-process.ts";
import type { CorpusSet } from "./sets.ts";

export interface PipClosure {
  /** normalised name → version; empty when pip refused. */
  versions: Record<string, string>;
  /** pip's last error lines when it refused. */
  error?: string;
  ms: number;
}

const DEFAULT_GLIBC: Record<CorpusSet["runtime"], number> = { "python3.11": 26, "python3.12": 34 };

export const normName = (n: string) => n.toLowerCase().replace(/[-_.]+/g, "-");

export function pipArgs(set: CorpusSet, urls: string[], dir: string): string[] {
  const minor = set.glibc ? Number(set.glibc.split(".")[1]) : DEFAULT_GLIBC[set.runtime];
  const arch = set.architecture === "arm64" ? "aarch64" : "x86_64";
  const py = set.runtime.replace("python", "");
  const abi = `cp${py.replace(".", "")}`;
  const [index, ...extra] = urls;
  const reqs = set.pip
    ? [...set.pip.requirements, ...(set.pip.constraints ? ["-c", join(dir, "constraints.txt")] : [])]
    : ["-r", join(dir, "requirements.txt")];
  return [
    "-m",
    "pip",
    "install",
    "--isolated",
    "--disable-pip-version-check",
    "--no-input",
    "--root-user-action=ignore",
    "-q",
    "--dry-run",
    "--ignore-installed",
    "--report",
    "-",
    "--only-binary=:all:",
    ...manylinuxPlatforms(minor, arch).flatMap((p) => ["--platform", p]),
    "--python-version",
    py,
    "--implementation",
    "cp",
    "--abi",
    abi,
    "--target",
    join(dir, "unused-target"),
    "--index-url",
    index ?? "",
    ...extra.flatMap((u) => ["--extra-index-url", u]),
    ...reqs,
  ];
}

export async function pipClosure(set: CorpusSet, urls: string[], stateDir: string): Promise<PipClosure> {
  const key = createHash("sha256")
    .update(JSON.stringify({ v: 1, set: { ...set, name: "" }, urls }))
    .digest("hex")
    .slice(0, 24);
  const cacheFile = join(stateDir, "pip-reports", `${key}.json`);
  if (existsSync(cacheFile)) return JSON.parse(readFileSync(cacheFile, "utf8")) as PipClosure;
  const dir = join(stateDir, "pip-inputs", key);
  mkdirSync(dir, { recursive: true });
  if (set.pip?.constraints) writeFileSync(join(dir, "constraints.txt"), set.pip.constraints);
  if (!set.pip) writeFileSync(join(dir, "requirements.txt"), set.requirements);
  const r = await runProcess("python3", pipArgs(set, urls, dir), {
    cwd: dir,
    env: { ...process.env, PIP_CONFIG_FILE: "/dev/null" },
    timeoutMs: 300_000,
  });
  let out: PipClosure;
  if (r.code === 0) {
    const report = JSON.parse(r.stdout) as {
      install: Array<{ metadata: { name: string; version: string } }>;
    };
    const versions: Record<string, string> = {};
    for (const i of report.install) versions[normName(i.metadata.name)] = i.metadata.version;
    out = { versions, ms: r.ms };
  } else {
    const lines = r.stderr.trim().split("\n").filter(Boolean);
    out = { versions: {}, error: lines.slice(-2).join(" ").slice(0, 300) || `exit ${r.code}`, ms: r.ms };
  }
  mkdirSync(join(stateDir, "pip-reports"), { recursive: true });
  if (!r.timedOut) writeFileSync(cacheFile, JSON.stringify(out));
  return out;
}
