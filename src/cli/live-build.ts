import type { EngineEvent } from "../engine/timings.ts";
import { paint } from "./live-style.ts";

/** A step running now; `done`/`total` once one of its transfers has moved bytes. */
interface Running {
  target: string;
  step: string;
  since: number;
  done?: number;
  total?: number;
  /** (time, bytes done) over the last RATE_WINDOW_MS, for the transfer rate. */
  samples: Array<[number, number]>;
}

/** What the build view knows: the running steps and the finished ones, counted. */
export interface BuildViewState {
  started: number;
  running: Map<string, Running>;
  finished: number;
  cached: number;
}

const RATE_WINDOW_MS = 3000;
const SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏";

export function buildViewState(now: number): BuildViewState {
  return { started: now, running: new Map(), finished: 0, cached: 0 };
}

/** Folds one engine event into the state; `log` events are the caller's (printed above the view). */
export function applyBuildEvent(s: BuildViewState, e: EngineEvent, now: number): void {
  if (e.type === "log" || e.type === "warning") return;
  const id = `${e.target}\0${e.step}`;
  if (e.type === "step-start") s.running.set(id, { target: e.target, step: e.step, since: now, samples: [] });
  else if (e.type === "step-end") {
    s.running.delete(id);
    s.finished++;
    if (e.cached) s.cached++;
  } else {
    const r = s.running.get(id);
    if (!r) return;
    r.done = e.done;
    r.total = e.total;
    r.samples.push([now, e.done]);
    while (r.samples.length > 2 && now - r.samples[0]![0] > RATE_WINDOW_MS) r.samples.shift();
  }
}

export interface RenderOptions {
  now: number;
  columns: number;
  /** Lines the view may use (the terminal's rows less a margin). */
  rows: number;
  color: boolean;
}

/** The live frame: one line per running step (oldest first), then one summary line. Pure. */
export function renderBuildView(s: BuildViewState, o: RenderOptions): string[] {
  const lines: string[] = [];
  const running = [...s.running.values()].sort((a, b) => a.since - b.since);
  const room = Math.max(1, o.rows - 1);
  const shown = running.length > room ? running.slice(0, room - 1) : running;
  const spin = SPINNER[Math.floor(o.now / 80) % SPINNER.length]!;
  for (const r of shown) {
    const right = [transfer(r, o.now), elapsed(o.now - r.since)].filter(Boolean).join("  ");
    lines.push(row(`${paint(o.color, "cyan", spin)} `, `${r.target}  ${r.step}`, right, o));
  }
  if (shown.length < running.length) lines.push(`  … ${running.length - shown.length} more running`);
  lines.push(summaryLine(s, o.now, o.color, running.length === 0));
  return lines;
}

/** The line left when the build ends (or the summary under the running steps). */
export function summaryLine(s: BuildViewState, now: number, color: boolean, finished = true): string {
  const steps = `${s.finished} step${s.finished === 1 ? "" : "s"} done`;
  const cached = s.cached > 0 ? ` (${s.cached} cached)` : "";
  const mark = finished ? paint(color, "green", "✓") : paint(color, "dim", "·");
  return `${mark} ${steps}${cached}  ${paint(color, "dim", elapsed(now - s.started))}`;
}

function row(prefix: string, left: string, right: string, o: RenderOptions): string {
  // The prefix is two columns; what does not fit is cut from the step's name, never from the figures.
  const width = Math.max(10, o.columns - 1) - 2;
  const roomLeft = width - (right ? right.length + 2 : 0);
  const cut = left.length > roomLeft ? `${left.slice(0, Math.max(0, roomLeft - 1))}…` : left;
  return `${prefix}${cut}${right ? `${" ".repeat(Math.max(2, roomLeft - cut.length + 2))}${paint(o.color, "dim", right)}` : ""}`;
}

function transfer(r: Running, now: number): string {
  if (r.done === undefined) return "";
  const total = r.total ?? 0;
  const done = total > 0 ? Math.min(r.done, total) : r.done;
  const amount = total > 0 ? `${bytes(done)}/${bytes(total)}` : bytes(done);
  const first = r.samples[0];
  const last = r.samples.at(-1);
  const span = first && last ? Math.max(last[0], now - 1000) - first[0] : 0;
  const rate = first && last && span >= 250 ? ((last[1] - first[1]) * 1000) / span : undefined;
  return rate === undefined ? amount : `${amount}  ${bytes(rate)}/s`;
}

export function bytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}

export function elapsed(ms: number): string {
  if (ms < 60_000) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, "0")}s`;
}
