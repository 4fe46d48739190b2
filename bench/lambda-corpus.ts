// Python lambda corpus vs pip (issue #10): for each real requirement set in bench/corpus/sets.ts,
// a tiny tug.yaml project whose handler imports the set's modules is built with tug (the CLI from
// source), and (a) tug's (distribution, version) set is compared with pip's `--dry-run --report`
// closure for the same target, (b) the zip is unpacked and every top-level module of every packed
// distribution is imported with only the zip on sys.path (`python3.X -I -S`), (c) `tug invoke`
// calls the handler. (b) and (c) run only where the target's interpreter and architecture do.
//
// Run: npx tsx bench/lambda-corpus.ts [--index-url URL]… [--only NAME]… [--state DIR] [--out FILE]
// The index defaults to the machine's wheel mirror (`pip config list`). Two cases at a time at
// most (this machine has 2 shared cores), a timeout per step, and pip reports cached by input
// hash under --state (default $TMPDIR/tug-lambda-corpus), so an interrupted run resumes cheaply.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { arch, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { normName, type PipClosure, pipClosure } from "./corpus/pip-closure.ts";
import { runProcess } from "./corpus/run-process.ts";
import { CORPUS, type CorpusSet } from "./corpus/sets.ts";
import { fmtMs, loadNote } from "./support/measure.ts";
import { pipConfigIndexUrls } from "./support/pip-mirror.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const IMPORT_CHECK = join(ROOT, "bench", "corpus", "import_check.py");
const HOST_ARCH = arch() === "arm64" ? "arm64" : "x86_64";
const STEP_TIMEOUT_MS = 600_000;
/** Resolved here: the projects live outside the repo, where a bare `--import tsx` finds nothing. */
const TSX_LOADER = import.meta.resolve("tsx");

interface Row {
  set: CorpusSet;
  versions: string;
  imports: string;
  invoke: string;
  tugMs: number | undefined;
  pipMs: number;
  pass: boolean;
  details: string[];
}

interface LambdaJson {
  kind: string;
  target: string;
  path: string;
  distributions: Array<{ name: string; version: string }>;
}

function handlerSource(set: CorpusSet): string {
  const lines = set.imports.map((m) => `import ${m}`);
  const roots = [...new Set(set.imports.map((m) => m.split(".")[0]!))];
  return `${lines.join("\n")}
${set.extraSource ?? ""}

def handler(event, context):
    return {"ok": True, "modules": [${roots.map((r) => `${r}.__name__`).join(", ")}]}
`;
}

function writeProject(dir: string, set: CorpusSet, urls: string[]): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const file = set.file ?? "requirements.txt";
  const [index, ...extra] = urls;
  writeFileSync(join(dir, file), set.requirements);
  writeFileSync(join(dir, "handler.py"), handlerSource(set));
  const fn: Record<string, string> = {
    runtime: set.runtime,
    architecture: set.architecture,
    handler: "handler.py:handler",
  };
  if (set.glibc) fn.glibc = set.glibc;
  if (set.upload) fn.upload = set.upload;
  writeFileSync(
    join(dir, "tug.yaml"),
    stringify({
      python: {
        index_url: index,
        extra_index_urls: extra,
        requirements: file,
        unknown_imports: set.unknownImports ?? "error",
      },
      lambdas: { [set.name]: fn },
    }),
  );
}

function hasPython(runtime: string): boolean {
  const r = spawnSync(runtime, ["-c", "import sys; print(sys.version)"], { encoding: "utf8" });
  return r.status === 0;
}

/** "same" or what differs, distribution by distribution. */
function compare(tug: Record<string, string>, pip: Record<string, string>): string[] {
  const out: string[] = [];
  for (const name of [...new Set([...Object.keys(tug), ...Object.keys(pip)])].sort()) {
    const t = tug[name];
    const p = pip[name];
    if (t === p) continue;
    out.push(`${name}: tug ${t ?? "-"} / pip ${p ?? "-"}`);
  }
  return out;
}

const lastLines = (s: string, n = 3) =>
  s.trim().split("\n").filter(Boolean).slice(-n).join(" ⏎ ").slice(0, 400);

async function runCase(set: CorpusSet, urls: string[], state: string): Promise<Row> {
  const dir = join(state, "projects", set.name);
  writeProject(dir, set, urls);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PIP_CONFIG_FILE: "/dev/null",
    TUG_CACHE: join(state, "tug-cache"),
  };
  delete env.TUG_INDEX_URL;
  const tug = (args: string[]) =>
    runProcess(process.execPath, ["--import", TSX_LOADER, join(ROOT, "src", "cli", "main.ts"), ...args], {
      cwd: dir,
      env,
      timeoutMs: STEP_TIMEOUT_MS,
    });
  const pip: PipClosure = await pipClosure(set, urls, state);
  // Rebuilt from nothing each run (the shared wheel cache stays): a stale zip would hide a change.
  rmSync(join(dir, ".tug"), { recursive: true, force: true });
  const built = await tug(["build", "-c", "tug.yaml", "--json"]);
  const row: Row = {
    set,
    versions: "",
    imports: "not run here",
    invoke: "not run here",
    tugMs: built.ms,
    pipMs: pip.ms,
    pass: false,
    details: [],
  };
  if (built.code !== 0) {
    const why = lastLines(built.timedOut ? "timed out" : built.stderr || built.stdout);
    if (set.refuses && pip.error && /no wheel/i.test(built.stderr)) {
      row.versions = "same (both refuse)";
      row.pass = true;
      row.details.push(`tug: ${why}`, `pip: ${pip.error}`);
    } else {
      row.versions = set.refuses ? "both refuse; tug not for the missing wheel" : "tug failed";
      row.details.push(
        `tug: ${why}`,
        pip.error ? `pip: ${pip.error}` : `pip: ${JSON.stringify(pip.versions)}`,
      );
    }
    row.imports = row.invoke = "-";
    return row;
  }
  const doc = JSON.parse(built.stdout) as { artifacts: LambdaJson[] };
  const lambda = doc.artifacts.find((a) => a.kind === "lambda" && a.target === set.name);
  if (!lambda) throw new Error(`${set.name}: tug --json has no lambda ${set.name}`);
  const tugVersions: Record<string, string> = {};
  for (const d of lambda.distributions) tugVersions[normName(d.name)] = d.version;
  if (pip.error) {
    row.versions = set.refuses ? "tug builds, pip refuses" : "pip refused";
    row.details.push(`pip: ${pip.error}`, `tug: ${JSON.stringify(tugVersions)}`);
  } else {
    const diff = compare(tugVersions, pip.versions);
    row.versions = diff.length ? "differs" : `same (${Object.keys(tugVersions).length})`;
    row.details.push(...diff);
  }
  let runnable = set.architecture === HOST_ARCH && hasPython(set.runtime);
  if (runnable) {
    const unpacked = join(dir, "unpacked");
    rmSync(unpacked, { recursive: true, force: true });
    const unzip = spawnSync("unzip", ["-q", lambda.path, "-d", unpacked], { encoding: "utf8" });
    if (unzip.status !== 0) throw new Error(`unzip ${lambda.path}: ${unzip.stderr}`);
    const check = await runProcess(set.runtime, ["-I", "-S", IMPORT_CHECK, unpacked], {
      cwd: tmpdir(),
      env: { PATH: process.env.PATH ?? "" },
      timeoutMs: STEP_TIMEOUT_MS,
    });
    if (check.code !== 0) {
      row.imports = "error";
      row.details.push(`import check: ${lastLines(check.stderr)}`);
    } else {
      const result = JSON.parse(check.stdout) as Record<string, Record<string, string | null>>;
      let total = 0;
      const failed: string[] = [];
      const optional: string[] = [];
      for (const [dist, modules] of Object.entries(result))
        for (const [m, err] of Object.entries(modules)) {
          total++;
          const line = `${m} (${dist.replace(/\.dist-info$/, "")}): ${err}`;
          if (err?.startsWith("optional: ")) optional.push(line);
          else if (err) failed.push(line);
        }
      const ok = total - failed.length - optional.length;
      row.imports = failed.length
        ? `${failed.length}/${total} fail`
        : `${ok} ok${optional.length ? ` (+${optional.length} need an extra)` : ""}`;
      row.details.push(...failed.map((f) => `import ${f}`));
      if (optional.length)
        row.details.push(
          `needs a dependency no requirement asked for (as with pip): ${optional.map((o) => o.split(" ")[0]).join(", ")}`,
        );
    }
    const invoked = await tug(["invoke", set.name, "-c", "tug.yaml", "--event", "{}"]);
    const ok = invoked.code === 0 && invoked.stdout.includes('"ok":true');
    row.invoke = ok ? "ok" : "fails";
    if (!ok) row.details.push(`invoke: ${lastLines(invoked.stderr || invoked.stdout)}`);
  } else {
    runnable = false;
  }
  const versionsOk = row.versions.startsWith("same");
  row.pass = versionsOk && (!runnable || (/^\d+ ok/.test(row.imports) && row.invoke === "ok"));
  return row;
}

async function pool<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

function table(rows: Row[]): string {
  const head =
    "| set | runtime / arch | tug vs pip | import check | invoke | tug build | pip dry-run | pass |";
  const lines = [head, "|---|---|---|---|---|---|---|---|"];
  for (const r of rows) {
    const target = `${r.set.runtime} ${r.set.architecture}${r.set.glibc ? ` glibc ${r.set.glibc}` : ""}`;
    lines.push(
      `| ${r.set.name} | ${target} | ${r.versions} | ${r.imports} | ${r.invoke} | ${r.tugMs === undefined ? "-" : fmtMs(r.tugMs)} | ${fmtMs(r.pipMs)} | ${r.pass ? "yes" : "**no**"} |`,
    );
  }
  const notes = rows
    .filter((r) => r.details.length)
    .map((r) => `- **${r.set.name}**: ${r.details.join("; ").replace(/\|/g, "\\|")}`);
  return `${lines.join("\n")}\n${notes.length ? `\nDetails:\n\n${notes.join("\n")}\n` : ""}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "index-url": { type: "string", multiple: true },
      only: { type: "string", multiple: true },
      state: { type: "string", default: join(tmpdir(), "tug-lambda-corpus") },
      out: { type: "string" },
      jobs: { type: "string", default: "2" },
    },
  });
  const urls = values["index-url"]?.length ? values["index-url"] : pipConfigIndexUrls();
  if (urls.length === 0) {
    console.error(
      "lambda-corpus: no index URL (pass --index-url, or configure pip's index-url/extra-index-url)",
    );
    process.exit(1);
  }
  const sets = values.only?.length ? CORPUS.filter((s) => values.only!.includes(s.name)) : CORPUS;
  const state = values.state!;
  mkdirSync(state, { recursive: true });
  const jobs = Math.min(2, Math.max(1, Number(values.jobs)));
  const head = spawnSync("git", ["log", "-1", "--format=%h %s"], {
    cwd: ROOT,
    encoding: "utf8",
  }).stdout.trim();
  console.error(
    `lambda-corpus: ${sets.length} sets, ${jobs} at a time, ${loadNote()}; tug at ${head}; index ${urls.join(", ")}; state ${state}`,
  );
  const t0 = performance.now();
  const rows = await pool(sets, jobs, async (set) => {
    const row = await runCase(set, urls, state);
    console.error(
      `  ${row.pass ? "pass" : "FAIL"} ${set.name}: ${row.versions}, imports ${row.imports}, invoke ${row.invoke}`,
    );
    return row;
  });
  const passed = rows.filter((r) => r.pass).length;
  const text = `${table(rows)}\n${passed}/${rows.length} rows pass; ${fmtMs(performance.now() - t0)} wall, ${loadNote()}; tug at ${head}.\n`;
  process.stdout.write(text);
  const out = values.out ?? join(state, "corpus.md");
  writeFileSync(out, text);
  console.error(`lambda-corpus: table written to ${out}`);
  if (readFileSync(out, "utf8") !== text) throw new Error(`could not write ${out}`);
  process.exitCode = passed === rows.length ? 0 : 1;
}

await main();
