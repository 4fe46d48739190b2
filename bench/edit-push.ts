// Edit → pushed: change one source file of a Node service, then build and push until the
// registry serves the new digest. tug (`tug build web --repo …`, bundling in-process) against
// esbuild + `buildah bud --layers` + `buildah push` on an equivalent Dockerfile.
// Run: node --import tsx bench/edit-push.ts (after `node scripts/build.mjs`).
//
// Same work on both sides: the examples/demo/web service on a Node base image (made by
// makeNodeBase, pushed to the loopback registry as 127.0.0.1:PORT/base/node:20), bundled by the
// same esbuild with the same options, one new app layer on top of the base, pushed to the same
// registry. buildah is given its best case: the base already in its store (`--pull=false`), a
// warm layer cache, and the bundle step run as the esbuild CLI outside of the Dockerfile.
// The "warm server" row runs the same one-shot command while `tug server` runs for the repo.
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { makeNodeBase } from "../test/support/bases.ts";
import { startTugServer } from "../test/support/cli.ts";
import { stopProcess } from "../test/support/process.ts";
import { budArgs, buildahStore, pushArgs } from "./support/buildah.ts";
import { printProfile, summarizeProfile } from "./support/cpu-profile.ts";
import { fmtMs, fmtSpread, loadNote, printTable, progress, spread, timed } from "./support/measure.ts";
import { manifestDigest, startBenchRegistry } from "./support/registry.ts";
import { benchDir } from "./support/work-dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TUG = join(ROOT, "bin", "tug.js");
const ESBUILD = join(ROOT, "node_modules", ".bin", "esbuild");
const TUG_RUNS = 9;
const BUILDAH_RUNS = 5;
const WARMUP = 2;

async function main(): Promise<void> {
  const work = benchDir("tug-bench-edit-");
  const registry = await startBenchRegistry(join(work, "registry"));
  const buildah = buildahStore(join(work, "buildah"));
  const t0 = performance.now();
  try {
    const base = await makeNodeBase();
    const baseRef = `${registry.host}/base/node:20`;
    timed("skopeo", ["copy", "--quiet", "--dest-tls-verify=false", base.ref, `docker://${baseRef}`]);

    const repo = join(work, "repo");
    const app = join(repo, "web");
    cpSync(join(ROOT, "examples", "demo", "web"), app, { recursive: true });
    const image = { builder: "node", context: "./web", entry: "src/server.ts", base: baseRef };
    writeFileSync(
      join(repo, "tug.yaml"),
      stringify({ images: { web: { ...image, env: { PORT: "8080" }, ports: [8080] } } }),
    );
    let edits = 0;
    const edit = () => {
      edits++;
      writeFileSync(
        join(app, "src", "greeting.ts"),
        `export function greeting(): string {\n  return "hello from web, edit ${edits}";\n}\n`,
      );
    };
    const env = { ...process.env, TUG_CACHE: join(work, "tug-cache") };
    const tugArgs = [TUG, "build", "web", "--repo", `${registry.host}/demo`];

    let last = "";
    const pushedNew = async (repoPath: string) => {
      const d = await manifestDigest(registry, repoPath, "latest");
      if (d === last) throw new Error(`${repoPath}: the registry still serves ${d} after an edit`);
      last = d;
    };

    progress("tug: cold build, then edit → push runs");
    const cold = timed(process.execPath, [...tugArgs, "-q"], { cwd: repo, env }).ms;
    const tugMs: number[] = [];
    for (let i = 0; i < WARMUP + TUG_RUNS; i++) {
      edit();
      const { ms } = timed(process.execPath, [...tugArgs, "-q"], { cwd: repo, env });
      await pushedNew("demo/web");
      if (i >= WARMUP) tugMs.push(ms);
    }
    edit();
    const timings = timed(process.execPath, [...tugArgs, "--timings"], { cwd: repo, env }).stderr;
    await pushedNew("demo/web");
    edit();
    const profDir = join(work, "prof");
    timed(process.execPath, [`--cpu-prof-dir=${profDir}`, "--cpu-prof", ...tugArgs, "-q"], {
      cwd: repo,
      env,
    });
    await pushedNew("demo/web");

    progress("tug: edit → push through a warm `tug server`, alternating with one-shot runs");
    // Alternated pairs: on a shared, loaded machine both rows then see the same minutes' load.
    const server = await startTugServer({ cwd: repo, env });
    const serverMs: number[] = [];
    const oneShotAgain: number[] = [];
    const oneShotEnv = { ...env, TUG_NO_SERVER: "1" };
    try {
      for (let i = 0; i < WARMUP + TUG_RUNS; i++) {
        edit();
        const { ms } = timed(process.execPath, [...tugArgs, "-q"], { cwd: repo, env });
        await pushedNew("demo/web");
        edit();
        const again = timed(process.execPath, [...tugArgs, "-q"], { cwd: repo, env: oneShotEnv }).ms;
        await pushedNew("demo/web");
        if (i < WARMUP) continue;
        serverMs.push(ms);
        oneShotAgain.push(again);
      }
    } finally {
      await stopProcess(server.child);
    }

    progress("buildah: edit → push runs");
    // buildah: the same base in its store, the same esbuild bundle copied in.
    const ctx = join(work, "buildah-context");
    mkdirSync(ctx);
    writeFileSync(
      join(ctx, "Dockerfile"),
      [
        `FROM ${baseRef}`,
        "WORKDIR /app",
        "ENV NODE_ENV=production PORT=8080",
        "EXPOSE 8080",
        "COPY index.mjs /app/index.mjs",
        'ENTRYPOINT ["node", "/app/index.mjs"]',
        "",
      ].join("\n"),
    );
    buildah.run(["pull", "--quiet", "--tls-verify=false", `docker://${baseRef}`]);
    const bundle = () =>
      timed(
        ESBUILD,
        [
          "src/server.ts",
          "--bundle",
          "--platform=node",
          "--format=esm",
          "--target=node20",
          `--outfile=${join(ctx, "index.mjs")}`,
          "--log-level=warning",
        ],
        { cwd: app },
      ).ms;
    const bud = () => buildah.run(budArgs({ tag: "localhost/demo/web:latest", context: ctx })).ms;
    const push = () =>
      buildah.run(pushArgs("localhost/demo/web:latest", `docker://${registry.host}/buildah/web:latest`)).ms;
    const parts = {
      esbuild: [] as number[],
      bud: [] as number[],
      push: [] as number[],
      total: [] as number[],
    };
    last = "";
    for (let i = 0; i < WARMUP + BUILDAH_RUNS; i++) {
      edit();
      const t = performance.now();
      const [e, b, p] = [bundle(), bud(), push()];
      const total = performance.now() - t;
      await pushedNew("buildah/web");
      if (i < WARMUP) continue;
      parts.esbuild.push(e);
      parts.bud.push(b);
      parts.push.push(p);
      parts.total.push(total);
    }

    const tug = spread(tugMs);
    const warm = spread(serverMs);
    const again = spread(oneShotAgain);
    const bh = spread(parts.total);
    const bhNoBundle = spread(parts.bud.map((b, i) => b + parts.push[i]!));
    console.log(
      `\nedit one file → new digest pushed to ${registry.host} (tug cold first build ${fmtMs(cold)})\n`,
    );
    printTable([
      ["edit → pushed", "median (min–max, n)", "buildah / tug"],
      ["tug build web --repo (bundle + layer + push)", fmtSpread(tug), ""],
      [
        "tug build web --repo, warm `tug server`",
        fmtSpread(warm),
        `${(bh.median / warm.median).toFixed(1)}×`,
      ],
      ["  one-shot, alternating with the server runs", fmtSpread(again), ""],
      ["buildah: esbuild + bud --layers + push", fmtSpread(bh), `${(bh.median / tug.median).toFixed(1)}×`],
      ["  of which esbuild CLI", fmtSpread(spread(parts.esbuild)), ""],
      ["  of which buildah bud --layers", fmtSpread(spread(parts.bud)), ""],
      ["  of which buildah push", fmtSpread(spread(parts.push)), ""],
      [
        "buildah bud + push only (no bundle)",
        fmtSpread(bhNoBundle),
        `${(bhNoBundle.median / tug.median).toFixed(1)}×`,
      ],
    ]);
    console.log(
      `\ntarget: tug ≤ 300 ms ${tug.median <= 300 ? "met" : "MISSED"}; ≥ 10× buildah ${bh.median / tug.median >= 10 ? "met" : "MISSED"}`,
    );
    console.log(
      `warm server: one-shot / server ${(again.median / warm.median).toFixed(1)}× (same run); ≤ 40 ms ${warm.median <= 40 ? "met" : "MISSED"}`,
    );
    console.log(`${loadNote()}; total ${fmtMs(performance.now() - t0)}`);
    console.log(`\ntug --timings of one edit → push:`);
    for (const l of timings.trim().split("\n")) console.log(`  ${l}`);
    printProfile("cpu profile of one edit → push", summarizeProfile(profDir));
  } finally {
    buildah.reset();
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
