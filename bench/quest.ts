// The quest table: Ellen Körbes' "The Quest for the Fastest Deployment Time" reproduced on
// examples/quest (a small Go image-filter service), side by side with tug, in one run.
// Every row is timed from the save of one source line to the first HTTP response with the new
// text from the running service (median of N edits after one unmeasured warm-up edit), in two
// settings:
//
//   local   registry on loopback, service in podman (and tug dev's local runtime) on this machine
//   remote  a cloud cluster stand-in: image pushes and every podman command cross one link of
//           20 Mbit/s each way with 20 ms added each way (+40 ms round trip), a throttling TCP
//           proxy this script runs on 127.0.0.1 (bench/support/throttle-proxy.ts) in front of the
//           registry and of a `podman system service` reached with `podman --remote`; the
//           cluster pulls from the registry directly.
//
// The talk's rows use buildah (Dockerfiles in examples/quest) and a Go image made from this
// machine's Go 1.19 (no registry access here: test/support/bases.ts makeGoBase); UPX is listed
// only when a `upx` binary is installed. tug's rows run its CLI bundled from src/.
//
// Run: node --import tsx bench/quest.ts [--edits N] [--quick] [--setting local|remote] [--rows a,b]
//   --quick: one edit per row (after the warm-up), local setting only.
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { bundleCli } from "../test/support/cli-bundle.ts";
import { runTool } from "../test/support/tools.ts";
import { fmtMs, loadNote, median, progress } from "./support/measure.ts";
import {
  type Deployment,
  measureEdit,
  type Row,
  type RowContext,
  rowProject,
  SEED_ROWS,
  TUG_ROWS,
} from "./support/quest-rows.ts";
import { openSetting, REMOTE_LINK, type SettingName } from "./support/quest-setting.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const EXAMPLE = join(ROOT, "examples", "quest");

/** The talk's figures (local, remote), for the reference column. */
const TALK: Record<string, [string, string]> = {
  basic: ["56.8 s", "2 m 10 s"],
  layers: ["26.1 s", "1 m 16 s"],
  vendor: ["29.5 s", "1 m 11 s"],
  gocache: ["17.6 s", "53.2 s"],
  "live-update": ["3.41 s", "6.34 s"],
  "hot-swap": ["3.69 s", "21.5 s"],
  "no-debug": ["2.89 s", "19.5 s"],
  upx: ["4.93 s", "13.6 s"],
};

type Result = { ms: number[] } | { skipped: string } | { failed: string };

async function upxNote(): Promise<string | undefined> {
  const r = await runTool("sh", ["-c", "command -v upx || command -v upx-ucl"], { allowFailure: true });
  return r.code === 0
    ? undefined
    : "not installable here (no upx/upx-ucl package in this machine's apt sources)";
}

async function runRow(row: Row, ctx: RowContext, edits: number): Promise<Result> {
  const skip = row.skip?.(ctx.setting);
  if (skip) return { skipped: skip };
  let d: Deployment | undefined;
  try {
    progress(`${ctx.setting.name} ${row.id}: deploying`);
    d = await row.start(ctx);
    await measureEdit(ctx, d, `${row.id} warm-up`);
    const ms: number[] = [];
    for (let i = 0; i < edits; i++) {
      ms.push(await measureEdit(ctx, d, `${row.id} edit ${i + 1}`));
      progress(`${ctx.setting.name} ${row.id} #${i + 1}: ${fmtMs(ms.at(-1)!)}`);
    }
    await d.stop();
    d = undefined;
    return { ms };
  } catch (e) {
    progress(`${ctx.setting.name} ${row.id} FAILED: ${(e as Error).message}`);
    return { failed: (e as Error).message.split("\n")[0]!.slice(0, 160) };
  } finally {
    await d?.stop().catch(() => undefined);
  }
}

function cell(r: Result | undefined): string {
  if (!r) return "–";
  if ("skipped" in r) return "n/a";
  if ("failed" in r) return "failed";
  return fmtMs(median(r.ms));
}

function delta(r: Result | undefined, basic: Result | undefined): string {
  if (!r || !basic || !("ms" in r) || !("ms" in basic)) return "–";
  const m = median(r.ms);
  const b = median(basic.ms);
  if (r === basic) return "–";
  const d = m - b;
  const factor = b / m;
  return `${d < 0 ? "−" : "+"}${fmtMs(Math.abs(d))} (${factor >= 1 ? `${factor.toFixed(factor >= 10 ? 0 : 1)}× faster` : `${(1 / factor).toFixed(1)}× slower`})`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      edits: { type: "string" },
      quick: { type: "boolean", default: false },
      setting: { type: "string" },
      rows: { type: "string" },
    },
  });
  const edits = values.quick ? 1 : Number(values.edits ?? 5);
  if (!Number.isInteger(edits) || edits < 1) throw new Error(`--edits ${values.edits}: a whole number ≥ 1`);
  const settings: SettingName[] = values.setting
    ? [values.setting as SettingName]
    : values.quick
      ? ["local"]
      : ["local", "remote"];
  const wanted = values.rows?.split(",");
  const rows = [...SEED_ROWS, ...TUG_ROWS].filter((r) => !wanted || wanted.includes(r.id));
  // Lowercase: buildah and podman name images pulled from `oci:PATH` after PATH.
  const base = /^[a-z0-9/._-]+$/.test(tmpdir()) ? tmpdir() : "/tmp";
  const work = join(base, `tug-bench-quest-${randomBytes(5).toString("hex")}`);
  await mkdir(work, { mode: 0o700 });
  const loadBefore = loadNote();
  const results = new Map<string, Map<SettingName, Result>>();
  try {
    const tug = await bundleCli(work);
    for (const name of settings) {
      progress(`setting ${name}: registry, podman, Go image`);
      const setting = await openSetting(name, join(work, name));
      try {
        for (const row of rows) {
          const dir = await rowProject(EXAMPLE, join(work, name, "rows", row.id));
          const r = await runRow(row, { setting, dir, tug }, edits);
          if (!results.has(row.id)) results.set(row.id, new Map());
          results.get(row.id)!.set(name, r);
        }
      } finally {
        await setting.dispose();
      }
      // After each setting, so a run stopped during the next one still leaves its table.
      await report({ results, rows, wanted, edits, loadBefore });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function report(o: {
  results: Map<string, Map<SettingName, Result>>;
  rows: Row[];
  wanted: string[] | undefined;
  edits: number;
  loadBefore: string;
}): Promise<void> {
  const { results, rows, wanted, edits, loadBefore } = o;
  const upx = await upxNote();
  const header = ["strategy", "local", "Δ vs basic", "remote", "Δ vs basic", "talk (local / remote)"];
  const lines: string[][] = [];
  for (const row of [...SEED_ROWS.slice(0, 7), undefined, ...TUG_ROWS]) {
    if (!row) {
      if (upx) lines.push(["UPX (on no debug)", upx, "", "", "", TALK.upx!.join(" / ")]);
      continue;
    }
    if (wanted && !wanted.includes(row.id)) continue;
    const r = results.get(row.id);
    const basic = results.get("basic");
    lines.push([
      row.tug ? `**${row.name}**` : row.name,
      cell(r?.get("local")),
      delta(r?.get("local"), basic?.get("local")),
      cell(r?.get("remote")),
      delta(r?.get("remote"), basic?.get("remote")),
      TALK[row.id]?.join(" / ") ?? "–",
    ]);
  }
  const notes: string[] = [];
  for (const row of rows) {
    for (const [s, r] of results.get(row.id) ?? []) {
      if ("skipped" in r) notes.push(`${row.id} (${s}): n/a, ${r.skipped}`);
      if ("failed" in r) notes.push(`${row.id} (${s}): failed: ${r.failed}`);
      if ("ms" in r && r.ms.length > 1)
        notes.push(`${row.id} (${s}): ${r.ms.map((m) => fmtMs(m)).join(", ")}`);
    }
  }
  const md = [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...lines.map((l) => `| ${l.join(" | ")} |`),
  ].join("\n");
  console.log(
    `\nquest: save → new response, median of ${edits} edit(s) per row after 1 warm-up; remote link ${REMOTE_LINK.bitsPerSecond / 1e6} Mbit/s each way, +${2 * REMOTE_LINK.oneWayDelayMs} ms round trip`,
  );
  console.log(`load: before ${loadBefore}; after ${loadNote()}\n`);
  console.log(md);
  if (notes.length) console.log(`\n${notes.map((n) => `- ${n}`).join("\n")}`);
}

await main();
