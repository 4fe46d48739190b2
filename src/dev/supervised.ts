import { TugError } from "../errors.ts";
import type { CommandResult, CommandRunner, Follower, RunOptions } from "./command-runner.ts";
import { generation } from "./generation.ts";
import type { ExitStatus, FileChange, RunSpec } from "./runtime.ts";
import { parseSupervisorExit, SUPERVISOR_PATH } from "./supervisor.ts";
import { AgentGone, openAgent, type SyncAgent } from "./sync-agent.ts";
import { extractCommand, syncFrame, syncTar } from "./tar-sync.ts";

/**
 * How one CLI reaches a container that runs tug's supervisor as PID 1: podman/docker (`podman
 * run`, `podman kube play`) and kubectl differ only in these argument shapes.
 */
export interface SupervisedTransport {
  /** The binary, and the flags that go before every subcommand. */
  cli: string;
  global: string[];
  runner: CommandRunner;
  /** `exec [-i] ID ARGV…` (podman) / `exec [-i] POD [-c C] -- ARGV…` (kubectl). */
  exec(id: string, argv: string[], interactive: boolean): string[];
  /** Restart without an agent session: SIGHUP to the supervisor. */
  hup(id: string): string[];
  logs(id: string): string[];
  /** A command that prints the container's exit code when it stops; without one, the end of the logs is the end. */
  wait?(id: string): string[];
  /** How messages name the thing: `pod web-1`, a short container id. */
  name(id: string): string;
  /** Hint when the CLI is missing. */
  installHint: string;
}

/**
 * The live-update half every image runtime shares, once its container runs under the supervisor:
 *
 * - sync and restart go through ONE long-lived `exec -i ID /tug/supervisor agent /` session,
 *   opened at attach (an exec costs ~185 ms with podman; a request on the open session a few
 *   ms): a `SYNC` request per batch (the tar and the deleted paths), `HUP` to restart; requests
 *   are serialised. The supervisor stops the app's process group (SIGTERM, SIGKILL after 2 s)
 *   on SIGHUP and starts it again, in the same container;
 * - without the session (the runner cannot open one, the image's supervisor predates `agent`,
 *   or the session died): ONE `exec -i ID /tug/supervisor extract / [--delete P]…` per batch
 *   with the tar on stdin, and the transport's `hup` to restart;
 * - exec: `exec ID /bin/sh -c CMD` in the container's workdir; needs a shell in the image.
 *
 * `exited()`: the container outlives the app. When the app exits by itself the supervisor
 * prints `[tug] process exited (code N)` and waits for the next HUP; that line (still passed to
 * `onLog`) ends the current generation with the app's status. `restart()` ends it with
 * `{ signal: "SIGTERM" }` (what the supervisor sends) and begins a new one; the container going
 * away ends it with the container's exit code (or, without `wait`, when its logs end).
 */
export class Supervised {
  private cid: string | undefined;
  private target = "";
  private followers: Follower[] = [];
  private current = generation();
  private lastExit: number | undefined;
  private agent: SyncAgent | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly t: SupervisedTransport) {}

  /** Runs the CLI with its global flags; a missing binary is a TugError. */
  run(args: string[], o?: RunOptions): Promise<CommandResult> {
    return this.t.runner.run(this.t.cli, [...this.t.global, ...args], o).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") {
        throw new TugError({
          what: `${this.t.cli} is not installed (not found on PATH)`,
          hint: this.t.installHint,
        });
      }
      throw e;
    });
  }

  failed(what: string, r: CommandResult, hint?: string): TugError {
    return new TugError({
      what,
      where: this.target ? `tug dev ${this.target}` : undefined,
      hint: hint ?? (r.stderr.trim() || r.stdout.trim() || `${this.t.cli} exited ${r.code}`),
    });
  }

  id(): string | undefined {
    return this.cid;
  }

  exited(): Promise<ExitStatus> {
    return this.current.done;
  }

  /** Follows the logs (and exit) of container `id` and opens the agent session (not awaited). */
  attach(id: string, spec: Pick<RunSpec, "target" | "onLog">, opts: { agent?: boolean } = {}): void {
    this.cid = id;
    this.target = spec.target;
    this.current = generation();
    this.lastExit = undefined;
    const { cli, global, runner } = this.t;
    const logs = runner.follow(cli, [...global, ...this.t.logs(id)], (line, stream) => {
      spec.onLog(line, stream);
      const crash = parseSupervisorExit(line);
      if (crash) this.current.end(crash);
    });
    this.followers = [logs];
    const waitArgs = this.t.wait?.(id);
    const last = waitArgs
      ? runner.follow(cli, [...global, ...waitArgs], (line) => {
          if (/^-?\d+$/.test(line.trim())) this.lastExit = Number(line.trim());
        })
      : logs;
    if (last !== logs) this.followers.push(last);
    void last.done.then(() => {
      if (this.followers.includes(last)) this.current.end({ code: this.lastExit ?? null, signal: null });
    });
    if (opts.agent !== false && runner.open) {
      this.agent = openAgent(
        runner.open(cli, [...global, ...this.t.exec(id, [SUPERVISOR_PATH, "agent", "/"], true)]),
      );
    }
  }

  /** One more follower to stop on detach (a port-forward). */
  keep(f: Follower): void {
    this.followers.push(f);
  }

  /** Runs syncs and restarts one at a time, in call order. */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.queue.then(f, f);
    this.queue = p.catch(() => {});
    return p;
  }

  private async liveAgent(): Promise<SyncAgent | undefined> {
    const a = this.agent;
    return a && (await a.ready) && a.alive() ? a : undefined;
  }

  private need(): string {
    if (!this.cid)
      throw new TugError({ what: `${this.target || "the target"} is not running in ${this.t.cli}` });
    return this.cid;
  }

  async sync(changes: FileChange[]): Promise<void> {
    if (changes.length === 0) return;
    const cid = this.need();
    const what = `syncing ${changes.length} file change(s) into ${this.t.name(cid)} failed`;
    return this.serial(async () => {
      const a = await this.liveAgent();
      const frame = a && (await syncFrame(changes));
      if (a && frame) {
        try {
          const error = await a.request(frame, 120_000);
          if (error === undefined) return;
          throw new TugError({ what, where: `tug dev ${this.target}`, hint: error });
        } catch (e) {
          if (!(e instanceof AgentGone)) throw e;
          // The session died: the batch again, the per-batch way (writes and deletes are idempotent).
        }
      }
      const r = await this.run(this.t.exec(cid, extractCommand(SUPERVISOR_PATH, changes), true), {
        stdin: syncTar(changes),
        timeoutMs: 120_000,
      });
      if (r.code !== 0) throw this.failed(what, r);
    });
  }

  async exec(command: string): Promise<{ code: number; output: string }> {
    const cid = this.need();
    const r = await this.run(this.t.exec(cid, ["/bin/sh", "-c", command], false), { timeoutMs: 600_000 });
    const output = r.stdout + r.stderr;
    if ((r.code === 126 || r.code === 127) && /\/bin\/sh.*(not found|no such file)/i.test(output)) {
      throw this.failed(
        `cannot run "${command}" in ${this.target}: the image has no /bin/sh`,
        r,
        "run: steps need a shell in the image; use a base with one (e.g. a -slim or busybox image), or drop the step",
      );
    }
    return { code: r.code, output };
  }

  async restart(): Promise<void> {
    const cid = this.need();
    const what = `restarting ${this.target} in ${this.t.name(cid)} failed`;
    await this.serial(async () => {
      const a = await this.liveAgent();
      let sent = false;
      if (a) {
        try {
          const error = await a.request("HUP\n", 30_000);
          if (error !== undefined) throw new TugError({ what, where: `tug dev ${this.target}`, hint: error });
          sent = true;
        } catch (e) {
          if (!(e instanceof AgentGone)) throw e;
        }
      }
      if (!sent) {
        const r = await this.run(this.t.hup(cid));
        if (r.code !== 0) throw this.failed(what, r);
      }
      this.current.end({ code: null, signal: "SIGTERM" });
      this.current = generation();
    });
  }

  /**
   * Removes the container with `remove` (after closing the agent: end of input ends it) and
   * stops the followers; `wait` reports the exit code once the container is gone, not awaited
   * longer than 5 s. On a failed removal the followers stay, so a later call tries again.
   */
  async detach(remove: () => Promise<void>): Promise<void> {
    const closing = this.agent?.close(2_000);
    this.agent = undefined;
    try {
      await remove();
    } finally {
      await closing;
    }
    const fs = this.followers;
    const waiter = fs[1] && this.t.wait ? fs[1] : undefined;
    for (const f of fs) if (f !== waiter) f.stop();
    if (waiter) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([waiter.done, new Promise((r) => (timer = setTimeout(r, 5_000)))]);
      clearTimeout(timer);
      waiter.stop();
    }
    this.followers = [];
    this.current.end({ code: this.lastExit ?? null, signal: this.lastExit === undefined ? "SIGKILL" : null });
    this.cid = undefined;
  }
}

/** podman/docker: container commands by container id. */
export function containerTransport(o: {
  cli: "podman" | "docker";
  global: string[];
  runner: CommandRunner;
}): SupervisedTransport {
  return {
    cli: o.cli,
    global: o.global,
    runner: o.runner,
    exec: (id, argv, interactive) => ["exec", ...(interactive ? ["-i"] : []), id, ...argv],
    hup: (id) => ["kill", "--signal", "HUP", id],
    logs: (id) => ["logs", "-f", id],
    wait: (id) => ["wait", id],
    name: (id) => id.slice(0, 12),
    installHint: `install ${o.cli}, or choose another dev runtime (runtime: local)`,
  };
}
