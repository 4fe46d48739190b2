// Where the quest rows deploy: a "local" setting (registry on loopback, podman on this machine)
// or a "remote" one standing for a cloud cluster: the developer's pushes and every podman
// command cross one slow link (a throttling proxy on 127.0.0.1 in front of the registry and in
// front of a `podman system service` the commands reach with `--remote`), while the cluster
// pulls from the registry directly, as a cluster next to its registry would.
import { type ChildProcess, spawn } from "node:child_process";
import { cp, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { goStdCache, makeGoBase } from "../../test/support/bases.ts";
import { stopProcess } from "../../test/support/process.ts";
import { type PodmanStore, podmanStore, runTool, type ToolResult } from "../../test/support/tools.ts";
import { buildahStore } from "./buildah.ts";
import { type BenchRegistry, startBenchRegistry } from "./registry.ts";
import { type LinkOptions, slowLink, startThrottleProxy, type ThrottleProxy } from "./throttle-proxy.ts";

export type SettingName = "local" | "remote";

/** The remote setting's link: 20 Mbit/s each way, 20 ms each way (+40 ms round trip). */
export const REMOTE_LINK: LinkOptions = { bitsPerSecond: 20e6, oneWayDelayMs: 20 };

// What tug's podman runtime passes too: runc here cannot raise rlimits past its own.
export const PODMAN_RUN_ARGS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

export interface QuestSetting {
  name: SettingName;
  work: string;
  /** Where images are pushed (through the link when remote). */
  pushHost: string;
  /** Where the runtime pulls from (the registry itself). */
  pullHost: string;
  registry: BenchRegistry;
  /** The Go toolchain image, in the buildah store and the registry (`pullHost/quest/go:1.19`). */
  goImage: string;
  /** podman through the setting's path (`--remote` through the link when remote). */
  podman(args: string[], opts?: { timeoutMs?: number }): Promise<ToolResult>;
  /** Global podman flags for the same path (TUG_PODMAN_ARGS). */
  podmanArgs: string[];
  buildah(args: string[], opts?: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<ToolResult>;
  /** Environment for tug and go: the private podman store's, plus TUG_CACHE and GOCACHE. */
  env: NodeJS.ProcessEnv;
  dispose(): Promise<void>;
}

/** Waits until `podman system service` answers on `sock`. */
async function waitForPodmanApi(sock: string, env: NodeJS.ProcessEnv): Promise<void> {
  const end = Date.now() + 60_000;
  for (;;) {
    const r = await runTool("podman", ["--remote", "--url", `unix://${sock}`, "version"], {
      env,
      allowFailure: true,
    });
    if (r.code === 0) return;
    if (Date.now() > end) throw new Error(`podman system service did not answer on ${sock}: ${r.stderr}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

export async function openSetting(name: SettingName, work: string): Promise<QuestSetting> {
  await mkdir(work, { recursive: true });
  const cleanups: Array<() => Promise<unknown>> = [];
  const dispose = async () => {
    for (const f of cleanups.reverse()) await f().catch(() => undefined);
  };
  try {
    const registry = await startBenchRegistry(join(work, "registry"));
    cleanups.push(() => registry.stop());
    const store: PodmanStore = await podmanStore();
    cleanups.push(() => store.dispose());
    const buildahFlags = buildahStore(join(work, "buildah")).globalFlags;
    cleanups.push(() =>
      runTool("buildah", [...buildahFlags, "rm", "--all"], { allowFailure: true }).then(() =>
        runTool("buildah", [...buildahFlags, "rmi", "--all", "--force"], { allowFailure: true }),
      ),
    );
    let pushHost = registry.host;
    let podmanArgs = store.args;
    let path = process.env.PATH ?? "/usr/bin:/bin";
    if (name === "remote") {
      const link = slowLink(REMOTE_LINK);
      const regProxy: ThrottleProxy = await startThrottleProxy(Number(new URL(registry.url).port), link);
      cleanups.push(() => regProxy.stop());
      pushHost = regProxy.host;
      // The API on unix sockets in the bench's 0700 dir: a TCP port would let any local user
      // drive this podman.
      const svcSock = join(work, "podman.sock");
      const svc: ChildProcess = spawn(
        "podman",
        [...store.args, "system", "service", "--time", "0", `unix://${svcSock}`],
        { env: store.env, stdio: "ignore" },
      );
      cleanups.push(() => stopProcess(svc));
      await waitForPodmanApi(svcSock, store.env);
      const linkSock = join(work, "podman-link.sock");
      const svcProxy = await startThrottleProxy({ path: svcSock }, link, { path: linkSock });
      cleanups.push(() => svcProxy.stop());
      podmanArgs = ["--remote", "--url", `unix://${linkSock}`];
      // tug's podman runtime runs its dev image from an `oci:` layout, which `podman --remote`
      // refuses; its docker runtime loads the image through the API instead (`load` with the
      // tar on stdin, here through the link), so tug dev reaches the remote podman as `docker`.
      const shim = join(work, "docker-shim");
      await mkdir(shim, { recursive: true });
      const remote = `podman ${podmanArgs.join(" ")}`;
      await writeFile(
        join(shim, "docker"),
        [
          "#!/bin/sh",
          `if [ "$1" = run ]; then shift; exec ${remote} run ${PODMAN_RUN_ARGS.join(" ")} "$@"; fi`,
          `exec ${remote} "$@"`,
          "",
        ].join("\n"),
        { mode: 0o755 },
      );
      path = `${shim}:${path}`;
    }
    // One GOCACHE for tug and the host-build rows, seeded with the standard library compiled
    // for static builds, as the Go image has it: no row pays for compiling net/http.
    const tugCache = join(work, "tug-cache");
    await mkdir(tugCache, { recursive: true });
    await cp(await goStdCache(), join(tugCache, "go-build"), { recursive: true });
    const env: NodeJS.ProcessEnv = {
      ...store.env,
      TUG_CACHE: tugCache,
      TUG_PODMAN_ARGS: podmanArgs.join(" "),
      PATH: path,
      GOCACHE: join(tugCache, "go-build"),
      GOFLAGS: "-mod=mod",
      GOPROXY: "off",
      CGO_ENABLED: "0",
    };
    const podman = (args: string[], opts: { timeoutMs?: number } = {}) =>
      runTool("podman", [...podmanArgs, ...args], { env: store.env, timeoutMs: opts.timeoutMs ?? 600_000 });
    const buildah = (args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
      runTool("buildah", [...buildahFlags, ...args], {
        env: opts.env ?? store.env,
        timeoutMs: 900_000,
        ...(opts.cwd ? { cwd: opts.cwd } : {}),
      });

    // The Go image: in the registry (the live-update row's container runs it) and in buildah's store.
    const goBase = await makeGoBase();
    const goImage = `${registry.host}/quest/go:1.19`;
    await runTool(
      "skopeo",
      ["copy", "--quiet", "--dest-tls-verify=false", goBase.ref, `docker://${goImage}`],
      { timeoutMs: 600_000 },
    );
    await buildah(["pull", "--quiet", "--tls-verify=false", `docker://${goImage}`]);
    await podman(["pull", "--quiet", "--tls-verify=false", goImage]);
    await writeFile(join(work, "setting.txt"), `${name}\n`);
    return {
      name,
      work,
      pushHost,
      pullHost: registry.host,
      registry,
      goImage,
      podman,
      podmanArgs,
      buildah,
      env,
      dispose,
    };
  } catch (e) {
    await dispose();
    throw e;
  }
}
