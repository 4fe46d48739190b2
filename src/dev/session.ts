import { join } from "node:path";
import type { ImageTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { isTugError } from "../errors.ts";
import type { Platform } from "../oci/types.ts";
import { type DevArtifact, devArtifact } from "./artifact.ts";
import { type Change, planChanges } from "./planner.ts";
import { LogWaiter, waitForPort } from "./readiness.ts";
import type { DevPhase, UpdateReport } from "./report.ts";
import type { FileChange, RunSpec, Runtime } from "./runtime.ts";

/** Builds and (re)starts a target from scratch: staging for `local`, a dev image otherwise. */
export interface Deployer {
  deploy(): Promise<{ spec: Omit<RunSpec, "onLog" | "target" | "port">; externals: string[] }>;
}

export interface SessionOptions {
  engine: Engine;
  target: ImageTarget;
  platform: Platform;
  runtime: Runtime;
  deployer: Deployer;
  onReport(r: UpdateReport): void;
  onLog(target: string, line: string, stream: "stdout" | "stderr"): void;
  /** Told when an update begins (a status view shows it); the report tells how it ended. */
  onPhase?(target: string, phase: DevPhase): void;
  readyTimeoutMs?: number;
}

const LOG_TAIL = 20;
/**
 * A follow-up update waits until changes have stopped arriving for this long: an editor's save
 * storm that outlasts one update then costs two updates in all, not one per debounce window.
 */
const FOLLOW_UP_SETTLE_MS = 100;

/**
 * One target's dev loop: at most one update runs at a time; changes that arrive meanwhile are
 * merged into a single follow-up update. A failed build or update leaves the running version
 * alone; a process that dies before it is ready is reported with its last log lines, and the
 * next change tries again.
 */
export class TargetSession {
  private artifact: DevArtifact | undefined;
  private running: Promise<void> | undefined;
  private pending: { changes: Map<string, Change>; at: number } | undefined;
  private readonly logTail: string[] = [];
  private readonly logWaiter = new LogWaiter();
  private needsRedeploy = false;
  private lastNotify = 0;
  private stopped = false;
  /** Bumped whenever tug itself ends the process (restart, redeploy, stop): its exit is no news. */
  private epoch = 0;

  constructor(private readonly o: SessionOptions) {}

  get name(): string {
    return this.o.target.name;
  }

  /** Deploys and starts the target; changes notified meanwhile wait for it, then run as one update. */
  async start(): Promise<void> {
    const started = (async () => {
      try {
        await this.redeploy([], performance.now(), "start");
      } finally {
        this.running = undefined;
      }
    })();
    this.running = started;
    await started;
    if (this.pending && !this.running) this.running = this.drain();
  }

  /** Hands a batch of changes (relative to the context) to the loop; `at` is when the first was seen. */
  notify(changes: Change[], at: number): void {
    if (this.stopped) return;
    this.lastNotify = performance.now();
    if (!this.pending) this.pending = { changes: new Map(), at };
    for (const c of changes) this.pending.changes.set(c.path, c);
    if (!this.running) this.running = this.drain();
  }

  /** Resolves when no update is running or queued. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.epoch++;
    this.pending = undefined;
    await this.running?.catch(() => {});
    await this.o.runtime.stop();
    await this.artifact?.dispose();
  }

  private async drain(): Promise<void> {
    try {
      for (let followUp = false; this.pending && !this.stopped; followUp = true) {
        if (followUp) await this.settle();
        if (!this.pending || this.stopped) break;
        const { changes, at } = this.pending;
        this.pending = undefined;
        await this.update([...changes.values()], at);
      }
    } finally {
      this.running = undefined;
    }
  }

  /** Waits until no change has arrived for FOLLOW_UP_SETTLE_MS. */
  private async settle(): Promise<void> {
    for (;;) {
      const quiet = performance.now() - this.lastNotify;
      if (quiet >= FOLLOW_UP_SETTLE_MS) return;
      await new Promise((r) => setTimeout(r, FOLLOW_UP_SETTLE_MS - quiet));
    }
  }

  private async update(changes: Change[], at: number): Promise<void> {
    const plan = planChanges(this.o.target, changes);
    if (plan.action === "none") return;
    const files = plan.changes.map((c) => c.path);
    if (plan.action === "rebuild" || this.needsRedeploy) return this.redeploy(files, at, "rebuild");
    this.o.onPhase?.(this.name, "live-updating");
    const t = { build: 0, sync: 0, restart: 0 };
    try {
      let mark = performance.now();
      const built: FileChange[] = plan.rebuildArtifact && this.artifact ? await this.artifact.rebuild() : [];
      t.build = performance.now() - mark;
      mark = performance.now();
      const synced: FileChange[] = plan.sync.map((c) =>
        c.deleted
          ? { path: c.to, kind: "delete" }
          : { path: c.to, kind: "write", source: join(this.o.target.context, c.path) },
      );
      if (built.length + synced.length > 0) await this.o.runtime.sync([...built, ...synced]);
      for (const cmd of plan.run) {
        const r = await this.o.runtime.exec(cmd);
        if (r.code !== 0)
          throw new Error(`run step "${cmd}" exited ${r.code}: ${r.output.trim().slice(-500)}`);
      }
      t.sync = performance.now() - mark;
      mark = performance.now();
      if (plan.restart) await this.restartAndWait();
      t.restart = performance.now() - mark;
      this.report({ action: "live-update", files, ok: true, ms: performance.now() - at, ...t });
    } catch (e) {
      const failed = {
        action: "live-update" as const,
        files,
        ok: false,
        ms: performance.now() - at,
        ...t,
        error: message(e),
      };
      if (e instanceof CrashError) {
        this.needsRedeploy = true;
        this.report({ ...failed, logs: [...this.logTail] });
      } else if (isTugError(e)) {
        // A compile error: the old version never stopped; show the compiler's words.
        this.report(failed);
      } else {
        // The sync or a run step failed: the running thing is in an unknown state.
        this.report(failed);
        await this.redeploy(files, at, "rebuild");
      }
    }
  }

  private async redeploy(files: string[], at: number, action: "start" | "rebuild"): Promise<void> {
    const t = { build: 0, sync: 0, restart: 0 };
    this.o.onPhase?.(this.name, "building");
    try {
      let mark = performance.now();
      const { spec, externals } = await this.o.deployer.deploy();
      await this.artifact?.dispose();
      this.artifact = await devArtifact(this.o.engine, this.o.target, this.o.platform, externals);
      t.build = performance.now() - mark;
      mark = performance.now();
      this.epoch++;
      await this.o.runtime.stop();
      this.logTail.length = 0;
      await this.o.runtime.start({
        ...spec,
        target: this.name,
        ...(this.o.target.dev?.port ? { port: this.o.target.dev.port } : {}),
        onLog: (line, stream) => this.onLog(line, stream),
      });
      await this.waitReady();
      this.watchExit();
      t.restart = performance.now() - mark;
      this.needsRedeploy = false;
      this.report({ action, files, ok: true, ms: performance.now() - at, ...t });
    } catch (e) {
      this.needsRedeploy = true;
      const crashed = e instanceof CrashError;
      this.report({
        action,
        files,
        ok: false,
        ms: performance.now() - at,
        ...t,
        error: message(e),
        ...(crashed ? { logs: [...this.logTail] } : {}),
      });
    }
  }

  private async restartAndWait(): Promise<void> {
    this.logTail.length = 0;
    this.epoch++;
    await this.o.runtime.restart();
    await this.waitReady();
    this.watchExit();
  }

  /** Reports at once, with its exit status and last log lines, a process that stops after it was ready. */
  private watchExit(): void {
    const epoch = this.epoch;
    void this.o.runtime.exited().then((s) => {
      if (epoch !== this.epoch || this.stopped) return;
      this.needsRedeploy = true;
      this.report({
        action: "exited",
        files: [],
        ok: false,
        ms: 0,
        build: 0,
        sync: 0,
        restart: 0,
        error: `the process exited after it was ready (${s.signal ?? `code ${s.code}`}); the next change redeploys it`,
        logs: [...this.logTail],
      });
    });
  }

  /** Ready by port or log line; a process that exits first is a crash. */
  private async waitReady(): Promise<void> {
    const dev = this.o.target.dev;
    const abort = new AbortController();
    const port = dev?.port;
    const ready = port
      ? waitForPort(port, {
          timeoutMs: this.o.readyTimeoutMs,
          signal: abort.signal,
          ours: () => this.o.runtime.owns(port),
        })
      : dev?.readyLog
        ? this.logWaiter.wait(new RegExp(dev.readyLog))
        : Promise.resolve();
    const crashed = this.o.runtime.exited().then((s) => {
      throw new CrashError(`the process exited before it was ready (${s.signal ?? `code ${s.code}`})`);
    });
    try {
      await Promise.race([ready, crashed]);
    } finally {
      abort.abort();
      crashed.catch(() => {});
    }
  }

  private onLog(line: string, stream: "stdout" | "stderr"): void {
    this.logTail.push(line);
    if (this.logTail.length > LOG_TAIL) this.logTail.shift();
    this.logWaiter.feed(line);
    this.o.onLog(this.name, line, stream);
  }

  private report(r: Omit<UpdateReport, "target" | "id">): void {
    const id = this.o.runtime.id();
    this.o.onReport({ target: this.name, ...r, ...(id ? { id } : {}) });
  }
}

class CrashError extends Error {}

function message(e: unknown): string {
  if (isTugError(e)) return [e.what, e.where, e.hint].filter(Boolean).join(" — ");
  return e instanceof Error ? e.message : String(e);
}
