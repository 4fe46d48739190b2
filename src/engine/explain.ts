import type { Engine } from "./engine.ts";
import type { LayerRecipe, ParamValue } from "./layer-action.ts";

/** What a step read the last time it was planned: enough to say which input changed. */
export interface ExplainRecord {
  key: string;
  params: Record<string, ParamValue>;
  /** tree name → path → content digest (or link target, or "dir"). */
  files: Record<string, Record<string, string>>;
}

function explainKey(engine: Engine, target: string, step: string): string {
  return `${engine.scope}|${target}|${step}`;
}

export function explainRecordOf(recipe: LayerRecipe, key: string): ExplainRecord {
  const files: ExplainRecord["files"] = {};
  for (const [name, list] of Object.entries(recipe.trees)) {
    files[name] = Object.fromEntries(
      list.map((f) => [
        f.path,
        `${f.type === "file" ? (f.digest ?? "") : (f.linkname ?? f.type)}${f.executable && f.type === "file" ? " +x" : ""}`,
      ]),
    );
  }
  return { key, params: recipe.params, files };
}

/** Remembers this step's inputs, keeping the previous ones so `tug explain` can diff them. */
export async function recordExplain(engine: Engine, recipe: LayerRecipe, key: string): Promise<void> {
  const k = explainKey(engine, recipe.target, recipe.step);
  const current = await engine.store.getRecord<{ last: ExplainRecord; previous?: ExplainRecord }>(
    "explain",
    k,
  );
  if (current?.last.key === key) return;
  await engine.store.putRecord("explain", k, { last: explainRecordOf(recipe, key), previous: current?.last });
}

export async function readExplain(
  engine: Engine,
  target: string,
  step: string,
): Promise<{ last: ExplainRecord; previous?: ExplainRecord } | undefined> {
  return engine.store.getRecord("explain", explainKey(engine, target, step));
}

/** Human-readable differences between two input sets, most specific first. */
export function diffInputs(before: ExplainRecord | undefined, after: ExplainRecord): string[] {
  if (!before) return ["no earlier build of this step is recorded in this cache"];
  const out: string[] = [];
  const keys = new Set([...Object.keys(before.params), ...Object.keys(after.params)]);
  for (const k of [...keys].sort()) {
    const a = JSON.stringify(before.params[k]);
    const b = JSON.stringify(after.params[k]);
    if (a !== b) out.push(`parameter ${k}: ${a ?? "(unset)"} → ${b ?? "(unset)"}`);
  }
  const trees = new Set([...Object.keys(before.files), ...Object.keys(after.files)]);
  for (const t of [...trees].sort()) {
    const x = before.files[t] ?? {};
    const y = after.files[t] ?? {};
    for (const p of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) {
      if (x[p] === y[p]) continue;
      if (x[p] === undefined) out.push(`${p}: added`);
      else if (y[p] === undefined) out.push(`${p}: removed`);
      else out.push(`${p}: changed (${short(x[p])} → ${short(y[p])})`);
    }
  }
  return out;
}

function short(v: string): string {
  return v.startsWith("sha256:") ? v.slice(7, 19) : v;
}
