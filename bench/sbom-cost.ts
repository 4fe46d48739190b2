// What an SBOM costs: cold builds of the 20-image repo (bench/support/twenty-images.ts, its sites
// on a base that carries this machine's dpkg status, so the SBOM lists ~750 Debian packages and
// six Go binaries' modules) with `--sbom spdx` (the default) against `--sbom none`, pushed to a
// local docker-registry; then no-op builds of each, and what a no-op uploads.
// Run: node --import tsx bench/sbom-cost.ts [runs]
//
// Every cold run has a fresh tug cache and a fresh repository prefix (so every blob is uploaded);
// GOCACHE is shared and warmed first, so `go build` is not what is measured. Runs alternate between
// the two modes so load drifts hit both. Figures are tug's in-process `--json` ms and wall time.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { makeBusyboxBase, makeImage } from "../test/support/bases.ts";
import { fmtMs, fmtSpread, loadNote, printTable, progress, spread, timed } from "./support/measure.ts";
import { startBenchRegistry } from "./support/registry.ts";
import { writeTwentyImageRepo } from "./support/twenty-images.ts";
import { benchDir } from "./support/work-dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = join(ROOT, "src", "cli", "main.ts");
const TSX = import.meta.resolve("tsx");
const RUNS = Number(process.argv[2] ?? 3);

interface Report {
  ms: number;
  artifacts: Array<{ pushedBytes: number }>;
}

function countFiles(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n++;
  return n;
}

async function main(): Promise<void> {
  const work = benchDir("tug-bench-sbom-");
  const registry = await startBenchRegistry(join(work, "registry"));
  try {
    const repo = join(work, "repo");
    await writeTwentyImageRepo(repo);
    await makeImage(join(repo, "bases", "deb"), "deb", {
      from: await makeBusyboxBase(),
      files: [
        { from: "/var/lib/dpkg/status", to: "/var/lib/dpkg/status", mode: 0o644 },
        { from: "/etc/os-release", to: "/etc/os-release", mode: 0o644 },
      ],
    });
    const yamlPath = join(repo, "tug.yaml");
    const project = parse(readFileSync(yamlPath, "utf8")) as { images: Record<string, { base?: string }> };
    for (const spec of Object.values(project.images))
      if (spec.base === "oci-layout:./bases/busybox") spec.base = "oci-layout:./bases/deb:deb";
    writeFileSync(yamlPath, stringify(project));
    const baseEnv = { ...process.env, GOCACHE: join(work, "go-cache"), GOFLAGS: "-buildvcs=false" };
    const tug = (cache: string, args: string[]) => {
      const r = timed(process.execPath, ["--import", TSX, MAIN, "build", "-q", "--json", ...args], {
        cwd: repo,
        env: { ...baseEnv, TUG_CACHE: cache },
        // A cold build of 20 images took up to 170 s at load ~29: measure's 180 s default is too short.
        timeout: 900_000,
      });
      const report = JSON.parse(r.stdout) as Report;
      return { wall: r.ms, ms: report.ms, pushed: report.artifacts.reduce((a, b) => a + b.pushedBytes, 0) };
    };
    progress("warming GOCACHE");
    tug(join(work, "warm-cache"), ["--sbom", "none", "--repo", `${registry.host}/warm`]);

    const modes = ["spdx", "none"] as const;
    const cold: Record<string, { ms: number[]; wall: number[] }> = {
      spdx: { ms: [], wall: [] },
      none: { ms: [], wall: [] },
    };
    const noop: Record<string, { ms: number[]; wall: number[]; pushed: number[]; newFiles: number[] }> = {
      spdx: { ms: [], wall: [], pushed: [], newFiles: [] },
      none: { ms: [], wall: [], pushed: [], newFiles: [] },
    };
    for (let i = 0; i < RUNS; i++) {
      for (const mode of i % 2 ? [...modes].reverse() : modes) {
        const cache = join(work, `cache-${mode}-${i}`);
        const args = ["--sbom", mode, "--repo", `${registry.host}/r${i}${mode}`];
        progress(`cold ${mode} #${i + 1}`);
        const c = tug(cache, args);
        cold[mode]!.ms.push(c.ms);
        cold[mode]!.wall.push(c.wall);
        const before = countFiles(registry.storage);
        const n = tug(cache, args);
        noop[mode]!.ms.push(n.ms);
        noop[mode]!.wall.push(n.wall);
        noop[mode]!.pushed.push(n.pushed);
        noop[mode]!.newFiles.push(countFiles(registry.storage) - before);
      }
    }
    console.log(`\n${loadNote()}; ${RUNS} runs per mode\n`);
    const coldMs = (m: string) => spread(cold[m]!.ms);
    const overhead = (coldMs("spdx").median / coldMs("none").median - 1) * 100;
    printTable([
      ["20 images, --repo loopback", "--sbom spdx", "--sbom none", "SBOM cost"],
      [
        "cold build, in-process",
        fmtSpread(coldMs("spdx")),
        fmtSpread(coldMs("none")),
        `${overhead.toFixed(1)} %`,
      ],
      ["cold build, wall", fmtSpread(spread(cold.spdx!.wall)), fmtSpread(spread(cold.none!.wall)), ""],
      ["no-op build, in-process", fmtSpread(spread(noop.spdx!.ms)), fmtSpread(spread(noop.none!.ms)), ""],
      ["no-op build, wall", fmtSpread(spread(noop.spdx!.wall)), fmtSpread(spread(noop.none!.wall)), ""],
      [
        "no-op: bytes pushed (max)",
        `${Math.max(...noop.spdx!.pushed)}`,
        `${Math.max(...noop.none!.pushed)}`,
        "",
      ],
      [
        "no-op: new files in registry storage (max)",
        `${Math.max(...noop.spdx!.newFiles)}`,
        `${Math.max(...noop.none!.newFiles)}`,
        "",
      ],
    ]);
    console.log(`\ncold spdx median ${fmtMs(coldMs("spdx").median)} vs none ${fmtMs(coldMs("none").median)}`);
  } finally {
    await registry.stop();
  }
}

await main();
