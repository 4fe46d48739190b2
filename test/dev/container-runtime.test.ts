// The podman runtime against the real podman on this machine: a dev image made with tug's own
// pieces (node base + app layer + supervisor layer), live-updated without recreating its container.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, lstat, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { type TestContext, test } from "node:test";
import { type Channel, type CommandRunner, processRunner } from "../../src/dev/command-runner.ts";
import { containerRuntime, defaultPodmanArgs } from "../../src/dev/container-runtime.ts";
import type { ExitStatus, FileChange, Runtime } from "../../src/dev/runtime.ts";
import { compileSupervisor, supervisorLayerRecipe } from "../../src/dev/supervisor.ts";
import { Engine } from "../../src/engine/engine.ts";
import { cachedLayer } from "../../src/engine/layer-action.ts";
import { TugError } from "../../src/errors.ts";
import { appendLayers, emptyImage } from "../../src/oci/image.ts";
import { buildMemoryLayer } from "../../src/oci/layer.ts";
import { readLayout, writeLayout } from "../../src/oci/layout.ts";
import { type Image, isIndex } from "../../src/oci/types.ts";
import { makeNodeBase } from "../support/bases.ts";
import { tempDir } from "../support/tmp.ts";
import { freePort, type PodmanStore, podmanStore, runTool, waitForHttp } from "../support/tools.ts";

const host = { os: "linux", architecture: process.arch === "arm64" ? "arm64" : "amd64" };

const server = (text: string) => `const http = require("node:http");
if (process.env.CRASH === "${text}") { console.error("crashing on purpose"); process.exit(3); }
http.createServer((req, res) => res.end(${JSON.stringify(text)})).listen(Number(process.env.PORT), () =>
  console.log("listening " + process.env.PORT));
`;

/** A dev image in a layout under a mixed-case temp dir (which podman alone would refuse). */
async function devImage(t: TestContext): Promise<{ layout: string; name: string; digest: string }> {
  const dir = await tempDir(t, "tug-Dev-Image-");
  const engine = await Engine.open({ cacheDir: join(dir, "cache"), scope: dir });
  t.after(() => engine.close());
  const base = await readLayout((await makeNodeBase()).layout, "latest");
  if (isIndex(base)) throw new Error("node base is an index");
  const app = await buildMemoryLayer({
    entries: [{ path: "app/server.js", type: "file", mode: 0o644, data: Buffer.from(server("v1")) }],
    compression: { kind: "gzip", level: 1 },
  });
  const supervisor = await cachedLayer(engine, await supervisorLayerRecipe(engine, host), {
    kind: "gzip",
    level: 1,
  });
  const image: Image = appendLayers(base, [app, supervisor.layer]);
  const layout = join(dir, "Layout");
  const { digest } = await writeLayout(layout, image, { tags: ["web"] });
  return { layout, name: "web", digest };
}

/** processRunner, recording the argv of every command it runs, follows or opens. */
function countingRunner(env: NodeJS.ProcessEnv): { runner: CommandRunner; argv: string[][] } {
  const real = processRunner(env);
  const argv: string[][] = [];
  return {
    argv,
    runner: {
      run: (cmd, args, o) => {
        argv.push([cmd, ...args]);
        return real.run(cmd, args, o);
      },
      follow: (cmd, args, onLine) => {
        argv.push([cmd, ...args]);
        return real.follow(cmd, args, onLine);
      },
      open: (cmd, args) => {
        argv.push([cmd, ...args]);
        return real.open!(cmd, args);
      },
    },
  };
}

function podmanRuntime(store: PodmanStore, runner?: CommandRunner): Runtime {
  return containerRuntime({
    cli: "podman",
    globalArgs: store.args,
    env: store.env,
    ...(runner ? { runner } : {}),
    runArgs: ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network=slirp4netns"],
  });
}

async function inspect(
  store: PodmanStore,
  id: string,
): Promise<{ Id: string; StartedAt: string; Running: boolean }> {
  const r = await runTool(
    "podman",
    [...store.args, "inspect", "--format", "{{.Id}} {{.State.StartedAt}} {{.State.Running}}", id],
    { env: store.env },
  );
  const [Id = "", ...rest] = r.stdout.trim().split(" ");
  const running = rest.pop();
  return { Id, StartedAt: rest.join(" "), Running: running === "true" };
}

async function waitForBody(url: string, want: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const r = await waitForHttp(url, { timeoutMs: Math.max(1, deadline - Date.now()) }).catch(
      () => undefined,
    );
    last = r?.body ?? last;
    if (last === want) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never answered ${JSON.stringify(want)} (last: ${JSON.stringify(last)})`);
}

test("podman: sync + HUP restart serve new code from the same container; stop removes it", {
  timeout: 600_000,
}, async (t) => {
  const store = await podmanStore(t);
  const image = await devImage(t);
  const counted = countingRunner(store.env);
  const runtime = podmanRuntime(store, counted.runner);
  t.after(() => runtime.stop());
  const port = await freePort();
  const logs: string[] = [];
  await runtime.start({
    target: "web",
    argv: ["/usr/local/bin/node", "/app/server.js"],
    env: { PORT: String(port), PATH: "/usr/local/bin:/usr/bin:/bin" },
    workdir: "/app",
    port,
    image,
    onLog: (line, stream) => logs.push(`${stream}: ${line}`),
  });
  const id = runtime.id();
  assert.ok(id);
  const url = `http://127.0.0.1:${port}/`;
  await waitForBody(url, "v1");
  const before = await inspect(store, id);
  assert.ok(before.Running);

  // One batch: a changed server, an executable helper, a deletion.
  const dir = await tempDir(t);
  await writeFile(join(dir, "server.js"), server("v2"));
  await writeFile(join(dir, "tool.sh"), "#!/bin/sh\n");
  await chmod(join(dir, "tool.sh"), 0o755);
  const changes: FileChange[] = [
    { path: "/app/server.js", kind: "write", source: join(dir, "server.js") },
    { path: "/app/bin/tool.sh", kind: "write", source: join(dir, "tool.sh") },
    { path: "/app/obsolete.js", kind: "write", data: Buffer.from("x") },
  ];
  const s0 = Date.now();
  await runtime.sync(changes); // waits for the agent session's greeting, too
  t.diagnostic(`first sync of ${changes.length} files: ${Date.now() - s0} ms`);
  const s1 = Date.now();
  await runtime.sync([{ path: "/app/obsolete.js", kind: "delete" }]);
  t.diagnostic(`second sync, on the open agent session: ${Date.now() - s1} ms`);
  const stat = await runTool(
    "podman",
    [
      ...store.args,
      "exec",
      id,
      "/usr/local/bin/node",
      "-e",
      `const fs = require("fs");
       console.log((fs.statSync("/app/bin/tool.sh").mode & 0o777).toString(8), fs.existsSync("/app/obsolete.js"));`,
    ],
    { env: store.env },
  );
  assert.equal(stat.stdout.trim(), "755 false");
  // Synced but not restarted: the old code still serves.
  assert.equal((await waitForHttp(url)).body, "v1");

  const firstGen = runtime.exited();
  const t0 = Date.now();
  await runtime.restart();
  assert.deepEqual(await firstGen, { code: null, signal: "SIGTERM" });
  await waitForBody(url, "v2");
  t.diagnostic(`restart to new response: ${Date.now() - t0} ms`);

  assert.equal(runtime.id(), id, "same container id");
  // Both syncs and the restart went through ONE exec session: no per-batch exec, no podman kill.
  const execs = counted.argv.filter((a) => a.includes("exec"));
  assert.deepEqual(execs, [["podman", ...store.args, "exec", "-i", id, "/tug/supervisor", "agent", "/"]]);
  assert.ok(!counted.argv.some((a) => a.includes("kill")), counted.argv.join("\n"));
  const after = await inspect(store, id);
  assert.equal(after.Id, before.Id);
  assert.equal(after.StartedAt, before.StartedAt, "the container was not restarted or recreated");
  assert.ok(after.Running);
  assert.ok(
    logs.some((l) => l === `stdout: listening ${port}`),
    logs.join("\n"),
  );

  // No shell in the node base: exec explains instead of failing obscurely.
  await assert.rejects(runtime.exec("echo hi"), /has no \/bin\/sh/);

  const ended = runtime.exited();
  await runtime.stop();
  await runtime.stop(); // idempotent
  const status = await ended;
  assert.ok(status.code !== undefined, JSON.stringify(status));
  assert.equal(runtime.id(), undefined);
  const exists = await runTool("podman", [...store.args, "container", "exists", id], {
    env: store.env,
    allowFailure: true,
  });
  assert.equal(exists.code, 1, "the container is gone");
});

test("podman: an app that crashes is reported through exited(); the container stays for the fix", {
  timeout: 600_000,
}, async (t) => {
  const store = await podmanStore(t);
  const image = await devImage(t);
  const runtime = podmanRuntime(store);
  t.after(() => runtime.stop());
  const port = await freePort();
  const logs: string[] = [];
  await runtime.start({
    target: "web",
    argv: ["/usr/local/bin/node", "/app/server.js"],
    env: { PORT: String(port), CRASH: "v1" },
    port,
    image,
    onLog: (line) => logs.push(line),
  });
  const id = runtime.id()!;
  assert.deepEqual(await runtime.exited(), { code: 3, signal: null });
  assert.ok(logs.includes("crashing on purpose"), logs.join("\n"));
  assert.ok(logs.includes("[tug] process exited (code 3)"), logs.join("\n"));
  assert.ok((await inspect(store, id)).Running, "the supervisor keeps the container up");

  await runtime.sync([{ path: "/app/server.js", kind: "write", data: Buffer.from(server("v2")) }]);
  await runtime.restart();
  await waitForBody(`http://127.0.0.1:${port}/`, "v2");
  assert.equal(runtime.id(), id);
  await runtime.stop();
});

test("defaultPodmanArgs: TUG_PODMAN_ARGS replaces the defaults", () => {
  assert.deepEqual(defaultPodmanArgs({}), ["--runtime", "runc", "--cgroup-manager=cgroupfs"]);
  assert.deepEqual(defaultPodmanArgs({ TUG_PODMAN_ARGS: " --root /x  --runtime crun " }), [
    "--root",
    "/x",
    "--runtime",
    "crun",
  ]);
  assert.deepEqual(defaultPodmanArgs({ TUG_PODMAN_ARGS: "" }), []);
});

test("command construction: podman run/exec/kill/rm and docker load + run (fake CLI)", async (t) => {
  const dir = await tempDir(t, "tug-Cmd-");
  const layout = join(dir, "Layout");
  await writeLayout(layout, emptyImage(host), { tags: ["web"] });
  const calls: string[][] = [];
  const follows: string[][] = [];
  const ends: Array<() => void> = [];
  const runner: CommandRunner = {
    async run(cmd, args, opts) {
      if (opts?.stdin instanceof Readable) for await (const _ of opts.stdin);
      calls.push([cmd, ...args]);
      if (args.includes("rm")) for (const end of ends.splice(0)) end();
      if (args.includes("load")) return { code: 0, stdout: "Loaded image ID: sha256:feed\n", stderr: "" };
      if (args.includes("run")) return { code: 0, stdout: "c0ffee\n", stderr: "" };
      if (args.includes("/bin/sh")) {
        return { code: 127, stdout: "", stderr: 'exec: "/bin/sh": stat /bin/sh: no such file or directory' };
      }
      return { code: 0, stdout: "", stderr: "" };
    },
    follow(cmd, args) {
      follows.push([cmd, ...args]);
      let end: (s: ExitStatus) => void = () => {};
      const done = new Promise<ExitStatus>((r) => {
        end = r;
      });
      // Like the real ones, followers end when the container is removed.
      ends.push(() => end({ code: 0, signal: null }));
      return { done, stop: () => end({ code: null, signal: "SIGTERM" }) };
    },
  };
  const spec = {
    target: "my web",
    argv: ["node", "/app/server.js"],
    env: { A: "1" },
    workdir: "/app",
    port: 8080,
    image: { layout, name: "web", digest: "sha256:x" },
    onLog: () => {},
  };

  const podman = containerRuntime({ cli: "podman", globalArgs: ["--root", "/r"], runner });
  await podman.start(spec);
  const run = calls[0]!;
  assert.deepEqual(run.slice(0, 5), ["podman", "--root", "/r", "run", "-d"]);
  assert.match(run[6]!, /^tug-dev-my-web-[0-9a-f]{6}$/);
  const ref = run.find((a) => a.startsWith("oci:"))!;
  assert.match(ref, /^oci:[a-z0-9/._-]+:web$/, "a lowercase stand-in path for the layout");
  assert.deepEqual(run.slice(7), [
    "--entrypoint",
    "/tug/supervisor",
    "--pull=always",
    "--quiet",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
    "-p",
    "127.0.0.1:8080:8080",
    "-e",
    "A=1",
    "-w",
    "/app",
    ref,
    "run",
    "--",
    "node",
    "/app/server.js",
  ]);
  assert.deepEqual(follows, [
    ["podman", "--root", "/r", "logs", "-f", "c0ffee"],
    ["podman", "--root", "/r", "wait", "c0ffee"],
  ]);
  calls.length = 0;
  await podman.sync([{ path: "/app/a.js", kind: "delete" }]);
  await podman.restart();
  await assert.rejects(podman.exec("npm ci"), /has no \/bin\/sh/);
  await podman.stop();
  assert.deepEqual(calls, [
    [
      "podman",
      "--root",
      "/r",
      "exec",
      "-i",
      "c0ffee",
      "/tug/supervisor",
      "extract",
      "/",
      "--delete",
      "/app/a.js",
    ],
    ["podman", "--root", "/r", "kill", "--signal", "HUP", "c0ffee"],
    ["podman", "--root", "/r", "exec", "c0ffee", "/bin/sh", "-c", "npm ci"],
    ["podman", "--root", "/r", "rm", "--force", "--time", "2", "c0ffee"],
  ]);

  calls.length = 0;
  const docker = containerRuntime({ cli: "docker", runner });
  await docker.start({ ...spec, port: undefined, workdir: undefined });
  assert.deepEqual(calls[0], ["docker", "load", "--quiet"]);
  assert.deepEqual(calls[1]?.slice(5), [
    "--entrypoint",
    "/tug/supervisor",
    "-e",
    "A=1",
    "sha256:feed",
    "run",
    "--",
    "node",
    "/app/server.js",
  ]);
  await docker.stop();
  assert.deepEqual(calls.at(-1), ["docker", "rm", "--force", "c0ffee"]);
});

/**
 * A fake container CLI whose `exec -i … agent /` runs tug's real supervisor on this host, as
 * `agent ROOT --pid PID`: the runtime's side of the agent protocol without podman.
 */
async function agentCli(t: TestContext, agentArgs: (root: string) => string[]) {
  const dir = await tempDir(t, "tug-agent-");
  const bin = await compileSupervisor({
    dir: join(dir, "build"),
    platform: host,
  });
  const root = join(dir, "root");
  await mkdir(root);
  // What PID 1 would be: a process that reports each SIGHUP.
  const target = spawn(
    process.execPath,
    ["-e", 'process.on("SIGHUP", () => console.log("hup")); console.log("up"); setInterval(() => {}, 1000);'],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  t.after(() => {
    target.kill("SIGKILL");
  });
  let hups = 0;
  let upSeen: () => void = () => {};
  const up = new Promise<void>((r) => {
    upSeen = r;
  });
  target.stdout.on("data", (c: Buffer) => {
    hups += (c.toString().match(/hup/g) ?? []).length;
    if (c.toString().includes("up")) upSeen();
  });
  await up;
  const calls: string[][] = [];
  const opened: Array<{ argv: string[]; channel: Channel }> = [];
  const ends: Array<() => void> = [];
  const real = processRunner();
  const runner: CommandRunner = {
    async run(cmd, args, opts) {
      if (opts?.stdin instanceof Readable) for await (const _ of opts.stdin);
      calls.push([cmd, ...args]);
      if (args.includes("rm")) for (const end of ends.splice(0)) end();
      if (args.includes("run")) return { code: 0, stdout: "c0ffee\n", stderr: "" };
      return { code: 0, stdout: "", stderr: "" };
    },
    follow() {
      let end: (s: ExitStatus) => void = () => {};
      const done = new Promise<ExitStatus>((r) => {
        end = r;
      });
      ends.push(() => end({ code: 0, signal: null }));
      return { done, stop: () => end({ code: null, signal: "SIGTERM" }) };
    },
    open(cmd, args) {
      const channel = real.open!(bin, agentArgs(root).concat(["--pid", String(target.pid)]));
      opened.push({ argv: [cmd, ...args], channel });
      return channel;
    },
  };
  const dirLayout = join(dir, "Layout");
  await writeLayout(dirLayout, emptyImage(host), { tags: ["web"] });
  const runtime = containerRuntime({ cli: "podman", globalArgs: ["--root", "/r"], runner });
  t.after(() => runtime.stop());
  await runtime.start({
    target: "web",
    argv: ["node", "/app/server.js"],
    env: {},
    image: { layout: dirLayout, name: "web", digest: "sha256:x" },
    onLog: () => {},
  });
  return { runtime, root, calls, opened, hups: () => hups };
}

async function until(what: string, f: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("agent session: syncs and restarts share ONE exec; an ERR reply fails only its batch", {
  timeout: 120_000,
}, async (t) => {
  const { runtime, root, calls, opened, hups } = await agentCli(t, (root) => ["agent", root]);
  calls.length = 0;
  await runtime.sync([
    { path: "/app/a.js", kind: "write", data: Buffer.from("a1") },
    { path: "/app/gone.js", kind: "write", data: Buffer.from("x"), mode: 0o600 },
  ]);
  assert.equal(await readFile(join(root, "app/a.js"), "utf8"), "a1");
  // Concurrent calls are serialised: the delete lands after the write it follows.
  const firstGen = runtime.exited();
  await Promise.all([
    runtime.sync([{ path: "/app/a.js", kind: "write", data: Buffer.from("a2") }]),
    runtime.sync([{ path: "/app/gone.js", kind: "delete" }]),
    runtime.restart(),
  ]);
  assert.deepEqual(await firstGen, { code: null, signal: "SIGTERM" });
  await until("the SIGHUP", () => hups() === 1);
  assert.equal(await readFile(join(root, "app/a.js"), "utf8"), "a2");
  await assert.rejects(lstat(join(root, "app/gone.js")), { code: "ENOENT" });

  // Refused by the agent (a symlink out of the root): the batch fails, the session stays.
  await symlink("/", join(root, "esc"));
  await assert.rejects(
    runtime.sync([{ path: "/esc/tmp/evil", kind: "write", data: Buffer.from("x") }]),
    (e: unknown) =>
      e instanceof TugError &&
      e.what === "syncing 1 file change(s) into c0ffee failed" &&
      /through a symlink/.test(e.hint ?? ""),
  );
  await runtime.sync([{ path: "/app/b.js", kind: "write", data: Buffer.from("b") }]);
  assert.equal(await readFile(join(root, "app/b.js"), "utf8"), "b");

  assert.equal(opened.length, 1);
  assert.deepEqual(opened[0]!.argv, [
    "podman",
    "--root",
    "/r",
    "exec",
    "-i",
    "c0ffee",
    "/tug/supervisor",
    "agent",
    "/",
  ]);
  assert.deepEqual(calls, [], "no per-batch exec, no podman kill");

  // The session dies: syncs and restarts fall back to one exec / kill each.
  opened[0]!.channel.kill();
  await opened[0]!.channel.done;
  await runtime.sync([{ path: "/app/c.js", kind: "delete" }]);
  await runtime.restart();
  assert.deepEqual(calls, [
    [
      "podman",
      "--root",
      "/r",
      "exec",
      "-i",
      "c0ffee",
      "/tug/supervisor",
      "extract",
      "/",
      "--delete",
      "/app/c.js",
    ],
    ["podman", "--root", "/r", "kill", "--signal", "HUP", "c0ffee"],
  ]);

  await runtime.stop();
  assert.deepEqual(calls.at(-1), ["podman", "--root", "/r", "rm", "--force", "--time", "2", "c0ffee"]);
});

test("agent session: an image whose supervisor has no `agent` falls back to exec per batch", {
  timeout: 120_000,
}, async (t) => {
  // An older supervisor prints its usage and exits 2.
  const { runtime, calls, opened } = await agentCli(t, () => ["no-such-subcommand"]);
  calls.length = 0;
  await runtime.sync([{ path: "/app/a.js", kind: "delete" }]);
  await runtime.restart();
  assert.equal(opened.length, 1);
  assert.deepEqual(
    calls.map((c) => c.slice(3, 5)),
    [
      ["exec", "-i"],
      ["kill", "--signal"],
    ],
  );
  const stopped = runtime.stop();
  await stopped;
  assert.notEqual((await opened[0]!.channel.done).code, 0);
});
