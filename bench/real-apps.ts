// Real open-source apps of different shapes, built by tug and by `buildah bud --layers` from an
// equivalent Dockerfile, run in podman, compared by behaviour (HTTP status and body) and by time
// (cold, warm no-op, one-line edit). Not part of `npm test`.
//
// Run: node scripts/build.mjs && node --import tsx bench/real-apps.ts [--go DIR] [--node DIR]
//   --go DIR    a checkout of hashicorp/http-echo (a stdlib-only Go service); default: commit
//               0027578 (go 1.19) from /work/.mirror/hashicorp+http-echo
//   --node DIR  a checkout of honojs/starter's templates/nodejs (Hono on @hono/node-server, ESM
//               TypeScript); default: /work/.mirror/honojs+starter; its dependencies are
//               installed from the npm registry (`npm install --omit=dev`) before timing
//
// Same work on both sides, as in bench/edit-push.ts: buildah gets its best case. The Go binary is
// compiled on the host with the flags tug uses and the Node bundle made by the same esbuild, then
// COPYed by a Dockerfile onto the same base (scratch; the host-made node base from
// test/support/bases.ts, pushed to the loopback registry). Cold for tug: an empty TUG_CACHE (its
// GOCACHE lives there); cold for buildah: an empty layer cache and an empty GOCACHE for go build.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { makeNodeBase } from "../test/support/bases.ts";
import { podmanRunDetached, waitForHttp } from "../test/support/tools.ts";
import { budArgs, buildahStore, pushArgs } from "./support/buildah.ts";
import { fmtMs, loadNote, printTable, progress, spread, timed } from "./support/measure.ts";
import { startBenchRegistry } from "./support/registry.ts";
import { benchDir } from "./support/work-dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TUG = join(ROOT, "bin", "tug.js");
const ESBUILD = join(ROOT, "node_modules", ".bin", "esbuild");
const COLD_RUNS = 2;
const WARM_RUNS = 5;
const EDIT_RUNS = 3;

interface App {
  name: string;
  shape: string;
  dir: string;
  /** tug.yaml image entry (context relative to the project dir). */
  image: Record<string, unknown>;
  /** Host-side step buildah needs before `bud` (compile or bundle into ctx); timed with it. */
  prepare(ctx: string, env: NodeJS.ProcessEnv): void;
  dockerfile: string;
  port: number;
  path: string;
  /** A one-line source edit that changes the response; `n` makes each edit distinct. */
  edit(n: number): void;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

function checkout(mirror: string, commit: string, sub: string, to: string): string {
  mkdirSync(to, { recursive: true });
  const tar = spawnSync("git", ["--git-dir", mirror, "archive", commit, sub], { maxBuffer: 256 << 20 });
  if (tar.status !== 0) throw new Error(`git archive ${mirror} ${commit} failed: ${tar.stderr}`);
  const x = spawnSync("tar", ["-x", "-C", to], { input: tar.stdout });
  if (x.status !== 0) throw new Error(`tar -x failed: ${x.stderr}`);
  return sub === "." ? to : join(to, sub);
}

function replaceIn(file: string, from: RegExp, to: string): void {
  const text = readFileSync(file, "utf8");
  if (!from.test(text)) throw new Error(`${file}: no match for ${from}`);
  writeFileSync(file, text.replace(from, to));
}

function goApp(dir: string): App {
  const handlers = join(dir, "main.go");
  return {
    name: "http-echo",
    shape: "Go service, stdlib only (hashicorp/http-echo)",
    dir,
    image: {
      builder: "go",
      base: "scratch",
      cmd: ["-listen=:8080", "-text=hello from http-echo"],
      ports: [8080],
    },
    prepare(ctx, env) {
      run("go", ["build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", join(ctx, "app"), "."], {
        cwd: dir,
        env: { ...env, CGO_ENABLED: "0" },
      });
    },
    dockerfile: [
      "FROM scratch",
      "COPY app /app/http-echo",
      'ENTRYPOINT ["/app/http-echo"]',
      'CMD ["-listen=:8080", "-text=hello from http-echo"]',
      "",
    ].join("\n"),
    port: 8080,
    path: "/",
    edit(n) {
      // The startup log line: a real code change that leaves the response as it is.
      replaceIn(
        handlers,
        /log\.Printf\("\[INFO\] server is listening on %s[^"]*\\n"/,
        `log.Printf("[INFO] server is listening on %s (edit ${n})\\n"`,
      );
    },
  };
}

function nodeApp(dir: string, baseRef: string): App {
  const index = join(dir, "src", "index.ts");
  return {
    name: "hono",
    shape: "Node/TS ESM service (honojs/starter nodejs)",
    dir,
    image: { builder: "node", entry: "src/index.ts", base: baseRef, ports: [3000] },
    prepare(ctx) {
      run(
        ESBUILD,
        [
          "src/index.ts",
          "--bundle",
          "--platform=node",
          "--format=esm",
          "--target=node20",
          `--outfile=${join(ctx, "index.mjs")}`,
          "--log-level=warning",
        ],
        { cwd: dir },
      );
    },
    dockerfile: [
      `FROM ${baseRef}`,
      "COPY index.mjs /app/index.mjs",
      'ENTRYPOINT ["node", "/app/index.mjs"]',
      "",
    ].join("\n"),
    port: 3000,
    path: "/",
    edit(n) {
      replaceIn(index, /c\.text\('[^']*'\)/, `c.text('Hello Hono! edit ${n}')`);
    },
  };
}

interface Times {
  cold: number[];
  noop: number[];
  edit: number[];
}

async function behaviour(image: string, port: number, path: string): Promise<string> {
  const cleanups: Array<() => Promise<void>> = [];
  const t = { after: (fn: () => Promise<void>) => cleanups.push(fn) } as unknown as Parameters<
    typeof podmanRunDetached
  >[0];
  try {
    const box = await podmanRunDetached(t, image, [], { publish: [port] });
    try {
      const res = await waitForHttp(`http://127.0.0.1:${box.ports[port]}${path}`, { timeoutMs: 30_000 });
      return `${res.status} ${JSON.stringify(res.body.trim().slice(0, 60))}`;
    } catch (e) {
      return `no answer (${(await box.logs()).trim().split("\n").slice(-2).join(" | ") || String(e)})`;
    }
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}

async function main(): Promise<void> {
  const work = benchDir("tug-bench-apps-");
  const registry = await startBenchRegistry(join(work, "registry"));
  try {
    progress("node base (host node, umoci) → registry");
    const base = await makeNodeBase();
    const baseRef = `${registry.host}/base/node:20`;
    timed("skopeo", ["copy", "--quiet", "--dest-tls-verify=false", base.ref, `docker://${baseRef}`]);

    const goDir =
      arg("--go") ??
      checkout("/work/.mirror/hashicorp+http-echo/repo", "0027578", ".", join(work, "src", "http-echo"));
    const nodeSrc =
      arg("--node") ??
      checkout("/work/.mirror/honojs+starter/repo", "HEAD", "templates/nodejs", join(work, "src", "hono"));
    if (!existsSync(join(nodeSrc, "node_modules"))) {
      progress("hono: npm install --omit=dev (not timed)");
      run("npm", ["install", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: nodeSrc });
    }
    const apps = [goApp(goDir), nodeApp(nodeSrc, baseRef)];
    const rows: string[][] = [
      ["app", "shape", "tool", "cold", "warm no-op", "edit → pushed", "response (podman)"],
    ];
    const ratios: string[][] = [
      ["app", "cold buildah/tug", "no-op buildah/tug", "edit buildah/tug", "same behaviour"],
    ];

    for (const app of apps) {
      const proj = join(work, `proj-${app.name}`);
      mkdirSync(proj, { recursive: true });
      cpSync(app.dir, join(proj, "app"), { recursive: true });
      const local = app.name === "http-echo" ? goApp(join(proj, "app")) : nodeApp(join(proj, "app"), baseRef);
      writeFileSync(
        join(proj, "tug.yaml"),
        stringify({ images: { [app.name]: { context: "./app", ...app.image } } }),
      );
      const repo = `${registry.host}/tug`;
      const tugArgs = [TUG, "build", app.name, "--repo", repo, "-q"];
      const tug: Times = { cold: [], noop: [], edit: [] };
      let edits = 0;
      for (let i = 0; i < COLD_RUNS; i++) {
        progress(`${app.name}: tug cold ${i + 1}/${COLD_RUNS}`);
        const env = { ...process.env, TUG_CACHE: join(work, `tug-cache-${app.name}-${i}`) };
        tug.cold.push(timed(process.execPath, tugArgs, { cwd: proj, env, timeout: 600_000 }).ms);
      }
      const env = { ...process.env, TUG_CACHE: join(work, `tug-cache-${app.name}-${COLD_RUNS - 1}`) };
      progress(`${app.name}: tug no-op and edits`);
      for (let i = 0; i < WARM_RUNS; i++)
        tug.noop.push(timed(process.execPath, tugArgs, { cwd: proj, env }).ms);
      for (let i = 0; i < EDIT_RUNS; i++) {
        local.edit(++edits);
        tug.edit.push(timed(process.execPath, tugArgs, { cwd: proj, env }).ms);
      }
      const tugResponse = await behaviour(`docker://${repo}/${app.name}:latest`, app.port, app.path);

      const buildah: Times = { cold: [], noop: [], edit: [] };
      const ctx = join(work, `ctx-${app.name}`);
      mkdirSync(ctx, { recursive: true });
      writeFileSync(join(ctx, "Dockerfile"), app.dockerfile);
      const tag = `localhost/apps/${app.name}:latest`;
      const dest = `docker://${registry.host}/buildah/${app.name}:latest`;
      const once = (store: ReturnType<typeof buildahStore>, goCache: string): number => {
        const t0 = performance.now();
        local.prepare(ctx, { ...process.env, GOCACHE: goCache });
        store.run(budArgs({ tag, context: ctx }));
        store.run(pushArgs(tag, dest));
        return performance.now() - t0;
      };
      const pullBase = (store: ReturnType<typeof buildahStore>) => {
        if (app.name === "hono") store.run(["pull", "--quiet", "--tls-verify=false", `docker://${baseRef}`]);
      };
      let store = buildahStore(join(work, `buildah-${app.name}-0`));
      for (let i = 0; i < COLD_RUNS; i++) {
        progress(`${app.name}: buildah cold ${i + 1}/${COLD_RUNS}`);
        store = buildahStore(join(work, `buildah-${app.name}-${i}`));
        pullBase(store); // the base in its store before timing: buildah's best case
        buildah.cold.push(once(store, join(work, `gocache-${app.name}-${i}`)));
      }
      const goCache = join(work, `gocache-${app.name}-${COLD_RUNS - 1}`);
      progress(`${app.name}: buildah no-op and edits`);
      for (let i = 0; i < WARM_RUNS; i++) buildah.noop.push(once(store, goCache));
      for (let i = 0; i < EDIT_RUNS; i++) {
        local.edit(++edits);
        buildah.edit.push(once(store, goCache));
      }
      const buildahResponse = await behaviour(dest, app.port, app.path);

      const med = (xs: number[]) => spread(xs).median;
      for (const [tool, times, response] of [
        ["tug", tug, tugResponse],
        ["buildah", buildah, buildahResponse],
      ] as const) {
        rows.push([
          app.name,
          app.shape,
          tool,
          fmtMs(med(times.cold)),
          fmtMs(med(times.noop)),
          fmtMs(med(times.edit)),
          response,
        ]);
      }
      const ratio = (k: keyof Times) => `${(med(buildah[k]) / med(tug[k])).toFixed(1)}×`;
      // The edit differs per tool (edits are numbered), so compare the responses' shape.
      const same =
        tugResponse.replace(/edit \d+/, "edit N") === buildahResponse.replace(/edit \d+/, "edit N");
      ratios.push([app.name, ratio("cold"), ratio("noop"), ratio("edit"), same ? "yes" : "NO"]);
    }
    console.log(
      `\nreal apps: medians (cold n=${COLD_RUNS}, no-op n=${WARM_RUNS}, edit n=${EDIT_RUNS}); ${loadNote()}\n`,
    );
    printTable(rows);
    console.log("");
    printTable(ratios);
  } finally {
    await registry.stop();
  }
}

await main();
