// Where a tug run spends its CPU: a `node --cpu-prof` profile summarised by self time, per
// function and per package (node_modules/PKG, dist chunk, or Node's own internals).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Self time by "package" (the nearest node_modules package on the stack, else a file kind). */
  byPackage: Array<[string, number]>;
  /** Self time by function, "file:line name". */
  byFunction: Array<[string, number]>;
}

function packageOf(url: string): string | undefined {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.includes("/dist/")) return "tug (dist)";
  return undefined;
}

/** Summarises the one .cpuprofile file in `dir`. */
export function summarizeProfile(dir: string, top = 12): ProfileSummary {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const p = JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  p.samples.forEach((s, i) => {
    self.set(s, (self.get(s) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  const pkg = new Map<string, number>();
  const fn = new Map<string, number>();
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const { url, functionName, lineNumber } = n.callFrame;
    // Module compilation and native work are charged to the package whose code is on the stack.
    let owner: string | undefined;
    for (let cur: number | undefined = id; cur !== undefined && !owner; cur = parent.get(cur))
      owner = packageOf(byId.get(cur)!.callFrame.url);
    const where = owner ?? (url ? "node internals" : functionName || "(native)");
    pkg.set(where, (pkg.get(where) ?? 0) + ms);
    const short = url ? `${url.split("/").slice(-2).join("/")}:${lineNumber + 1}` : "(native)";
    const key = `${short} ${functionName || "(anonymous)"}`;
    fn.set(key, (fn.get(key) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
  return { totalMs: (p.endTime - p.startTime) / 1000, byPackage: sorted(pkg), byFunction: sorted(fn) };
}

export function printProfile(title: string, s: ProfileSummary): void {
  console.log(`\n${title}: ${s.totalMs.toFixed(0)} ms profiled (self time; profiling slows the run)`);
  console.log(`  by package: ${s.byPackage.map(([k, ms]) => `${k} ${ms.toFixed(0)}`).join(", ")}`);
  for (const [k, ms] of s.byFunction) console.log(`  ${ms.toFixed(1).padStart(6)} ms  ${k}`);
}
