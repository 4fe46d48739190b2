// Layer build throughput: tug's buildLayer (tar + sha256 + parallel gzip + sha256) against the
// shell pipeline a careful user would write. Run: node --import tsx bench/layer-throughput.ts
// Timings are the median of 5; tug runs in a child process so its peak RSS is its own.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildLayer } from "../src/oci/build-layer.ts";
import type { Compression } from "../src/oci/compress.ts";
import { tarEntriesFromDir } from "../src/oci/tar.ts";

const MiB = 1 << 20;
const RUNS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const WORDS =
  "the quick layer of a container image holds files that compress well when they are text like this"
    .split(" ")
    .concat(["import", "export", "function", "return", "const", "{", "}", "=>", "await", "0x1f", "\n"]);

/** Source-like text: words from a small vocabulary with random numbers mixed in. */
function text(bytes: number): Buffer {
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
  return Buffer.from(parts.join(" ")).subarray(0, bytes);
}

/** ~100 MiB: about half compressible text, half random bytes, in files from 1 KiB to 8 MiB. */
function makeTree(root: string, total: number): void {
  let written = 0;
  let textBytes = 0;
  let i = 0;
  while (written < total) {
    const dir = join(root, `pkg${i % 17}`, `mod${i % 5}`);
    mkdirSync(dir, { recursive: true });
    const r = Math.random();
    const size = Math.min(
      total - written,
      r < 0.7 ? 1024 + Math.floor(Math.random() * 64 * 1024) : r < 0.95 ? MiB : 8 * MiB,
    );
    const isText = textBytes * 2 <= written; // keeps the byte mix at 50/50
    const data = isText ? text(size) : randomBytes(size);
    writeFileSync(join(dir, `f${i}.${isText ? "txt" : "bin"}`), data, { mode: i % 7 === 0 ? 0o755 : 0o644 });
    if (isText) textBytes += size;
    written += size;
    i++;
  }
}

/** A 500 MB file that is mostly holes with random blocks, to watch memory on a big layer. */
function makeBigFile(path: string, size: number): void {
  const fd = openSync(path, "w");
  try {
    for (let off = 0; off < size; off += 16 * MiB) writeSync(fd, randomBytes(MiB), 0, MiB, off);
    writeSync(fd, Buffer.from([1]), 0, 1, size - 1);
  } finally {
    closeSync(fd);
  }
}

interface ChildResult {
  ms: number[];
  cpuMs: number[];
  maxRssMiB: number;
  size: number;
  diffSize: number;
}

async function child(dir: string, out: string, runs: number, compression: Compression): Promise<void> {
  const ms: number[] = [];
  const cpuMs: number[] = [];
  let size = 0;
  let diffSize = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const entries = await tarEntriesFromDir(dir, "app");
    const res = await buildLayer({ entries, compression, outFile: out });
    ms.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpuMs.push((c.user + c.system) / 1000);
    size = res.size;
    diffSize = res.diffSize;
  }
  rmSync(out, { force: true });
  // resourceUsage().maxRSS is in KiB.
  const result: ChildResult = { ms, cpuMs, maxRssMiB: process.resourceUsage().maxRSS / 1024, size, diffSize };
  process.stdout.write(JSON.stringify(result));
}

function runChild(dir: string, out: string, runs: number, compression: Compression): ChildResult {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", self, "--child", dir, out, String(runs), JSON.stringify(compression)],
    { encoding: "utf8", maxBuffer: 1 << 20 },
  );
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ChildResult;
}

function timeShell(cmd: string): { ms: number; cpuMs: number; size: number } {
  const times: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    // bash's `time` with this format reports user+sys of the whole pipeline.
    const r = spawnSync("bash", ["-o", "pipefail", "-c", `TIMEFORMAT='%U %S'; time (${cmd}) >/dev/null`], {
      encoding: "utf8",
    });
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
    const [u, sy] = r.stderr.trim().split(/\s+/).slice(-2).map(Number);
    cpu.push(((u ?? 0) + (sy ?? 0)) * 1000);
  }
  const size = Number(
    execFileSync("bash", ["-o", "pipefail", "-c", cmd.replace("| sha256sum", "| wc -c")], {
      encoding: "utf8",
    }).trim(),
  );
  return { ms: median(times), cpuMs: median(cpu), size };
}

function has(bin: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${bin}`]).status === 0;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "tug-bench-"));
  try {
    const tree = join(work, "tree");
    makeTree(tree, 100 * MiB);
    const rows: string[][] = [["pipeline", "median s", "CPU s", "MiB/s (input)", "ratio", "peak RSS"]];
    const row = (name: string, ms: number, cpuMs: number, mb: number, ratio: number, rss?: number) =>
      rows.push([
        name,
        (ms / 1000).toFixed(2),
        (cpuMs / 1000).toFixed(2),
        (mb / (ms / 1000)).toFixed(0),
        ratio.toFixed(3),
        rss === undefined ? "-" : `${rss.toFixed(0)} MiB`,
      ]);

    const tug = runChild(tree, join(work, "out.tgz"), RUNS, { kind: "gzip", level: 1 });
    const inMiB = tug.diffSize / MiB;
    row(
      "tug buildLayer gzip-1 (+2 sha256)",
      median(tug.ms),
      median(tug.cpuMs),
      inMiB,
      tug.size / tug.diffSize,
      tug.maxRssMiB,
    );
    const none = runChild(tree, join(work, "out.tar"), RUNS, { kind: "none" });
    row("tug buildLayer none (+sha256)", median(none.ms), median(none.cpuMs), inMiB, 1, none.maxRssMiB);

    const tarCmd = `tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C ${tree} -cf - .`;
    const shells: Array<[string, string]> = [["tar | gzip -1 | sha256sum", "gzip -1"]];
    if (has("pigz")) shells.push(["tar | pigz -1 | sha256sum", "pigz -1"]);
    else rows.push(["(pigz not installed: apt-get install -y pigz)", "", "", "", "", ""]);
    for (const [name, z] of shells) {
      const r = timeShell(`${tarCmd} | ${z} | sha256sum`);
      row(name, r.ms, r.cpuMs, inMiB, r.size / tug.diffSize);
    }

    const big = join(work, "big");
    mkdirSync(big);
    makeBigFile(join(big, "blob.bin"), 500_000_000);
    const b = runChild(big, join(work, "big.tgz"), 1, { kind: "gzip", level: 1 });
    row(
      "tug gzip-1, one 500 MB sparse-ish file",
      b.ms[0]!,
      b.cpuMs[0]!,
      b.diffSize / MiB,
      b.size / b.diffSize,
      b.maxRssMiB,
    );

    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
    for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));
    console.log(
      `\ninput ${(tug.diffSize / MiB).toFixed(1)} MiB of tar; ${RUNS} runs each; cpus: ${(await import("node:os")).availableParallelism()}; UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? "4 (default)"}`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--child") {
  const [, , , dir, out, runs, compression] = process.argv;
  await child(dir!, out!, Number(runs), JSON.parse(compression!) as Compression);
} else {
  await main();
}
