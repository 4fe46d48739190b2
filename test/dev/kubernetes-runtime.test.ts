// Command construction only: there is no Kubernetes API server here, so kubectl is a fake that
// records argv and stdin. The tar it is fed is read back and checked like the podman one.
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { test } from "node:test";
import type { CommandResult, CommandRunner, Follower, RunOptions } from "../../src/dev/command-runner.ts";
import { kubernetesRuntime, pickPod, workloadsOf } from "../../src/dev/kubernetes-runtime.ts";
import type { ExitStatus } from "../../src/dev/runtime.ts";
import { readTar } from "./read-tar.ts";

interface Call {
  cmd: string;
  args: string[];
  stdin?: Buffer;
}

const PODS = {
  items: [
    {
      metadata: {
        name: "web-old",
        creationTimestamp: "2026-01-01T00:00:00Z",
        deletionTimestamp: "2026-01-01T00:05:00Z",
      },
      status: { phase: "Running", containerStatuses: [{ name: "web", ready: true }] },
    },
    {
      metadata: { name: "web-new", creationTimestamp: "2026-01-01T00:04:00Z" },
      status: { phase: "Running", containerStatuses: [{ name: "web", ready: true }] },
    },
    {
      metadata: { name: "web-pending", creationTimestamp: "2026-01-01T00:06:00Z" },
      status: { phase: "Pending", containerStatuses: [{ name: "web", ready: false }] },
    },
  ],
};

function fakeKubectl(respond: (args: string[]) => Partial<CommandResult> = () => ({})) {
  const calls: Call[] = [];
  const follows: Array<{ args: string[]; onLine: (l: string, s: "stdout" | "stderr") => void; end(): void }> =
    [];
  const runner: CommandRunner = {
    async run(cmd, args, opts: RunOptions = {}) {
      let stdin: Buffer | undefined;
      if (opts.stdin !== undefined) {
        const src = opts.stdin instanceof Readable ? opts.stdin : Readable.from([Buffer.from(opts.stdin)]);
        const chunks: Buffer[] = [];
        for await (const c of src) chunks.push(Buffer.from(c as Uint8Array));
        stdin = Buffer.concat(chunks);
      }
      calls.push({ cmd, args, ...(stdin ? { stdin } : {}) });
      const base: CommandResult = {
        code: 0,
        stdout: args.includes("get") ? JSON.stringify(PODS) : "",
        stderr: "",
      };
      return { ...base, ...respond(args) };
    },
    follow(cmd, args, onLine): Follower {
      let end: (s: ExitStatus) => void = () => {};
      const done = new Promise<ExitStatus>((r) => {
        end = r;
      });
      const f = { args: [cmd, ...args], onLine, end: () => end({ code: 0, signal: null }) };
      follows.push(f);
      return { done, stop: f.end };
    },
  };
  return { runner, calls, follows };
}

const MANIFEST = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: 127.0.0.1:5000/web@sha256:abc
          command: ["/tug/supervisor", "run", "--", "node", "/app/server.js"]
---
apiVersion: v1
kind: Service
metadata:
  name: web
`;

test("start applies the manifests, waits for the rollout, picks the newest ready pod and follows it", async () => {
  const k = fakeKubectl();
  const rt = kubernetesRuntime({
    namespace: "dev",
    selector: "app=web",
    container: "web",
    manifests: [MANIFEST],
    runner: k.runner,
  });
  const logs: string[] = [];
  await rt.start({ target: "web", argv: [], env: {}, port: 8080, onLog: (l) => logs.push(l) });
  assert.deepEqual(
    k.calls.map((c) => [c.cmd, ...c.args]),
    [
      ["kubectl", "-n", "dev", "apply", "-f", "-"],
      ["kubectl", "-n", "dev", "rollout", "status", "deployment/web", "--timeout=120s"],
      ["kubectl", "-n", "dev", "wait", "--for=condition=Ready", "pod", "-l", "app=web", "--timeout=120s"],
      ["kubectl", "-n", "dev", "get", "pods", "-l", "app=web", "-o", "json"],
    ],
  );
  assert.equal(k.calls[0]?.stdin?.toString(), MANIFEST);
  assert.equal(rt.id(), "web-new");
  assert.deepEqual(
    k.follows.map((f) => f.args),
    [
      ["kubectl", "-n", "dev", "logs", "-f", "web-new", "-c", "web"],
      ["kubectl", "-n", "dev", "port-forward", "--address", "127.0.0.1", "pod/web-new", "8080:8080"],
    ],
  );

  // A crash line from the supervisor ends the current generation; the pod stays.
  const gen = rt.exited();
  k.follows[0]?.onLine("listening", "stdout");
  k.follows[0]?.onLine("[tug] process exited (code 1)", "stderr");
  assert.deepEqual(await gen, { code: 1, signal: null });
  assert.deepEqual(logs, ["listening", "[tug] process exited (code 1)"]);
  await rt.stop();
});

test("sync is one kubectl exec -i with the supervisor's extract and the tar on stdin", async () => {
  const k = fakeKubectl();
  const rt = kubernetesRuntime({ selector: "app=web", runner: k.runner, kubectl: "/opt/kubectl" });
  await rt.start({ target: "web", argv: [], env: {}, onLog: () => {} });
  k.calls.length = 0;
  await rt.sync([
    { path: "/app/server.js", kind: "write", data: Buffer.from("v2") },
    { path: "/app/bin/tool", kind: "write", data: Buffer.from("#!/bin/sh\n"), mode: 0o755 },
    { path: "/app/old.js", kind: "delete" },
  ]);
  assert.equal(k.calls.length, 1);
  const call = k.calls[0]!;
  assert.deepEqual(
    [call.cmd, ...call.args],
    [
      "/opt/kubectl",
      "exec",
      "-i",
      "web-new",
      "--",
      "/tug/supervisor",
      "extract",
      "/",
      "--delete",
      "/app/old.js",
    ],
  );
  const items = await readTar(Readable.from([call.stdin!]));
  assert.deepEqual(
    items.map(({ name, mode, data }) => ({ name, mode, data })),
    [
      { name: "app/server.js", mode: 0o644, data: "v2" },
      { name: "app/bin/tool", mode: 0o755, data: "#!/bin/sh\n" },
    ],
  );

  await rt.sync([]);
  assert.equal(k.calls.length, 1, "an empty batch runs nothing");
  await rt.stop();
});

test("restart signals the supervisor (PID 1) with HUP; exec runs /bin/sh -c in the pod", async () => {
  const k = fakeKubectl((args) =>
    args.includes("/bin/sh") && args.includes("npm ci") ? { code: 1, stdout: "out\n", stderr: "err\n" } : {},
  );
  const rt = kubernetesRuntime({ selector: "app=web", container: "web", runner: k.runner });
  await rt.start({ target: "web", argv: [], env: {}, onLog: () => {} });
  k.calls.length = 0;
  const gen = rt.exited();
  await rt.restart();
  assert.deepEqual(await gen, { code: null, signal: "SIGTERM" });
  assert.notEqual(rt.exited(), gen, "a new generation after a restart");
  const r = await rt.exec("npm ci");
  assert.deepEqual(r, { code: 1, output: "out\nerr\n" });
  assert.deepEqual(
    k.calls.map((c) => c.args),
    [
      ["exec", "web-new", "-c", "web", "--", "/tug/supervisor", "signal", "HUP"],
      ["exec", "web-new", "-c", "web", "--", "/bin/sh", "-c", "npm ci"],
    ],
  );
  await rt.stop();
});

test("failures name the step and carry kubectl's stderr; stop can delete what start applied", async () => {
  const k = fakeKubectl((args) =>
    args[0] === "exec" && args[1] === "-i" ? { code: 1, stderr: "error: unable to upgrade connection" } : {},
  );
  const rt = kubernetesRuntime({
    selector: "app=web",
    manifests: [MANIFEST],
    deleteOnStop: true,
    runner: k.runner,
  });
  await rt.start({ target: "web", argv: [], env: {}, onLog: () => {} });
  await assert.rejects(
    rt.sync([{ path: "/app/a", kind: "write", data: Buffer.from("a") }]),
    (e: Error & { hint?: string }) => {
      assert.match(e.message, /syncing 1 file change\(s\) into pod web-new failed/);
      assert.match(e.hint ?? "", /unable to upgrade connection/);
      return true;
    },
  );
  k.calls.length = 0;
  await rt.stop();
  await rt.stop();
  assert.deepEqual(
    k.calls.map((c) => c.args),
    [["delete", "--ignore-not-found", "--wait=false", "-f", "-"]],
  );
  assert.equal(k.calls[0]?.stdin?.toString(), MANIFEST);
  assert.equal(rt.id(), undefined);
});

test("no ready pod is an error a user can act on", async () => {
  const k = fakeKubectl((args) => (args.includes("get") ? { stdout: JSON.stringify({ items: [] }) } : {}));
  const rt = kubernetesRuntime({ selector: "app=nope", runner: k.runner });
  await assert.rejects(
    rt.start({ target: "web", argv: [], env: {}, onLog: () => {} }),
    /no running, ready pod matches app=nope/,
  );
});

test("pickPod and workloadsOf", () => {
  assert.equal(pickPod(PODS), "web-new");
  assert.equal(pickPod(PODS, "sidecar"), undefined);
  assert.deepEqual(workloadsOf([MANIFEST, "kind: StatefulSet\nmetadata:\n  name: db\n"]), [
    "deployment/web",
    "statefulset/db",
  ]);
});
