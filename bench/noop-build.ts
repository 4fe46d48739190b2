// No-op build of a 20-image repo: tug (one `tug build -q` process, wall time including Node
// start-up) against buildah (`buildah bud --layers` once per image, sequentially, on the same
// files with equivalent Dockerfiles). Run: node --import tsx bench/noop-build.ts
// Run `node scripts/build.mjs` first: the CLI measured is bin/tug.js over dist/.
//
// The repo: 8 Node services (4 source files each, esbuild-bundled, FROM scratch), 6 static
// sites (files builder on a busybox OCI-layout base) and 6 Go binaries (FROM scratch). buildah is
// given what tug produces from source, prebuilt (the esbuild bundle, the static Go binary), so
// it is never charged for compiling; its no-op pass only has to find every step in its cache.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build as esbuild } from "esbuild";
import { stringify } from "yaml";
import { makeBusyboxBase } from "../test/support/bases.ts";
import { startTugServer } from "../test/support/cli.ts";
import { stopProcess } from "../test/support/process.ts";
import { BUILDAH_BUD, buildahStore } from "./support/buildah.ts";
import { printProfile, summarizeProfile } from "./support/cpu-profile.ts";
import {
  fmtMs,
  fmtSpread,
  loadNote,
  printTable,
  progress,
  type Spread,
  spread,
  timed,
} from "./support/measure.ts";
import { startBenchRegistry } from "./support/registry.ts";
import {
  GO_BINARIES,
  goBinary,
  NODE_SERVICES,
  nodeService,
  SITES,
  site,
  writeFiles,
} from "./support/twenty-images.ts";
import { benchDir } from "./support/work-dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TUG = join(ROOT, "bin", "tug.js");
const TUG_RUNS = 11;
const BUILDAH_RUNS = 5;

interface ArtifactJson {
  target: string;
  digest: string;
  cached: boolean;
}

const nodeDockerfile = [
  "FROM scratch",
  "WORKDIR /app",
  "ENV NODE_ENV=production",
  "COPY index.mjs /app/index.mjs",
  'ENTRYPOINT ["node", "/app/index.mjs"]',
  "",
].join("\n");

async function main(): Promise<void> {
  const work = benchDir("tug-bench-noop-");
  const registry = await startBenchRegistry(join(work, "registry"));
  const buildah = buildahStore(join(work, "buildah"));
  const t0 = performance.now();
  try {
    const repo = join(work, "repo");
    const ctx = join(work, "buildah-contexts");
    const env = { ...process.env, TUG_CACHE: join(work, "tug-cache") };
    const goEnv = {
      ...process.env,
      CGO_ENABLED: "0",
      GOCACHE: join(work, "go-cache"),
      GOFLAGS: "-buildvcs=false",
      GOTOOLCHAIN: "local",
    };
    progress("generating the repo and buildah contexts");
    const busybox = await makeBusyboxBase(join(repo, "bases", "busybox"));
    const images: Record<string, Record<string, unknown>> = {};
    const budJobs: Array<{ name: string; dockerfile: string; context: string }> = [];

    for (let i = 0; i < NODE_SERVICES; i++) {
      const name = `svc${i}`;
      writeFiles(join(repo, name), nodeService(i));
      // Never run: a node bundle on scratch cannot start, so the start check is off (as in the Dockerfile).
      images[name] = {
        builder: "node",
        context: `./${name}`,
        entry: "src/server.ts",
        base: "scratch",
        entrypoint_check: false,
      };
      // The same bundle tug makes (bundle, esm, node target): buildah only copies it.
      await esbuild({
        absWorkingDir: join(repo, name),
        entryPoints: ["src/server.ts"],
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node20",
        outfile: join(ctx, name, "index.mjs"),
        logLevel: "warning",
      });
      writeFileSync(join(ctx, name, "Dockerfile"), nodeDockerfile);
      budJobs.push({ name, dockerfile: join(ctx, name, "Dockerfile"), context: join(ctx, name) });
    }
    for (let i = 0; i < SITES; i++) {
      const name = `site${i}`;
      writeFiles(join(repo, name), site(i));
      images[name] = {
        builder: "files",
        context: `./${name}`,
        dest: "/srv/www",
        base: "oci-layout:./bases/busybox",
      };
      // The Dockerfile lives outside the context, so the context holds exactly the site's files.
      mkdirSync(join(ctx, name), { recursive: true });
      writeFileSync(join(ctx, name, "Dockerfile"), "FROM localhost/bench-busybox:latest\nCOPY . /srv/www/\n");
      budJobs.push({ name, dockerfile: join(ctx, name, "Dockerfile"), context: join(repo, name) });
    }
    for (let i = 0; i < GO_BINARIES; i++) {
      const name = `gobin${i}`;
      writeFiles(join(repo, name), goBinary(i));
      images[name] = { builder: "go", context: `./${name}`, base: "scratch" };
      mkdirSync(join(ctx, name), { recursive: true });
      timed("go", ["build", "-trimpath", "-ldflags=-s -w", "-o", join(ctx, name, name), "."], {
        cwd: join(repo, name),
        env: goEnv,
      });
      writeFileSync(
        join(ctx, name, "Dockerfile"),
        `FROM scratch\nCOPY ${name} /app/${name}\nENTRYPOINT ["/app/${name}"]\n`,
      );
      budJobs.push({ name, dockerfile: join(ctx, name, "Dockerfile"), context: join(ctx, name) });
    }
    writeFileSync(join(repo, "tug.yaml"), stringify({ images }));

    const repoFlag = ["--repo", `${registry.host}/bench`];
    const tug = (args: string[]) =>
      timed(process.execPath, [TUG, "build", "-q", ...args], { cwd: repo, env });
    const tugJson = (args: string[]): { ms: number; artifacts: ArtifactJson[] } =>
      JSON.parse(tug([...args, "--json"]).stdout) as { ms: number; artifacts: ArtifactJson[] };

    progress("tug: cold build and warm-up");
    // Warm-up: the cold build (compiles, bundles, pushes), then one no-op of each kind.
    const cold = tug([]);
    const coldPush = tug(repoFlag);
    for (const args of [[], repoFlag, [...repoFlag, "--trust-pushed"]]) {
      const r = tugJson(args);
      const rebuilt = r.artifacts.filter((a) => !a.cached).map((a) => a.target);
      if (r.artifacts.length !== budJobs.length || rebuilt.length > 0)
        throw new Error(`not a no-op: ${r.artifacts.length} artifacts, rebuilt ${rebuilt.join(", ")}`);
    }

    progress("buildah: cold builds and pushes");
    const pulled = buildah.run(["pull", "--quiet", `oci:${busybox.layout}:latest`]).stdout.trim();
    buildah.run(["tag", pulled, "localhost/bench-busybox:latest"]);
    const budAll = (push: boolean): number => {
      const t = performance.now();
      for (const j of budJobs) {
        buildah.run([
          ...BUILDAH_BUD,
          "-f",
          j.dockerfile,
          "-t",
          `localhost/bench/${j.name}:latest`,
          j.context,
        ]);
        if (push)
          buildah.run([
            "push",
            "--quiet",
            "--tls-verify=false",
            `localhost/bench/${j.name}:latest`,
            `docker://${registry.host}/buildah/${j.name}:latest`,
          ]);
      }
      return performance.now() - t;
    };
    const buildahCold = budAll(false);
    const buildahColdPush = budAll(true);

    const runs = (n: number, f: () => number): Spread => spread(Array.from({ length: n }, f));
    progress("measuring");
    const loadBefore = loadNote();
    const nodeStart = runs(TUG_RUNS, () => timed(process.execPath, ["-e", "0"]).ms);
    const tugVersion = runs(TUG_RUNS, () => timed(process.execPath, [TUG, "--version"]).ms);
    const local = runs(TUG_RUNS, () => tug([]).ms);
    const push = runs(TUG_RUNS, () => tug(repoFlag).ms);
    const trusted = runs(TUG_RUNS, () => tug([...repoFlag, "--trust-pushed"]).ms);
    const inProcess = (args: string[]) => runs(TUG_RUNS, () => tugJson(args).ms);
    const localIn = inProcess([]);
    const pushIn = inProcess(repoFlag);
    const trustedIn = inProcess([...repoFlag, "--trust-pushed"]);
    // The same no-ops handed to a warm `tug server`, alternating with one-shot runs
    // (TUG_NO_SERVER=1) so both see the same minutes' load on a shared machine.
    const server = await startTugServer({ cwd: repo, env });
    const serverLocal: number[] = [];
    const serverPush: number[] = [];
    const againLocal: number[] = [];
    const oneShot = (args: string[]) =>
      timed(process.execPath, [TUG, "build", "-q", ...args], {
        cwd: repo,
        env: { ...env, TUG_NO_SERVER: "1" },
      }).ms;
    try {
      tug([]);
      for (let i = 0; i < TUG_RUNS; i++) {
        serverLocal.push(tug([]).ms);
        againLocal.push(oneShot([]));
        serverPush.push(tug(repoFlag).ms);
      }
    } finally {
      await stopProcess(server.child);
    }
    const localServer = spread(serverLocal);
    const pushServer = spread(serverPush);
    const localAgain = spread(againLocal);
    const bud = runs(BUILDAH_RUNS, () => budAll(false));
    const budPush = runs(BUILDAH_RUNS, () => budAll(true));
    const loadAfter = loadNote();

    console.log(
      `\nno-op build of ${budJobs.length} images (${NODE_SERVICES} node, ${SITES} files, ${GO_BINARIES} go)`,
    );
    console.log(`cold (first) builds: tug ${fmtMs(cold.ms)} local, ${fmtMs(coldPush.ms)} first push;`);
    console.log(
      `  buildah bud ×20 ${fmtMs(buildahCold)} (prebuilt artifacts), bud+push ×20 ${fmtMs(buildahColdPush)}\n`,
    );
    printTable([
      ["no-op pass over 20 images", "tug wall (in-process)", "buildah wall", "buildah / tug", "target"],
      ["baseline: node -e 0", fmtSpread(nodeStart), "", "", ""],
      ["baseline: tug --version", fmtSpread(tugVersion), "", "", ""],
      [
        "local outputs (layout + tarballs) vs bud --layers",
        `${fmtSpread(local)} (${fmtMs(localIn.median)})`,
        fmtSpread(bud),
        `${(bud.median / local.median).toFixed(1)}×`,
        `≤ 150 ms: ${local.median <= 150 ? "met" : "MISSED"}`,
      ],
      [
        "--repo (push) vs bud + push",
        `${fmtSpread(push)} (${fmtMs(pushIn.median)})`,
        fmtSpread(budPush),
        `${(budPush.median / push.median).toFixed(1)}×`,
        `≤ 150 ms: ${push.median <= 150 ? "met" : "MISSED"}`,
      ],
      [
        "--repo --trust-pushed vs bud + push",
        `${fmtSpread(trusted)} (${fmtMs(trustedIn.median)})`,
        fmtSpread(budPush),
        `${(budPush.median / trusted.median).toFixed(1)}×`,
        `≤ 150 ms: ${trusted.median <= 150 ? "met" : "MISSED"}`,
      ],
      [
        "local outputs, warm `tug server`",
        fmtSpread(localServer),
        "",
        `one-shot (alternating) ${fmtMs(localAgain.median)}: ${(localAgain.median / localServer.median).toFixed(1)}×`,
        "",
      ],
      ["--repo (push), warm `tug server`", fmtSpread(pushServer), "", "", ""],
    ]);
    console.log(`\nmedian (min–max, n); in-process = tug's own --json ms, the rest is process start-up`);
    console.log(`${loadBefore} before, ${loadAfter} after; total ${fmtMs(performance.now() - t0)}`);
    console.log(`\ntug --timings of one no-op local build (slowest steps):`);
    const timings = timed(process.execPath, [TUG, "build", "--timings"], { cwd: repo, env })
      .stderr.trim()
      .split("\n");
    for (const l of timings.filter((l) => !l.includes(" oci:")).slice(0, 60)) console.log(`  ${l}`);
    for (const [name, args] of [
      ["no-op local build", []],
      ["no-op --repo build", repoFlag],
    ] as const) {
      const dir = join(work, `prof-${name.replace(/\W+/g, "-")}`);
      timed(process.execPath, [`--cpu-prof-dir=${dir}`, "--cpu-prof", TUG, "build", "-q", ...args], {
        cwd: repo,
        env,
      });
      printProfile(`cpu profile of one ${name}`, summarizeProfile(dir));
    }
  } finally {
    buildah.reset();
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
