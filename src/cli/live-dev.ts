import stripAnsi from "strip-ansi";
import type { DevPhase, UpdateReport } from "../dev/report.ts";
import { elapsed } from "./live-build.ts";
import { paint, type Style } from "./live-style.ts";

export type ResourceState = DevPhase | "ready" | "crashed" | "error";

/** One row of the status table. */
export interface Resource {
  name: string;
  runtime: string;
  urls: string[];
  state: ResourceState;
  /** When the state last changed (performance.now()). */
  since: number;
  /** Change seen → running again, of the last successful update. */
  latencyMs?: number;
  /** The last failure's message, cleared by the next success. */
  error?: string;
}

export interface DevViewState {
  resources: Resource[];
  /** The newest log lines, oldest first, at most MAX_LOGS. */
  logs: string[];
}

const MAX_LOGS = 1000;

export function devViewState(
  resources: Array<Pick<Resource, "name" | "runtime" | "urls">>,
  now: number,
): DevViewState {
  return { resources: resources.map((r) => ({ ...r, state: "building", since: now })), logs: [] };
}

/** Adds a resource (as building) the first time it is named; known ones are left alone. */
export function ensureResource(
  s: DevViewState,
  info: Pick<Resource, "name" | "runtime" | "urls">,
  now: number,
): void {
  if (!s.resources.some((r) => r.name === info.name))
    s.resources.push({ ...info, state: "building", since: now });
}

export function applyPhase(s: DevViewState, target: string, phase: DevPhase, now: number): void {
  const r = s.resources.find((x) => x.name === target);
  if (r) Object.assign(r, { state: phase, since: now });
}

/**
 * A finished update: ready, or a failure. A process that died (its log tail came along) or a
 * first start that failed has nothing running: crashed or error. A failed update of a running
 * version leaves that version serving: still ready, with the error shown. (The log tail a
 * crash report carries already came through the log stream.)
 */
export function applyReport(s: DevViewState, report: UpdateReport, now: number): void {
  const r = s.resources.find((x) => x.name === report.target);
  if (!r) return;
  r.since = now;
  if (report.ok) {
    r.state = "ready";
    r.latencyMs = report.ms;
    delete r.error;
    return;
  }
  r.error = report.error ?? "failed";
  const wasServing = r.state === "live-updating" || (r.state === "building" && report.action === "rebuild");
  // A process that exits after it was ready has crashed, whether or not it logged anything.
  r.state =
    report.action === "exited" || report.logs?.length
      ? "crashed"
      : wasServing && r.latencyMs !== undefined
        ? "ready"
        : "error";
}

export function addLog(s: DevViewState, target: string, line: string): void {
  s.logs.push(`${target} | ${printable(line)}`);
  if (s.logs.length > MAX_LOGS) s.logs.splice(0, s.logs.length - MAX_LOGS);
}

export interface DevRenderOptions {
  now: number;
  columns: number;
  rows: number;
  color: boolean;
}

const STYLE: Record<ResourceState, Style> = {
  building: "yellow",
  "live-updating": "cyan",
  ready: "green",
  crashed: "red",
  error: "red",
};
const HEAD = ["RESOURCE", "RUNTIME", "STATE", "URL", "LAST UPDATE", "ERROR"];

/**
 * Tilt's terminal view, as lines: the status table (one row per resource, columns sized to
 * their content), a rule, then as many of the newest log lines as the screen holds. Pure.
 */
export function renderDevView(s: DevViewState, o: DevRenderOptions): string[] {
  const width = Math.max(20, o.columns - 1);
  const cells = s.resources.map((r) => [
    r.name,
    r.runtime,
    r.state,
    r.urls.join(" ") || "-",
    r.latencyMs === undefined ? "-" : `${fmtLatency(r.latencyMs)} (${elapsed(o.now - r.since)} ago)`,
    r.error ? oneLine(r.error) : "",
  ]);
  const widths = HEAD.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const table = [HEAD, ...cells].map((c, row) => {
    const fixed = c
      .slice(0, 5)
      .map((x, i) => x.padEnd(widths[i]!))
      .join("  ");
    const text = cut(`${fixed}  ${c[5]}`.trimEnd(), width);
    if (row === 0) return paint(o.color, "bold", text);
    const state = c[2] as ResourceState;
    // Colour the state cell only: its column starts after the first two and their gaps.
    const at = widths[0]! + widths[1]! + 4;
    if (text.length < at + state.length) return text;
    return `${text.slice(0, at)}${paint(o.color, STYLE[state], state)}${text.slice(at + state.length)}`;
  });
  const rule = paint(o.color, "dim", `── logs ${"─".repeat(Math.max(0, width - 8))}`);
  const room = Math.max(0, o.rows - table.length - 1);
  const logs = room === 0 ? [] : s.logs.slice(-room).map((l) => cut(l, width));
  return [...table, rule, ...logs];
}

function fmtLatency(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function oneLine(text: string): string {
  return printable(text.replace(/\s+/g, " ").trim());
}

/** An app's colours and cursor moves would break the frame: escape sequences and control characters go. */
function printable(text: string): string {
  let out = "";
  for (const ch of stripAnsi(text.replace(/\t/g, "  "))) {
    const c = ch.charCodeAt(0);
    if (c >= 0x20 && c !== 0x7f) out += ch;
  }
  return out;
}

function cut(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}
