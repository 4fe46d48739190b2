import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { TugError } from "../errors.ts";
import { tarEntriesFromDir, tarStream } from "../oci/tar.ts";
import { type CommandRunner, processRunner, type RunOptions } from "./command-runner.ts";
import { containerServes, layoutLink, pruneDevImages } from "./podman-image.ts";
import type { FileChange, RunSpec, Runtime } from "./runtime.ts";
import { containerTransport, Supervised } from "./supervised.ts";
import { SUPERVISOR_PATH } from "./supervisor.ts";

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

export const PODMAN_RUN_ARGS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

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
 * (`--entrypoint /tug/supervisor … run -- ARGV`), so a live update never recreates the
 * container; sync, exec, restart and `exited()` are the shared `Supervised` ones (one agent
 * session per container, exec per batch without it). A crash line from before a restart that
 * the log stream delivers only after it would be taken for the new process's: logs are
 * followed, not polled, so that window is the log pipeline's latency.
 */
export function containerRuntime(opts: ContainerRuntimeOptions): Runtime {
  const cli = opts.cli;
  const global = opts.globalArgs ?? (cli === "podman" ? defaultPodmanArgs(opts.env ?? process.env) : []);
  const runner = opts.runner ?? processRunner(opts.env);
  const runArgs = opts.runArgs ?? (cli === "podman" ? PODMAN_RUN_ARGS : []);
  const box = new Supervised(containerTransport({ cli, global, runner }));
  const run = (args: string[], o?: RunOptions) => box.run(args, o);

  let linkDir: string | undefined;
  let stopping: Promise<void> | undefined;
  let port: number | undefined;

  async function imageRef(spec: RunSpec): Promise<string> {
    const image = spec.image;
    if (!image) {
      throw new TugError({
        what: `the ${cli} runtime needs an image to run`,
        where: `tug dev ${spec.target}`,
      });
    }
    if (cli === "podman") {
      const link = await layoutLink(image.layout, spec.target);
      linkDir = link.dir;
      return `oci:${link.path}:${image.name}`;
    }
    // docker cannot run from a layout: load it (Docker ≥ 25 reads OCI layouts) and run its ID.
    // Not run here: the docker CLI on these machines has no daemon.
    const entries = await tarEntriesFromDir(image.layout, "");
    const r = await run(["load", "--quiet"], { stdin: tarStream(entries), timeoutMs: 600_000 });
    const loaded = [...r.stdout.matchAll(/Loaded image(?: ID)?: (\S+)/g)].pop()?.[1];
    if (r.code !== 0 || !loaded) throw box.failed(`docker load of ${image.layout} failed`, r);
    return loaded;
  }

  const runtime: Runtime = {
    kind: cli,

    async start(spec) {
      if (box.id()) await runtime.stop();
      stopping = undefined;
      port = spec.port;
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
      if (r.code !== 0) throw box.failed(`${cli} could not start ${spec.target}`, r);
      const id = r.stdout.trim().split("\n").pop()?.trim();
      if (!id) throw box.failed(`${cli} run printed no container id for ${spec.target}`, r);
      box.attach(id, spec);
      if (cli === "podman") await pruneDevImages(box, spec.target);
    },

    sync: (changes: FileChange[]) => box.sync(changes),
    exec: (command) => box.exec(command),
    restart: () => box.restart(),

    stop() {
      stopping ??= (async () => {
        const cid = box.id();
        await box
          .detach(async () => {
            if (!cid) return;
            const rm = cli === "podman" ? ["rm", "--force", "--time", "2", cid] : ["rm", "--force", cid];
            const r = await run(rm, { timeoutMs: 60_000 });
            if (r.code !== 0 && !/no such container/i.test(r.stderr)) {
              throw box.failed(`could not remove container ${cid.slice(0, 12)}`, r);
            }
          })
          .catch((e: unknown) => {
            stopping = undefined; // a later stop() tries the removal again
            throw e;
          });
      })();
      return stopping;
    },

    id: () => box.id(),
    owns: async (p) => {
      const cid = box.id();
      return cid !== undefined && p === port && containerServes(box, cid, p);
    },
    exited: () => box.exited(),
  };

  async function cleanupLink(): Promise<void> {
    if (linkDir) await rm(linkDir, { recursive: true, force: true });
    linkDir = undefined;
  }

  return runtime;
}
