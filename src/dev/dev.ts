import { stat } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { builderFor, ignoreSettings } from "../builders/index.ts";
import { hostPlatform } from "../config/platform.ts";
import type { DevRuntimeName, ImageTarget, Project } from "../config/types.ts";
import { Engine } from "../engine/engine.ts";
import { TugError } from "../errors.ts";
import { selectTargets } from "../image/build.ts";
import { localRuntime } from "./local-runtime.ts";
import type { UpdateReport } from "./report.ts";
import type { Runtime } from "./runtime.ts";
import { type Deployer, type SessionOptions, TargetSession } from "./session.ts";
import { stageTarget } from "./stage.ts";
import { relativeTo, type Watcher, watch } from "./watcher.ts";

export interface DevOptions {
  /** Targets to run; default every target with a `dev:` block (or all, when none has one). */
  targets?: string[];
  cacheDir?: string;
  onReport(r: UpdateReport): void;
  onLog(target: string, line: string, stream: "stdout" | "stderr"): void;
  onPhase?: SessionOptions["onPhase"];
  debounceMs?: number;
  /** `tug dev --runtime`: overrides every target's `dev.runtime`. */
  runtime?: string;
  /** Image runtimes (podman/docker/kubernetes) are created here; `local` needs nothing. */
  imageRuntime?: (
    target: ImageTarget,
    engine: Engine,
    project: Project,
  ) => Promise<{ runtime: Runtime; deployer: Deployer }>;
}

export interface DevSession {
  sessions: TargetSession[];
  /** Resolves when every target is idle (no update running or queued). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** Builds, starts and watches every target; updates each on change until `stop()`. */
export async function dev(project: Project, opts: DevOptions): Promise<DevSession> {
  const withDev = project.targets.filter((t) => t.dev);
  const selected = opts.targets?.length
    ? selectTargets(project, opts.targets)
    : withDev.length
      ? withDev
      : project.targets;
  const override = opts.runtime === undefined ? undefined : runtimeName(opts.runtime);
  const targets = override ? selected.map((t) => withRuntime(t, override)) : selected;
  const engine = await Engine.open({ cacheDir: opts.cacheDir, scope: project.dir });
  const platform = hostPlatform();
  const sessions: TargetSession[] = [];
  const watchers: Watcher[] = [];
  const stop = async () => {
    await Promise.all(watchers.map((w) => w.close()));
    await Promise.all(sessions.map((s) => s.stop()));
    await engine.close();
  };
  try {
    for (const target of targets) {
      const kind = target.dev?.runtime ?? "local";
      let runtime: Runtime;
      let deployer: Deployer;
      if (kind === "local") {
        runtime = localRuntime();
        const staging = join(project.dir, ".tug", "dev", target.name, "root");
        deployer = {
          async deploy() {
            const staged = await stageTarget(engine, target, platform, staging);
            return {
              spec: { argv: staged.argv, env: staged.env, workdir: staged.workdir, staging },
              externals: staged.externals,
            };
          },
        };
      } else {
        if (!opts.imageRuntime)
          throw new TugError({ what: `runtime ${kind} is not available`, where: target.where });
        ({ runtime, deployer } = await opts.imageRuntime(target, engine, project));
      }
      sessions.push(
        new TargetSession({
          engine,
          target,
          platform,
          runtime,
          deployer,
          onReport: opts.onReport,
          onLog: opts.onLog,
          ...(opts.onPhase ? { onPhase: opts.onPhase } : {}),
        }),
      );
    }
    for (const [i, target] of targets.entries()) {
      const session = sessions[i]!;
      const context = resolve(target.context);
      let firstSeen: number | undefined;
      // A Go build also reads local modules outside its context (`replace => ../shared`, go.work).
      const roots = [context, ...((await builderFor(target).dev?.watchRoots?.(target)) ?? [])];
      for (const root of roots) {
        watchers.push(
          await watch(root, {
            debounceMs: opts.debounceMs,
            ignoreFiles: ignoreSettings(target),
            onFirstEvent: () => {
              firstSeen ??= performance.now();
            },
            onBatch: async (events) => {
              const at = firstSeen ?? performance.now();
              firstSeen = undefined;
              const changes = await Promise.all(
                events.map(async (e) => {
                  // Outside the context a path is "../shared/x.go": a rebuild input, never synced.
                  const path = root === context ? relativeTo(context, e.path) : pathFrom(context, e.path);
                  // An editor's temp file created and removed within one batch is no change at all.
                  const st = await stat(e.path).catch(() => undefined);
                  // A directory that exists is no file change: the watcher reports its files.
                  if (st?.isDirectory()) return [];
                  return path && (st || e.deleted) ? [{ path, deleted: !st }] : [];
                }),
              );
              if (changes.flat().length > 0) session.notify(changes.flat(), at);
            },
          }),
        );
      }
    }
    // Watch first, then start: an edit made while a target starts is queued, not lost.
    await Promise.all(sessions.map((s) => s.start()));
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    sessions,
    idle: async () => {
      await Promise.all(sessions.map((s) => s.idle()));
    },
    stop,
  };
}

const RUNTIMES: readonly DevRuntimeName[] = ["local", "podman", "docker", "kube-play", "kubernetes"];

function runtimeName(name: string): DevRuntimeName {
  const found = RUNTIMES.find((r) => r === name);
  if (!found) {
    throw new TugError({
      what: `unknown dev runtime "${name}"`,
      where: "--runtime",
      hint: `one of ${RUNTIMES.join(", ")}`,
    });
  }
  return found;
}

function withRuntime(t: ImageTarget, runtime: DevRuntimeName): ImageTarget {
  const dev = t.dev ?? { runtime, fallBackOn: [], sync: [], run: [], restart: true, manifests: [] };
  return { ...t, dev: { ...dev, runtime } };
}

/** `abs` relative to `dir` with "/" separators, "../" included when it lies outside. */
function pathFrom(dir: string, abs: string): string | undefined {
  const rel = relative(dir, abs);
  return rel === "" ? undefined : rel.split(sep).join("/");
}
