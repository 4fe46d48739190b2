// A cold CI runner with a warm shared remote cache, on the generated 20-image repo.
// Run: node --import tsx bench/remote-cache.ts  (after `node scripts/build.mjs`: the CLI measured
// is bin/tug.js over dist/).
//
// The remote cache is Debian's nginx as a WebDAV PUT store (the Bazel HTTP cache protocol) on
// 127.0.0.1, with an access log from which every request a build makes is counted. It is filled
// once by a first build from another checkout directory. Then, each run on a FRESH copy of the
// repo (new directory, new mtimes) and a FRESH local cache (TUG_CACHE, which also holds tug's
// GOCACHE), as a new CI runner would have:
//   1. cold, no remote cache (today's CI runner);
//   2. cold + warm remote cache (nothing should execute);
//   3. one file changed, cold + warm remote (only that target should rebuild);
// and, for reference, the fully local warm (no-op) build, with and without the remote set.
// Timed runs are `tug build --out DIR -q --json`; one extra untimed run per scenario with
// `--timings` lists the builder steps that ran (and would show a remote-cache warning).
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  fmtMs,
  fmtSpread,
  loadNote,
  median,
  printTable,
  progress,
  type RunResult,
  type Spread,
  spread,
  timed,
} from "./support/measure.ts";
import { type BenchNginxDav, type RequestCounts, startBenchNginxDav } from "./support/nginx-dav.ts";
import { writeTwentyImageRepo } from "./support/twenty-images.ts";
import { benchDir } from "./support/work-dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TUG = join(ROOT, "bin", "tug.js");
const RUNS = 5;
const NOOP_RUNS = 9;

interface ArtifactJson {
  target: string;
  digest: string;
  cached: boolean;
}

interface BuildJson {
  ms: number;
  artifacts: ArtifactJson[];
}

interface Sample {
  ms: number;
  inProcessMs: number;
  rebuilt: string[];
  digests: Record<string, string>;
  requests: RequestCounts;
}

interface Step {
  target: string;
  step: string;
  built: boolean;
  ms: number;
}

interface StepsRun {
  steps: Step[];
  warnings: string[];
}

/** `publish` writes the target's outputs under --out; every other step is build work. */
const isOutput = (s: Step): boolean => s.step === "publish";

interface Scenario {
  name: string;
  samples: Sample[];
  steps?: StepsRun;
}

async function main(): Promise<void> {
  const work = benchDir("tug-bench-remote-");
  let nginx: BenchNginxDav | undefined;
  const t0 = performance.now();
  try {
    nginx = await startBenchNginxDav(join(work, "nginx"));
    const dav = nginx;
    progress(`nginx WebDAV cache at ${dav.url}; generating the repo`);
    const template = join(work, "template");
    const repo = await writeTwentyImageRepo(template);
    let seq = 0;
    /** A fresh checkout (a copy: new directory, new mtimes) and a fresh, empty local cache. */
    const fresh = (): { dir: string; cache: string; done: () => void } => {
      const n = seq++;
      const dir = join(work, `checkout-${n}`);
      const cache = join(work, `cache-${n}`);
      cpSync(template, dir, { recursive: true });
      mkdirSync(cache);
      return {
        dir,
        cache,
        done: () => {
          rmSync(dir, { recursive: true, force: true });
          rmSync(cache, { recursive: true, force: true });
        },
      };
    };
    const envFor = (cache: string, remote: boolean): NodeJS.ProcessEnv => {
      const env: NodeJS.ProcessEnv = { ...process.env, TUG_CACHE: cache };
      delete env.TUG_REMOTE_CACHE;
      delete env.TUG_REMOTE_CACHE_TOKEN;
      if (remote) env.TUG_REMOTE_CACHE = dav.url;
      return env;
    };
    const tug = (dir: string, cache: string, remote: boolean, flags: string[]): RunResult =>
      timed(process.execPath, [TUG, "build", "--out", join(dir, ".tug", "out"), ...flags], {
        cwd: dir,
        env: envFor(cache, remote),
      });
    /** One timed `-q --json` build, with the requests it made to the cache server. */
    const sample = (dir: string, cache: string, remote: boolean): Sample => {
      const mark = dav.mark();
      const r = tug(dir, cache, remote, ["-q", "--json"]);
      const requests = dav.countSince(mark);
      const json = JSON.parse(r.stdout) as BuildJson;
      if (json.artifacts.length !== repo.targets.length)
        throw new Error(`expected ${repo.targets.length} artifacts, got ${json.artifacts.length}`);
      return {
        ms: r.ms,
        inProcessMs: json.ms,
        rebuilt: json.artifacts.filter((a) => !a.cached).map((a) => a.target),
        digests: Object.fromEntries(json.artifacts.map((a) => [a.target, a.digest])),
        requests,
      };
    };
    /** One untimed `--timings` build: which builder steps ran, and any remote-cache warning. */
    const stepsRun = (dir: string, cache: string, remote: boolean): StepsRun => {
      const r = tug(dir, cache, remote, ["--timings"]);
      const steps: Step[] = [];
      for (const line of r.stderr.split("\n")) {
        const [target = "", step = "", state = "", ms = ""] = line.split("  ");
        // Step lines are "TARGET  STEP  built|cached  MS"; artifact lines carry a ref@digest.
        if (step.includes("@") || step.includes("sha256:")) continue;
        if (state !== "built" && state !== "cached") continue;
        const value = Number.parseFloat(ms) * (ms.endsWith(" s") ? 1000 : 1);
        steps.push({ target, step, built: state === "built", ms: value });
      }
      const warnings = r.stderr.split("\n").filter((l) => l.includes("remote cache"));
      return { steps, warnings };
    };

    // The remote is filled by a first build from another checkout (a teammate, or the last CI run).
    progress("filling the remote cache from checkout A");
    const a = fresh();
    const fill = sample(a.dir, a.cache, true);
    const reference = fill.digests;
    a.done();
    const cachedFiles = timed("find", [dav.root, "-type", "f"]).stdout.trim().split("\n").length;

    const loadBefore = loadNote();
    const scenarios: Scenario[] = [
      { name: "fill: cold, empty remote (uploads everything)", samples: [fill] },
    ];
    const problems: string[] = [];
    const check = (name: string, s: Sample, expectRebuilt: string[] | undefined, sameDigests: boolean) => {
      if (expectRebuilt && s.rebuilt.join(",") !== expectRebuilt.join(","))
        problems.push(`${name}: rebuilt [${s.rebuilt.join(", ")}], expected [${expectRebuilt.join(", ")}]`);
      if (sameDigests)
        for (const [t, d] of Object.entries(s.digests))
          if (reference[t] !== d)
            problems.push(`${name}: ${t} digest ${d} differs from the fill's ${reference[t]}`);
    };
    const coldScenario = (
      name: string,
      remote: boolean,
      edit: ((dir: string, run: number) => void) | undefined,
      expectRebuilt: string[] | undefined,
    ): Scenario => {
      progress(name);
      const samples: Sample[] = [];
      for (let i = 0; i < RUNS; i++) {
        const c = fresh();
        edit?.(c.dir, i);
        const s = sample(c.dir, c.cache, remote);
        check(name, s, expectRebuilt, edit === undefined);
        samples.push(s);
        c.done();
      }
      const c = fresh();
      edit?.(c.dir, RUNS);
      const steps = stepsRun(c.dir, c.cache, remote);
      c.done();
      return { name, samples, steps };
    };

    scenarios.push(coldScenario("1. cold, no remote cache", false, undefined, repo.targets));
    scenarios.push(coldScenario("2. cold + warm remote", true, undefined, []));
    const stamp = `${process.pid}-${Date.now()}`;
    scenarios.push(
      coldScenario(
        "3. cold + warm remote, one .ts file changed (svc3)",
        true,
        (dir, run) =>
          writeFileSync(
            join(dir, "svc3", "src", "greeting.ts"),
            `export const greeting = (who: string): string => \`hello \${who} from svc3, edit ${stamp}-${run}\`;\n`,
          ),
        ["svc3"],
      ),
    );
    scenarios.push(
      coldScenario(
        "3b. cold + warm remote, one .go file changed (gobin2)",
        true,
        (dir, run) =>
          writeFileSync(
            join(dir, "gobin2", "main.go"),
            `package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n\tfmt.Fprintln(os.Stdout, "gobin2, edit ${stamp}-${run}")\n}\n`,
          ),
        ["gobin2"],
      ),
    );

    progress("4. fully local warm (no-op) builds");
    const w = fresh();
    sample(w.dir, w.cache, false); // cold, local only
    sample(w.dir, w.cache, false); // warm-up
    const noop: Sample[] = [];
    for (let i = 0; i < NOOP_RUNS; i++) noop.push(sample(w.dir, w.cache, false));
    for (const s of noop) check("4. no-op", s, [], true);
    scenarios.push({
      name: "4. fully local warm (no-op), no remote",
      samples: noop,
      steps: stepsRun(w.dir, w.cache, false),
    });
    const noopRemote: Sample[] = [];
    for (let i = 0; i < NOOP_RUNS; i++) noopRemote.push(sample(w.dir, w.cache, true));
    for (const s of noopRemote) check("4b. no-op + remote", s, [], true);
    scenarios.push({
      name: "4b. fully local warm (no-op), remote set",
      samples: noopRemote,
      steps: stepsRun(w.dir, w.cache, true),
    });
    w.done();
    // Why one changed Go file costs a cold runner so much: its GOCACHE (under TUG_CACHE) is empty,
    // so `go build` compiles the standard library first. The same build, plain go, both ways.
    progress("go build of one binary with an empty vs a warm GOCACHE");
    const goSrc = join(work, "gosrc");
    cpSync(join(template, "gobin2"), goSrc, { recursive: true });
    let goEdits = 0;
    /** A changed main.go each time (as in scenario 3b), so even a warm GOCACHE recompiles and relinks it. */
    const goRun = (gocache: string): number => {
      writeFileSync(
        join(goSrc, "main.go"),
        `package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n\tfmt.Fprintln(os.Stdout, "edit ${goEdits++}")\n}\n`,
      );
      return timed("go", ["build", "-trimpath", "-ldflags=-s -w", "-o", join(work, "gobin-out"), "."], {
        cwd: goSrc,
        env: {
          ...process.env,
          CGO_ENABLED: "0",
          GOCACHE: gocache,
          GOFLAGS: "-buildvcs=false",
          GOTOOLCHAIN: "local",
        },
      }).ms;
    };
    const goCold: number[] = [];
    for (let i = 0; i < 3; i++) {
      const dir = join(work, `gocache-${i}`);
      goCold.push(goRun(dir));
      rmSync(dir, { recursive: true, force: true });
    }
    const warmCache = join(work, "gocache-warm");
    goRun(warmCache);
    const goWarm = [0, 1, 2].map(() => goRun(warmCache));
    const goVersion = timed("go", ["version"]).stdout.trim();
    const loadAfter = loadNote();

    const reqs = (ss: Sample[]): string => {
      const methods = [...new Set(ss.flatMap((s) => Object.keys(s.requests.byMethod)))].sort();
      if (methods.length === 0) return "0";
      const totals = ss.map((s) => s.requests.total);
      const range =
        Math.min(...totals) === Math.max(...totals) ? "" : ` [${Math.min(...totals)}–${Math.max(...totals)}]`;
      const per = methods
        .map((m) => `${m} ${median(ss.map((s) => s.requests.byMethod[m] ?? 0))}`)
        .join(" / ");
      return `${median(totals)}: ${per}${range}`;
    };
    const ranOf = (steps: Step[]): string => `${steps.filter((x) => x.built).length} of ${steps.length}`;
    const walls = (ss: Sample[]): Spread => spread(ss.map((s) => s.ms));
    console.log(
      `\n20-image repo (${repo.targets.length} targets, ${repo.sourceFiles} source files); remote: nginx WebDAV on loopback, ${cachedFiles} files after the fill`,
    );
    printTable([
      [
        "scenario",
        "median wall",
        "min–max (n)",
        "in-process",
        "requests / build",
        "targets rebuilt",
        "build steps run",
        "outputs written",
      ],
      ...scenarios.map((sc) => {
        const sp = walls(sc.samples);
        const rebuilt = sc.samples.map((s) => s.rebuilt.length);
        return [
          sc.name,
          fmtMs(sp.median),
          `${fmtMs(sp.min)}–${fmtMs(sp.max)} (${sp.runs})`,
          fmtMs(median(sc.samples.map((s) => s.inProcessMs))),
          reqs(sc.samples),
          `${median(rebuilt)}${Math.min(...rebuilt) === Math.max(...rebuilt) ? "" : ` [${Math.min(...rebuilt)}–${Math.max(...rebuilt)}]`}`,
          sc.steps ? ranOf(sc.steps.steps.filter((x) => !isOutput(x))) : "",
          sc.steps ? ranOf(sc.steps.steps.filter(isOutput)) : "",
        ];
      }),
    ]);
    console.log(
      `\nmedian (min–max, n); in-process = tug's own --json ms; requests counted in nginx's access log`,
    );
    console.log(`${loadBefore} before, ${loadAfter} after; total ${fmtMs(performance.now() - t0)}`);
    console.log(
      `${goVersion}: go build of gobin2, empty GOCACHE ${fmtSpread(spread(goCold))}, warm GOCACHE ${fmtSpread(spread(goWarm))}`,
    );
    console.log("\nrequests by method, status and area (first timed run of each scenario):");
    for (const sc of scenarios) {
      const r = sc.samples[0]!.requests;
      const detail = Object.entries(r.byMethodStatus)
        .sort()
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ");
      const area = Object.entries(r.byMethodArea)
        .sort()
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ");
      console.log(`  ${sc.name}: ${detail || "none"}${area ? `  (${area})` : ""}`);
    }
    console.log("\nsteps that ran, by kind (the untimed --timings run of each scenario):");
    for (const sc of scenarios) {
      if (!sc.steps) continue;
      const kinds = new Map<string, { ran: number; of: number; ms: number }>();
      for (const x of sc.steps.steps) {
        const k = kinds.get(x.step) ?? { ran: 0, of: 0, ms: 0 };
        k.of++;
        if (x.built) {
          k.ran++;
          k.ms = Math.max(k.ms, x.ms);
        }
        kinds.set(x.step, k);
      }
      const summary = [...kinds]
        .map(([name, k]) => `${name} ${k.ran}/${k.of}${k.ran > 0 ? ` (slowest ${fmtMs(k.ms)})` : ""}`)
        .join(", ");
      console.log(`  ${sc.name}: ${summary}`);
      for (const w of sc.steps.warnings) console.log(`    WARNING: ${w}`);
    }
    if (problems.length > 0) {
      console.log("\nPROBLEMS:");
      for (const p of problems) console.log(`  ${p}`);
    } else
      console.log(
        "\nchecks: every run produced the fill's digests (edits aside) and rebuilt only what it should",
      );
  } finally {
    await nginx?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
