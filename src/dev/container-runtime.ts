import { randomBytes } from "node:crypto";
import { mkdir, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { TugError } from "../errors.ts";
import { tarEntriesFromDir, tarStream } from "../oci/tar.ts";
import { type CommandResult, type CommandRunner, type Follower, processRunner } from "./command-runner.ts";
import { generation } from "./generation.ts";
import type { FileChange, RunSpec, Runtime } from "./runtime.ts";
import { parseSupervisorExit, SUPERVISOR_PATH } from "./supervisor.ts";
import { AgentGone, openAgent, type SyncAgent } from "./sync-agent.ts";
import { extractCommand, syncFrame, syncTar } from "./tar-sync.ts";

export interface ContainerRuntimeOptions {
  cli: "podman" | "docker";
  /**
   * Flags before the subcommand, e.g. podman's `--root/--runroot`. Default for podman:
   * `defaultPodmanArgs(env)` (TUG_PODMAN_ARGS, else `--runtime runc --cgroup-manager=cgroupfs`);
   * none for docker.
   */
  globalArgs?: string[];
  /**
   * More `run` flags, before the image (e.g. `--network=slirp4netns`). Default for podman:
   * `--ulimit nofile=1024:1024 --ulimit nproc=1024:1024` (runc on these machines may not raise
   * rlimits above the sandbox's own hard limits, which podman's defaults do); none for docker.
   */
  runArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** Injectable for tests; child processes by default. */
  runner?: CommandRunner;
}

const PODMAN_RUN_ARGS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

/**
 * Global podman flags for `tug dev` with `runtime: podman`: `TUG_PODMAN_ARGS` split on
 * whitespace when it is set (an empty value means no flags), else
 * `--runtime runc --cgroup-manager=cgroupfs`, which rootless podman in a container (no systemd,
 * no crun) needs on these machines.
 */
export function defaultPodmanArgs(env: NodeJS.ProcessEnv = process.env): string[] {
  const v = env.TUG_PODMAN_ARGS;
  if (v !== undefined) return v.split(/\s+/).filter((s) => s !== "");
  return ["--runtime", "runc", "--cgroup-manager=cgroupfs"];
}

/**
 * `podman` / `docker`: the dev image runs under tug's supervisor as PID 1
 * (`--entrypoint /tug/supervisor … run -- ARGV`), so a live update never recreates the container:
 *
 * - sync and restart go through ONE long-lived `exec -i ID /tug/supervisor agent /` session,
 *   opened when the container has started (a podman exec costs ~185 ms; a request on the open
 *   session a few ms): a `SYNC` request per batch (the tar and the deleted paths), `HUP` to
 *   restart; requests are serialised. The supervisor (PID 1) stops the app's process group
 *   (SIGTERM, SIGKILL after 2 s) on SIGHUP and starts it again, in the same container (same ID);
 * - without the session (the runner cannot open one, the image's supervisor predates `agent`,
 *   or the session died): ONE `exec -i ID /tug/supervisor extract / [--delete P]…` per batch
 *   with the tar on stdin, and `kill --signal HUP ID` to restart;
 * - exec: `exec ID /bin/sh -c CMD` in the container's workdir; needs a shell in the image.
 *
 * `exited()` semantics: the container outlives the app. When the app exits by itself the
 * supervisor prints `[tug] process exited (code N)` and keeps the container up, waiting for the
 * next HUP; that line (still passed to `onLog`) resolves the current `exited()` promise with
 * the app's status. `restart()` resolves it with `{ signal: "SIGTERM" }` (what the supervisor
 * sends) and begins a new one; the container stopping (stop(), or killed from outside) resolves
 * it with the container's exit code. A crash line from before a restart that the log stream
 * delivers only after it would be taken for the new process's: logs are followed, not polled,
 * so that window is the log pipeline's latency.
 */
export function containerRuntime(opts: ContainerRuntimeOptions): Runtime {
  const cli = opts.cli;
  const global = opts.globalArgs ?? (cli === "podman" ? defaultPodmanArgs(opts.env ?? process.env) : []);
  const runner = opts.runner ?? processRunner(opts.env);
  const runArgs = opts.runArgs ?? (cli === "podman" ? PODMAN_RUN_ARGS : []);
  const run = (args: string[], o?: Parameters<CommandRunner["run"]>[2]) =>
    runner.run(cli, [...global, ...args], o).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") {
        throw new TugError({
          what: `${cli} is not installed (not found on PATH)`,
          hint: `install ${cli}, or choose another dev runtime (runtime: local)`,
        });
      }
      throw e;
    });

  let id: string | undefined;
  let target = "";
  let logs: Follower | undefined;
  let waiter: Follower | undefined;
  let linkDir: string | undefined;
  let current = generation();
  let stopping: Promise<void> | undefined;
  let lastExit: number | undefined;
  let agent: SyncAgent | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  /** Runs syncs and restarts one at a time, in call order. */
  function serial<T>(f: () => Promise<T>): Promise<T> {
    const p = queue.then(f, f);
    queue = p.catch(() => {});
    return p;
  }

  /** The agent session when it is up (waiting for its greeting, after start). */
  async function liveAgent(): Promise<SyncAgent | undefined> {
    const a = agent;
    return a && (await a.ready) && a.alive() ? a : undefined;
  }

  const failed = (what: string, r: CommandResult, hint?: string) =>
    new TugError({
      what,
      where: target ? `tug dev ${target}` : undefined,
      hint: hint ?? (r.stderr.trim() || r.stdout.trim() || `${cli} exited ${r.code}`),
    });

  async function imageRef(spec: RunSpec): Promise<string> {
    const image = spec.image;
    if (!image) {
      throw new TugError({
        what: `the ${cli} runtime needs an image to run`,
        where: `tug dev ${spec.target}`,
      });
    }
    if (cli === "podman") {
      // podman names an image pulled from `oci:PATH:TAG` after PATH and refuses upper-case
      // letters there (and a ':' would end PATH): a lowercase symlink stands in for the layout.
      const base = /^[a-z0-9/._-]+$/.test(tmpdir()) ? tmpdir() : "/tmp";
      linkDir = join(base, `tug-dev-${randomBytes(6).toString("hex")}`);
      await mkdir(linkDir);
      await symlink(resolve(image.layout), join(linkDir, "layout"));
      return `oci:${join(linkDir, "layout")}:${image.name}`;
    }
    // docker cannot run from a layout: load it (Docker ≥ 25 reads OCI layouts) and run its ID.
    // Not run here: the docker CLI on these machines has no daemon.
    const entries = await tarEntriesFromDir(image.layout, "");
    const r = await run(["load", "--quiet"], { stdin: tarStream(entries), timeoutMs: 600_000 });
    const loaded = [...r.stdout.matchAll(/Loaded image(?: ID)?: (\S+)/g)].pop()?.[1];
    if (r.code !== 0 || !loaded) throw failed(`docker load of ${image.layout} failed`, r);
    return loaded;
  }

  const runtime: Runtime = {
    kind: cli,

    async start(spec) {
      if (id) await runtime.stop();
      stopping = undefined;
      current = generation();
      lastExit = undefined;
      target = spec.target;
      const ref = await imageRef(spec);
      const name = `tug-dev-${spec.target.replace(/[^a-zA-Z0-9_.-]/g, "-")}-${randomBytes(3).toString("hex")}`;
      const args = ["run", "-d", "--name", name, "--entrypoint", SUPERVISOR_PATH];
      // Pull from the layout every time: under pull=missing podman would reuse the image it
      // pulled from the same `oci:PATH:TAG` before the redeploy rewrote the layout.
      if (cli === "podman") args.push("--pull=always", "--quiet");
      args.push(...runArgs);
      if (spec.port !== undefined) args.push("-p", `127.0.0.1:${spec.port}:${spec.port}`);
      for (const [k, v] of Object.entries(spec.env)) args.push("-e", `${k}=${v}`);
      if (spec.workdir) args.push("-w", spec.workdir);
      args.push(ref, "run", "--", ...spec.argv);
      const r = await run(args, { timeoutMs: 600_000 }).finally(cleanupLink);
      if (r.code !== 0) {
        throw failed(`${cli} could not start ${spec.target}`, r);
      }
      id = r.stdout.trim().split("\n").pop()?.trim();
      if (!id) throw failed(`${cli} run printed no container id for ${spec.target}`, r);
      logs = runner.follow(cli, [...global, "logs", "-f", id], (line, stream) => {
        spec.onLog(line, stream);
        const crash = parseSupervisorExit(line);
        if (crash) current.end(crash);
      });
      const w = runner.follow(cli, [...global, "wait", id], (line) => {
        if (/^-?\d+$/.test(line.trim())) lastExit = Number(line.trim());
      });
      waiter = w;
      void w.done.then(() => {
        if (waiter === w) current.end({ code: lastExit ?? null, signal: null });
      });
      // Not awaited: the first sync waits for its greeting, start() does not.
      if (runner.open) {
        agent = openAgent(runner.open(cli, [...global, "exec", "-i", id, SUPERVISOR_PATH, "agent", "/"]));
      }
    },

    async sync(changes: FileChange[]) {
      if (changes.length === 0) return;
      const cid = need();
      const what = `syncing ${changes.length} file change(s) into ${short(cid)} failed`;
      return serial(async () => {
        const a = await liveAgent();
        const frame = a && (await syncFrame(changes));
        if (a && frame) {
          try {
            const error = await a.request(frame, 120_000);
            if (error === undefined) return;
            throw new TugError({ what, where: `tug dev ${target}`, hint: error });
          } catch (e) {
            if (!(e instanceof AgentGone)) throw e;
            // The session died: the batch again, the per-batch way (writes and deletes are idempotent).
          }
        }
        const r = await run(["exec", "-i", cid, ...extractCommand(SUPERVISOR_PATH, changes)], {
          stdin: syncTar(changes),
          timeoutMs: 120_000,
        });
        if (r.code !== 0) throw failed(what, r);
      });
    },

    async exec(command) {
      const cid = need();
      const r = await run(["exec", cid, "/bin/sh", "-c", command], { timeoutMs: 600_000 });
      const output = r.stdout + r.stderr;
      if ((r.code === 126 || r.code === 127) && /\/bin\/sh.*(not found|no such file)/i.test(r.stderr)) {
        throw failed(
          `cannot run "${command}" in ${target}: the image has no /bin/sh`,
          r,
          "run: steps need a shell in the image; use a base with one (e.g. a -slim or busybox image), or drop the step",
        );
      }
      return { code: r.code, output };
    },

    async restart() {
      const cid = need();
      const what = `restarting ${target} (SIGHUP to ${short(cid)}) failed`;
      await serial(async () => {
        const a = await liveAgent();
        let sent = false;
        if (a) {
          try {
            const error = await a.request("HUP\n", 30_000);
            if (error !== undefined) throw new TugError({ what, where: `tug dev ${target}`, hint: error });
            sent = true;
          } catch (e) {
            if (!(e instanceof AgentGone)) throw e;
          }
        }
        if (!sent) {
          const r = await run(["kill", "--signal", "HUP", cid]);
          if (r.code !== 0) throw failed(what, r);
        }
        current.end({ code: null, signal: "SIGTERM" });
        current = generation();
      });
    },

    stop() {
      stopping ??= (async () => {
        const cid = id;
        let failure: TugError | undefined;
        // End of input ends the agent; the container's removal would too.
        const closing = agent?.close(2_000);
        agent = undefined;
        if (cid) {
          const rm = cli === "podman" ? ["rm", "--force", "--time", "2", cid] : ["rm", "--force", cid];
          const r = await run(rm, { timeoutMs: 60_000 });
          if (r.code !== 0 && !/no such container/i.test(r.stderr)) {
            failure = failed(`could not remove container ${short(cid)} of ${target}`, r);
          }
        }
        logs?.stop();
        const w = waiter;
        if (w) {
          // `wait` reports the exit code once the container is gone; do not hang on it.
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([w.done, new Promise((r) => (timer = setTimeout(r, 5_000)))]);
          clearTimeout(timer);
          w.stop();
        }
        await closing;
        current.end({ code: lastExit ?? null, signal: lastExit === undefined ? "SIGKILL" : null });
        logs = undefined;
        waiter = undefined;
        if (failure) {
          stopping = undefined; // a later stop() tries the removal again
          throw failure;
        }
        id = undefined;
      })();
      return stopping;
    },

    id: () => id,
    exited: () => current.done,
  };

  function need(): string {
    if (!id) throw new TugError({ what: `${target || "the target"} is not running in ${cli}` });
    return id;
  }

  async function cleanupLink(): Promise<void> {
    if (linkDir) await rm(linkDir, { recursive: true, force: true });
    linkDir = undefined;
  }

  return runtime;
}

function short(id: string): string {
  return id.slice(0, 12);
}
