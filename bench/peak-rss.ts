// Peak memory and throughput of a cold ~500 MB image build: tug's files builder against
// `buildah bud` (FROM scratch, COPY of the same directory), each measured by GNU time -v
// (maximum resident set size of the process tree's largest process, wall time).
// Run: node --import tsx bench/peak-rss.ts (after `node scripts/build.mjs`).
//
// Every run is cold: tug gets an empty cache and output dir, buildah `--no-cache` and an emptied
// store; pushes go to a repository the registry has never seen, so every blob is uploaded.
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { buildahStore } from "./support/buildah.ts";
import { fmtMs, fmtSpread, loadNote, printTable, progress, spread, timed } from "./support/measure.ts";
import { startBenchRegistry } from "./support/registry.ts";
import { benchDir } from "./support/work-dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TUG = join(ROOT, "bin", "tug.js");
const RUNS = 5;
const MiB = 1 << 20;
const TOTAL = 500 * 1000 * 1000;
const RSS_TARGET_MIB = 250;

const WORDS = (
  "import export function return const let await async class extends interface type the a layer " +
  "image registry digest manifest config files compress well when they are text { } ( ) => ; 0x1f"
).split(" ");

/** Source-like text that gzip shrinks to roughly a third. */
function textPool(bytes: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    const w =
      Math.random() < 0.1
        ? String(Math.floor(Math.random() * 1e6))
        : WORDS[Math.floor(Math.random() * WORDS.length)]!;
    parts.push(w);
    n += w.length + 1;
  }
  return Buffer.from(parts.join(Math.random() < 0.5 ? " " : "\n")).subarray(0, bytes);
}

/** ~TOTAL bytes, half random and half text, in files from 1 KiB to 32 MiB under a few dirs. */
function makeContext(root: string): { bytes: number; files: number } {
  const pool = textPool(8 * MiB);
  let written = 0;
  let textBytes = 0;
  let files = 0;
  while (written < TOTAL) {
    const dir = join(root, `pkg${files % 23}`, `mod${files % 7}`);
    mkdirSync(dir, { recursive: true });
    const r = Math.random();
    const size = Math.min(
      TOTAL - written,
      r < 0.8
        ? 1024 + Math.floor(Math.random() * 64 * 1024)
        : r < 0.97
          ? MiB + Math.floor(Math.random() * MiB)
          : 8 * MiB + Math.floor(Math.random() * 24 * MiB),
    );
    const isText = textBytes * 2 <= written;
    let data: Buffer;
    if (isText) {
      const chunks: Buffer[] = [];
      for (let left = size; left > 0; ) {
        const off = Math.floor(Math.random() * (pool.length - 1));
        const c = pool.subarray(off, off + left);
        chunks.push(c);
        left -= c.length;
      }
      data = Buffer.concat(chunks);
    } else data = randomBytes(size);
    writeFileSync(join(dir, `f${files}.${isText ? "txt" : "bin"}`), data);
    if (isText) textBytes += size;
    written += size;
    files++;
  }
  return { bytes: written, files };
}

interface Measured {
  ms: number;
  maxRssMiB: number;
}

/** Runs a command under GNU time -v: wall time and the peak RSS it reports. */
function underTime(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv }): Measured {
  const r = timed("/usr/bin/time", ["-v", cmd, ...args], opts);
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  if (!m) throw new Error(`no RSS in /usr/bin/time output:\n${r.stderr.slice(-2000)}`);
  return { ms: r.ms, maxRssMiB: Number(m[1]) / 1024 };
}

async function main(): Promise<void> {
  const work = benchDir("tug-bench-rss-");
  const registry = await startBenchRegistry(join(work, "registry"));
  const buildah = buildahStore(join(work, "buildah"));
  const t0 = performance.now();
  try {
    progress("generating the ~500 MB context");
    const repo = join(work, "repo");
    const ctx = makeContext(join(repo, "data"));
    writeFileSync(
      join(repo, "tug.yaml"),
      stringify({ images: { big: { builder: "files", context: "./data", dest: "/data", base: "scratch" } } }),
    );
    const dockerfile = join(work, "Dockerfile");
    writeFileSync(dockerfile, "FROM scratch\nCOPY . /data/\n");
    const cache = join(work, "tug-cache");
    const env = { ...process.env, TUG_CACHE: cache };
    const clean = () => {
      rmSync(cache, { recursive: true, force: true });
      rmSync(join(repo, ".tug"), { recursive: true, force: true });
    };

    const tugLocal: Measured[] = [];
    const tugPush: Measured[] = [];
    const bud: Measured[] = [];
    const budPush: Measured[] = [];
    const pushMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      progress(`run ${i + 1}/${RUNS}: tug local outputs`);
      clean();
      tugLocal.push(underTime(process.execPath, [TUG, "build", "-q"], { cwd: repo, env }));
      progress(`run ${i + 1}/${RUNS}: tug --repo`);
      clean();
      const repoFlag = ["--repo", `${registry.host}/tug${i}`];
      tugPush.push(underTime(process.execPath, [TUG, "build", "-q", ...repoFlag], { cwd: repo, env }));
      clean();
      progress(`run ${i + 1}/${RUNS}: buildah bud (+ push)`);
      buildah.reset();
      const b = underTime(
        "buildah",
        [
          ...buildah.globalFlags,
          "bud",
          "--no-cache",
          "--isolation",
          "chroot",
          "--quiet",
          "-f",
          dockerfile,
          "-t",
          "localhost/big",
          join(repo, "data"),
        ],
        {},
      );
      bud.push(b);
      const p = underTime(
        "buildah",
        [
          ...buildah.globalFlags,
          "push",
          "--quiet",
          "--tls-verify=false",
          "localhost/big",
          `docker://${registry.host}/buildah${i}/big:latest`,
        ],
        {},
      );
      pushMs.push(p.ms);
      budPush.push({ ms: b.ms + p.ms, maxRssMiB: Math.max(b.maxRssMiB, p.maxRssMiB) });
      buildah.reset();
    }

    const mb = ctx.bytes / 1e6;
    const row = (name: string, xs: Measured[], ref?: Measured[]): string[] => {
      const ms = spread(xs.map((x) => x.ms));
      const rss = spread(xs.map((x) => x.maxRssMiB));
      return [
        name,
        fmtSpread(ms),
        `${(mb / (ms.median / 1000)).toFixed(0)} MB/s`,
        `${rss.median.toFixed(0)} MiB (max ${rss.max.toFixed(0)})`,
        ref ? `${(ms.median / spread(ref.map((x) => x.ms)).median).toFixed(2)}×` : "",
      ];
    };
    console.log(
      `\ncold build of one ${mb.toFixed(0)} MB layer (${ctx.files} files, half random, half text)\n`,
    );
    printTable([
      ["build", "wall median (min–max, n)", "throughput", "peak RSS median", "buildah / tug"],
      row("tug build (local: cache + OCI layout + docker tar)", tugLocal),
      row("buildah bud --no-cache (COPY into its store)", bud, tugLocal),
      row("tug build --repo (gzip-1, upload)", tugPush),
      row("buildah bud + push (gzip, upload)", budPush, tugPush),
    ]);
    const maxRss = Math.max(...tugLocal.concat(tugPush).map((x) => x.maxRssMiB));
    console.log(`\n  of which buildah push alone: ${fmtSpread(spread(pushMs))}`);
    console.log(
      `\nratios: local ${(spread(bud.map((x) => x.ms)).median / spread(tugLocal.map((x) => x.ms)).median).toFixed(2)}× (buildah bud / tug local), push ${(spread(budPush.map((x) => x.ms)).median / spread(tugPush.map((x) => x.ms)).median).toFixed(2)}× (buildah bud+push / tug --repo)`,
    );
    console.log(
      `target: tug peak RSS ≤ ${RSS_TARGET_MIB} MiB ${maxRss <= RSS_TARGET_MIB ? "met" : "MISSED"} (worst run ${maxRss.toFixed(0)} MiB)`,
    );
    console.log(`${loadNote()}; total ${fmtMs(performance.now() - t0)}`);
  } finally {
    buildah.reset();
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
