import { resolve } from "node:path";
import type { LambdaTarget, Project, PythonLayerTarget } from "../config/types.ts";
import { Engine } from "../engine/engine.ts";
import { isTugError } from "../errors.ts";
import { buildLambdas } from "../lambda/build-lambdas.ts";
import type { ZipMemo } from "../lambda/planned-zip.ts";
import { lambdaOutDir } from "../lambda/python-keys.ts";
import type { UpdateReport } from "./report.ts";
import { relativeTo, type WatchEvent, type Watcher, watch } from "./watcher.ts";

export interface LambdaDevOptions {
  cacheDir?: string;
  /** `--out DIR` (zips in DIR/lambdas); default `.tug/out`. */
  out?: string;
  onReport(r: UpdateReport): void;
  debounceMs?: number;
}

export interface LambdaDevSession {
  /** Resolves when no build is running or queued. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Keeps lambda zips current while files change: builds them once, then rebuilds on every batch
 * of changes, in this one process. Each build goes through the same records as `tug build`
 * (unchanged lambdas are skipped), and the process keeps what a one-shot build must recompute:
 * parsed modules, wheel tables, and the sha256 state of each zip's unchanged head, so an edit
 * to a handler rewrites and hashes only the handler's part of the zip. Reports the latency from
 * the first change seen to the zip in place, per rebuilt lambda.
 */
export async function devLambdas(
  project: Project,
  lambdas: LambdaTarget[],
  layers: PythonLayerTarget[],
  opts: LambdaDevOptions,
): Promise<LambdaDevSession> {
  const memo: ZipMemo = { heads: new Map() };
  // One engine for the session, as one for a build: its store and stat cache stay warm.
  const engine = await Engine.open({ cacheDir: opts.cacheDir, scope: project.dir });
  const outDir = resolve(lambdaOutDir(project, opts.out), "..");
  let running: Promise<void> = Promise.resolve();
  let pending: { events: WatchEvent[]; since: number } | undefined;
  let firstAt: number | undefined;

  const buildOnce = async (action: UpdateReport["action"], files: string[], since: number) => {
    try {
      const reports = await buildLambdas(project, lambdas, { out: opts.out, memo, engine }, layers);
      for (const r of reports) {
        if (r.cached && action !== "start") continue;
        const ms = Math.round(performance.now() - since);
        opts.onReport({ target: r.target, action, files, ok: true, ms, build: r.ms, sync: 0, restart: 0 });
      }
    } catch (e) {
      const error = isTugError(e) ? e.format() : e instanceof Error ? e.message : String(e);
      const ms = Math.round(performance.now() - since);
      const target = lambdas.map((l) => l.name).join(",");
      opts.onReport({ target, action, files, ok: false, ms, build: ms, sync: 0, restart: 0, error });
    }
  };

  // One build at a time; changes during a build are batched into the next one.
  const schedule = () => {
    running = running.then(async () => {
      const batch = pending;
      pending = undefined;
      if (!batch) return;
      const files = [...new Set(batch.events.map((e) => relativeTo(project.dir, e.path) ?? e.path))].sort();
      await buildOnce("rebuild", files, batch.since);
    });
  };

  await buildOnce("start", [], performance.now());
  const watcher: Watcher = await watch(project.dir, {
    debounceMs: opts.debounceMs ?? 25,
    onFirstEvent: () => {
      firstAt ??= performance.now();
    },
    onBatch: (events) => {
      // The zips themselves (when --out is inside the project) must not trigger builds.
      const relevant = events.filter((e) => !e.path.startsWith(`${outDir}/`));
      const since = firstAt ?? performance.now();
      firstAt = undefined;
      if (relevant.length === 0) return;
      pending = { events: [...(pending?.events ?? []), ...relevant], since: pending?.since ?? since };
      schedule();
    },
  });
  return {
    idle: async () => {
      let seen: Promise<void>;
      do {
        seen = running;
        await seen;
      } while (seen !== running);
    },
    stop: async () => {
      await watcher.close();
      await running;
      await engine.close({ log: false });
    },
  };
}
