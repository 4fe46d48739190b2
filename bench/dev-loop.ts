// tug dev: edit → new response. Writes a one-line edit into a running service's source and polls
// its port until an HTTP GET returns the new text; the time from the write to that response is
// the figure (tug's own report, which starts at the watcher's first event and ends at its
// readiness probe, is printed next to it). Scenarios:
//
//   node/local   the examples/demo/web service, `runtime: local` (esbuild rebuild, process restart)
//   go/local     a net/http service, `runtime: local` (go build with the warm GOCACHE, binary swap)
//   node/podman  the same Node service in a podman container (tar into `exec`, supervisor restart)
//   baseline     the same Node edit shipped the image way: `tug build --repo` to a loopback
//                docker-registry, `podman rm -f` the old container, `podman run -d` the new image,
//                poll the port
//
// Run: node --import tsx bench/dev-loop.ts   (EDITS=n to change the number of measured edits)
//
// tug runs as its CLI (`tug dev TARGET --json`, `tug build`) in a child process, from a bundle of
// the current src/ made into the bench's temp dir with the options of scripts/build.mjs, so the
// bench process only writes files and polls ports and never shares an event loop with tug.
// podman gets a private store (podmanStore) and tug reaches it through TUG_PODMAN_ARGS.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync } from "node:fs";
import { cp, mkdir, rm, writeFile } from "node:fs/promises";
import { get } from "node:http";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import type { UpdateReport } from "../src/dev/report.ts";
import { makeNodeBase } from "../test/support/bases.ts";
import { bundleCli } from "../test/support/cli-bundle.ts";
import { freePort, type PodmanStore, podmanStore, runTool, waitForHttp } from "../test/support/tools.ts";
import { DevProcess } from "./support/quest-dev.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const EDITS = Number(process.env.EDITS ?? 12);
const WARMUP = 2;
const BASELINE_EDITS = Number(process.env.BASELINE_EDITS ?? 10);
const POLL_MS = 5;
const QUIET_MS = 1000;
// The same run flags tug's podman runtime uses (runc here cannot raise rlimits past its own).
const PODMAN_RUN_ARGS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

// ---------------------------------------------------------------------------------------------
// statistics and output

interface Sample {
  /** Write → first GET that returns the new text. */
  polled: number;
  /** tug's report for the update (live-update scenarios only). */
  report?: UpdateReport;
  /** Baseline only: where the time went. */
  steps?: { build: number; rm: number; run: number; ready: number };
  /** Updates tug ran for this one edit (1 expected). */
  updates: number;
}

function sorted(xs: number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

function median(xs: number[]): number {
  const s = sorted(xs);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank 90th percentile. */
function p90(xs: number[]): number {
  const s = sorted(xs);
  return s[Math.max(0, Math.ceil(0.9 * s.length) - 1)]!;
}

function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(" | ")} |`;
  return [
    line(rows[0]!),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.slice(1).map(line),
  ].join("\n");
}

const t0 = performance.now();
function progress(msg: string): void {
  process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${msg}\n`);
}

function loadNote(): string {
  return `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(" / ")}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// polling

/** One GET of `/`; the body, or undefined when nothing (or an error) answers. */
function getText(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = get({ host: "127.0.0.1", port, path: "/", agent: false, timeout: 2000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (b: string) => {
        body += b;
      });
      res.on("end", () => resolve(body));
      res.on("error", () => resolve(undefined));
    });
    req.on("error", () => resolve(undefined));
    req.on("timeout", () => {
      req.destroy();
      resolve(undefined);
    });
  });
}

/** Polls until `/` returns `text`; the time since `since` (performance.now()) when it did. */
async function pollFor(port: number, text: string, since: number, timeoutMs = 120_000): Promise<number> {
  const end = since + timeoutMs;
  let last: string | undefined;
  for (;;) {
    last = await getText(port);
    const now = performance.now();
    if (last === text) return now - since;
    if (now > end)
      throw new Error(`port ${port} did not serve ${JSON.stringify(text)} (last: ${JSON.stringify(last)})`);
    await sleep(POLL_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// tug as a child process

/**
 * Live-update edits: WARMUP unmeasured, then EDITS measured. Each edit writes `file` with a new
 * text and polls the port for it; then the bench waits for tug's report and for QUIET_MS without
 * another one, so a second update for the same save (a split watcher batch) is counted against
 * this edit and never taken for the next edit's report.
 */
async function liveEdits(
  dev: DevProcess,
  port: number,
  file: string,
  render: (text: string) => string,
  label: string,
): Promise<{ samples: Sample[]; first: Sample }> {
  const samples: Sample[] = [];
  let first: Sample | undefined;
  for (let i = 0; i < WARMUP + EDITS; i++) {
    const text = `${label} edit ${i} ${randomBytes(3).toString("hex")}`;
    const before = dev.reports.length;
    const since = performance.now();
    await writeFile(file, render(text));
    const polled = await pollFor(port, `${text}\n`, since);
    // This edit's update is the first report whose change was seen after the write (arrival
    // minus its ms); an earlier one is the previous save's second update running late.
    let at = before;
    for (; ; at++) {
      const r = await dev.waitReport(at);
      if (dev.arrived[at]! - r.ms >= since - 20) break;
    }
    const report = dev.reports[at]!;
    if (!report.ok) throw new Error(`${label}: update failed: ${report.error}\n${dev.tail()}`);
    for (let n = dev.reports.length; ; n = dev.reports.length) {
      await sleep(QUIET_MS);
      if (dev.reports.length === n) break;
    }
    const extra = dev.reports.slice(before).filter((r) => r !== report);
    const sample: Sample = { polled, report, updates: 1 + extra.length };
    if (i === 0) first = sample;
    if (i >= WARMUP) samples.push(sample);
    const split = (r: UpdateReport) =>
      `${fmt(r.ms)} (build ${Math.round(r.build)}, sync ${Math.round(r.sync)}, restart ${Math.round(r.restart)})`;
    progress(
      `${label} ${i < WARMUP ? `warm-up ${i + 1}` : `#${i - WARMUP + 1}`}: polled ${fmt(polled)}, tug ${split(report)}${extra.map((r) => `; EXTRA ${r.action} of ${r.files.join(",")} ${split(r)}`).join("")}`,
    );
  }
  return { samples, first: first! };
}

// ---------------------------------------------------------------------------------------------
// floors: what the runtime costs by itself, to show where the restart and sync time goes

/** Median wall time of `runs` calls of `f`. */
async function medianOf(runs: number, f: () => Promise<unknown>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    await f();
    xs.push(performance.now() - s);
  }
  return median(xs);
}

/** Runs `cmd args` with `stdin` (bytes) and resolves when it exits, whatever its status. */
function runWithStdin(cmd: string, args: string[], stdin: Buffer, env?: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ["pipe", "ignore", "ignore"] });
    p.once("error", reject);
    p.once("exit", (code) => resolve(code ?? -1));
    p.stdin.end(stdin);
  });
}

/** Spawn → first HTTP answer of `node BUNDLE` (the Node service's cold start), then kill it. */
async function nodeServiceStart(bundle: string): Promise<number> {
  const port = await freePort();
  const since = performance.now();
  const child = spawn(process.execPath, [bundle], {
    env: { ...process.env, PORT: String(port) },
    stdio: "ignore",
  });
  try {
    for (;;) {
      if ((await getText(port)) !== undefined) return performance.now() - since;
      if (performance.now() - since > 30_000) throw new Error(`${bundle} did not answer`);
      await sleep(2);
    }
  } finally {
    const gone = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await gone;
  }
}

// ---------------------------------------------------------------------------------------------
// fixtures

const GREETING = (text: string) =>
  `export function greeting(): string {\n  return ${JSON.stringify(text)};\n}\n`;

const GO_MAIN = (text: string) => `package main

import (
\t"fmt"
\t"net/http"
\t"os"
)

func main() {
\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, ${JSON.stringify(text)}) })
\tfmt.Println("listening on", os.Getenv("PORT"))
\tif err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
\t\tpanic(err)
\t}
}
`;

interface Registry {
  host: string;
  stop(): Promise<void>;
}

/** A Debian docker-registry on a free loopback port, its storage and log under `dir`. */
async function startRegistry(dir: string): Promise<Registry> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const config = join(dir, "config.yml");
  await writeFile(
    config,
    stringify({
      version: 0.1,
      log: { level: "error", accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(dir, "storage") }, delete: { enabled: true } },
      http: { addr: `127.0.0.1:${port}`, secret: "tug-bench" },
    }),
  );
  const logPath = join(dir, "registry.log");
  const log = openSync(logPath, "w");
  const child = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "ignore", log] });
  closeSync(log);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await exited;
  };
  try {
    await waitForHttp(`http://127.0.0.1:${port}/v2/`, { timeoutMs: 15_000 });
  } catch (e) {
    await stop();
    throw new Error(`docker-registry did not start: ${readFileSync(logPath, "utf8").slice(-2000)} ${e}`);
  }
  return { host: `127.0.0.1:${port}`, stop };
}

// ---------------------------------------------------------------------------------------------
// the baseline: rebuild + redeploy the image

async function baseline(o: {
  cli: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  store: PodmanStore;
  registry: Registry;
  appPort: number;
  file: string;
  containers: Set<string>;
}): Promise<{ samples: Sample[]; first: Sample }> {
  const hostPort = await freePort();
  const image = `${o.registry.host}/bench/web:latest`;
  const podman = (args: string[]) =>
    runTool("podman", [...o.store.args, ...args], { env: o.store.env, timeoutMs: 300_000 });
  const samples: Sample[] = [];
  let first: Sample | undefined;
  let current: string | undefined;
  for (let i = 0; i < 1 + BASELINE_EDITS; i++) {
    const text = `baseline edit ${i} ${randomBytes(3).toString("hex")}`;
    const since = performance.now();
    await writeFile(o.file, GREETING(text));
    let mark = since;
    const lap = () => {
      const now = performance.now();
      const d = now - mark;
      mark = now;
      return d;
    };
    await runTool(process.execPath, [o.cli, "build", "web", "--repo", `${o.registry.host}/bench`, "-q"], {
      cwd: o.dir,
      env: o.env,
      timeoutMs: 600_000,
    });
    const build = lap();
    if (current) {
      await podman(["rm", "--force", "--time", "0", current]);
      o.containers.delete(current);
      current = undefined;
    }
    const rm = lap();
    const r = await podman([
      "run",
      "-d",
      "--pull=always",
      "--tls-verify=false",
      ...PODMAN_RUN_ARGS,
      "-p",
      `127.0.0.1:${hostPort}:${o.appPort}`,
      image,
    ]);
    current = r.stdout.trim().split("\n").pop()!.trim();
    o.containers.add(current);
    const run = lap();
    const polled = await pollFor(hostPort, `${text}\n`, since);
    const ready = performance.now() - mark;
    const sample: Sample = { polled, steps: { build, rm, run, ready }, updates: 1 };
    if (i === 0) first = sample;
    else samples.push(sample);
    progress(
      `baseline #${i}${i === 0 ? " (warm-up)" : ""}: ${fmt(polled)} (tug build ${Math.round(build)}, rm ${Math.round(rm)}, run ${Math.round(run)}, ready ${Math.round(ready)})`,
    );
  }
  if (current) {
    await podman(["rm", "--force", "--time", "0", current]);
    o.containers.delete(current);
  }
  return { samples, first: first! };
}

// ---------------------------------------------------------------------------------------------

interface Scenario {
  name: string;
  targetMs?: number;
  samples: Sample[];
  first: Sample;
  /** Calibration: what the runtime costs by itself. */
  floors?: string;
}

async function main(): Promise<void> {
  const base = /^[a-z0-9/._-]+$/.test(tmpdir()) ? tmpdir() : "/tmp";
  // Lowercase: podman names an image pulled from `oci:PATH` after PATH.
  const work = join(base, `tug-bench-dev-${randomBytes(5).toString("hex")}`);
  await mkdir(work, { mode: 0o700 });
  const children: DevProcess[] = [];
  const containers = new Set<string>();
  let store: PodmanStore | undefined;
  let registry: Registry | undefined;
  const load = { before: loadNote(), after: "" };
  const scenarios: Scenario[] = [];
  try {
    progress(`work dir ${work}; ${load.before}`);
    const [, cli = ""] = await bundleCli(work);
    const nodeBase = await makeNodeBase();
    const [webPort, goPort, pmPort] = [await freePort(), await freePort(), await freePort()];
    const proj = join(work, "proj");
    await mkdir(join(proj, "api"), { recursive: true });
    await cp(join(ROOT, "examples/demo/web"), join(proj, "web"), { recursive: true });
    await cp(join(ROOT, "examples/demo/web"), join(proj, "webpm"), { recursive: true });
    await writeFile(join(proj, "api/go.mod"), "module example.com/api\n\ngo 1.19\n");
    await writeFile(join(proj, "api/main.go"), GO_MAIN("go says hello"));
    const nodeImage = {
      builder: "node",
      entry: "src/server.ts",
      base: `oci-layout:${nodeBase.layout}:${nodeBase.tag}`,
    };
    await writeFile(
      join(proj, "tug.yaml"),
      stringify({
        images: {
          web: {
            ...nodeImage,
            context: "./web",
            env: { PORT: String(webPort) },
            dev: { runtime: "local", port: webPort },
          },
          api: {
            builder: "go",
            context: "./api",
            base: "scratch",
            env: { PORT: String(goPort) },
            dev: { runtime: "local", port: goPort },
          },
          webpm: {
            ...nodeImage,
            context: "./webpm",
            env: { PORT: String(pmPort) },
            dev: { runtime: "podman", port: pmPort },
          },
        },
      }),
    );
    store = await podmanStore();
    const env: NodeJS.ProcessEnv = {
      ...store.env,
      TUG_CACHE: join(work, "cache"),
      TUG_PODMAN_ARGS: store.args.join(" "),
    };

    const live = async (
      name: string,
      target: string,
      port: number,
      file: string,
      render: (t: string) => string,
      targetMs: number,
      floors?: (dev: DevProcess) => Promise<string>,
    ) => {
      progress(`${name}: starting tug dev ${target}`);
      const dev = await DevProcess.start({ tug: [process.execPath, cli], dir: proj, target, env });
      children.push(dev);
      try {
        const { samples, first } = await liveEdits(dev, port, file, render, name);
        const floor = floors ? await floors(dev) : undefined;
        scenarios.push({ name, targetMs, samples, first, ...(floor ? { floors: floor } : {}) });
      } finally {
        await dev.stop();
      }
    };
    // The demo web is "type": "module": src/server.ts bundles to /app/src/server.js.
    const bundle = join(proj, ".tug/dev/web/root/app/src/server.js");
    await live("node, local", "web", webPort, join(proj, "web/src/greeting.ts"), GREETING, 200, async () => {
      const nodeE0 = await medianOf(10, () => runTool(process.execPath, ["-e", "0"]));
      const service = await medianOf(10, () => nodeServiceStart(bundle));
      return `node -e 0: ${fmt(nodeE0)}; spawn node on the service bundle → first response: ${fmt(service)}`;
    });
    await live("go, local", "api", goPort, join(proj, "api/main.go"), GO_MAIN, 500);
    const pm = (args: string[], stdin = Buffer.alloc(0)) =>
      runWithStdin("podman", [...store!.args, ...args], stdin, store!.env);
    await live(
      "node, podman",
      "webpm",
      pmPort,
      join(proj, "webpm/src/greeting.ts"),
      GREETING,
      500,
      async (dev) => {
        const id = dev.reports.at(-1)?.id;
        if (!id) return "";
        const inspect = await medianOf(5, () => pm(["inspect", "--format", "{{.Id}}", id]));
        // An empty tar (two zero blocks) into the supervisor's extractor: the sync path minus the data.
        const exec = await medianOf(5, () =>
          pm(["exec", "-i", id, "/tug/supervisor", "extract", "/tmp"], Buffer.alloc(1024)),
        );
        return `podman inspect: ${fmt(inspect)}; podman exec -i … extract (empty tar): ${fmt(exec)}`;
      },
    );

    progress("baseline: tug build --repo + podman rm -f + podman run -d");
    registry = await startRegistry(join(work, "registry"));
    const b = await baseline({
      cli,
      dir: proj,
      env,
      store,
      registry,
      appPort: webPort,
      file: join(proj, "web/src/greeting.ts"),
      containers,
    });
    scenarios.push({ name: "baseline: rebuild + redeploy image (podman)", ...b });
    load.after = loadNote();
    report(scenarios, load);
  } finally {
    for (const d of children) await d.stop().catch(() => {});
    if (store) {
      for (const id of containers) {
        await runTool("podman", [...store.args, "rm", "--force", "--time", "0", id], {
          env: store.env,
          allowFailure: true,
        }).catch(() => {});
      }
      await store.dispose();
    }
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

function report(scenarios: Scenario[], load: { before: string; after: string }): void {
  const baselineMs = median(
    scenarios.find((s) => s.name.startsWith("baseline"))!.samples.map((s) => s.polled),
  );
  const rows: string[][] = [
    ["scenario", "median", "p90", "min", "max", "tug-reported median", "target", "ratio vs baseline"],
  ];
  for (const s of scenarios) {
    const polled = s.samples.map((x) => x.polled);
    const reported = s.samples.flatMap((x) => (x.report ? [x.report.ms] : []));
    const m = median(polled);
    const isBaseline = !s.targetMs;
    rows.push([
      `${s.name} (n=${polled.length})`,
      fmt(m),
      fmt(p90(polled)),
      fmt(Math.min(...polled)),
      fmt(Math.max(...polled)),
      reported.length ? fmt(median(reported)) : "–",
      s.targetMs ? `≤ ${s.targetMs} ms ${m <= s.targetMs ? "met" : "MISSED"}` : "–",
      isBaseline ? "1×" : `${(baselineMs / m).toFixed(1)}× faster`,
    ]);
  }
  const split: string[][] = [
    ["scenario", "where the time goes (medians, ms)", "first edit (polled)", "updates per save"],
  ];
  for (const s of scenarios) {
    const reps = s.samples.flatMap((x) => (x.report ? [x.report] : []));
    const med = (f: (r: UpdateReport) => number) => Math.round(median(reps.map(f)));
    let where: string;
    if (reps.length) {
      const gap = Math.round(median(s.samples.map((x) => x.polled - (x.report?.ms ?? 0))));
      where = `tug: build ${med((r) => r.build)} + sync ${med((r) => r.sync)} + restart/ready ${med((r) => r.restart)}; write→response minus tug's ms: ${gap}`;
    } else {
      const st = s.samples.flatMap((x) => (x.steps ? [x.steps] : []));
      const m = (f: (x: NonNullable<Sample["steps"]>) => number) => Math.round(median(st.map(f)));
      where = `tug build --repo ${m((x) => x.build)} + podman rm -f ${m((x) => x.rm)} + podman run -d ${m((x) => x.run)} + until served ${m((x) => x.ready)}`;
    }
    const updates = s.samples.reduce((n, x) => n + x.updates, 0) / s.samples.length;
    split.push([s.name, where, fmt(s.first.polled), reps.length ? updates.toFixed(1) : "–"]);
  }
  const cpu = cpus()[0]?.model ?? "unknown cpu";
  console.log(
    `\ntug dev: edit → new response, polled on the port (${EDITS} edits per live scenario after ${WARMUP} warm-ups, ${BASELINE_EDITS} baseline edits after 1)`,
  );
  console.log(`machine: ${availableParallelism()} cores (${cpu}), Node ${process.version}`);
  console.log(`load: before ${load.before}; after ${load.after}\n`);
  console.log(table(rows));
  console.log();
  console.log(table(split));
  for (const s of scenarios) if (s.floors) console.log(`\nfloor, ${s.name}: ${s.floors}`);
}

await main();
