// Timing and reporting for the bench scripts: medians of repeated wall-clock runs, load notes
// (other work shares this 2-core machine) and plain-text tables.
import { type SpawnSyncOptions, spawnSync } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";

export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error("median of nothing");
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function spread(xs: number[]): Spread {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs.length };
}

export interface RunResult {
  ms: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` to completion and returns its wall time; throws with its stderr on failure. */
export function timed(cmd: string, args: string[], opts: SpawnSyncOptions = {}): RunResult {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, timeout: 180_000, ...opts });
  const ms = performance.now() - t0;
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} exited ${r.status ?? r.signal}:\n${String(r.stderr).slice(-4000)}`,
    );
  }
  return { ms, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** "load 1.23 / 0.98 / 0.80 on 2 cpus", printed next to figures so noisy runs can be spotted. */
export function loadNote(): string {
  const [a, b, c] = loadavg().map((x) => x.toFixed(2));
  return `load ${a} / ${b} / ${c} on ${availableParallelism()} cpus`;
}

export function fmtMs(ms: number): string {
  return ms >= 10_000
    ? `${(ms / 1000).toFixed(1)} s`
    : ms >= 1000
      ? `${(ms / 1000).toFixed(2)} s`
      : `${Math.round(ms)} ms`;
}

export function fmtSpread(s: Spread): string {
  return `${fmtMs(s.median)} (${fmtMs(s.min)}–${fmtMs(s.max)}, n=${s.runs})`;
}

/** Left-aligned columns separated by two spaces; the first row is the header. */
export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join("  ")
      .trimEnd();
  console.log(line(rows[0]!));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows.slice(1)) console.log(line(r));
}

const started = performance.now();

/** A progress line on stderr, so a long bench shows where it is. */
export function progress(msg: string): void {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${msg}\n`);
}
