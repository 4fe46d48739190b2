// `tug dev --runtime kube-play`: the target's Pod YAML, resolved to the dev image, played by a
// real `podman kube play` in a private store; edits reach the same container, a compile error
// keeps the old version serving, a fall_back_on change re-plays it, SIGINT takes the pod down.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { KEEP_DEV_IMAGES } from "../../src/dev/podman-image.ts";
import type { UpdateReport } from "../../src/dev/report.ts";
import { makeNodeBase } from "../support/bases.ts";
import { httpText, until } from "../support/http.ts";
import { tempDir } from "../support/tmp.ts";
import { freePort, podmanStore, runTool } from "../support/tools.ts";

const DEMO = fileURLToPath(new URL("../../examples/demo/", import.meta.url));

test("kube-play runtime: edit → new response, compile error keeps serving, fallback re-plays, SIGINT leaves no pod", async (t) => {
  const store = await podmanStore(t);
  const podman = (...args: string[]) => runTool("podman", [...store.args, ...args], { env: store.env });
  const base = await makeNodeBase();
  const port = await freePort();
  const pod = `tugkp-${randomBytes(4).toString("hex")}`;
  const dir = await tempDir(t, "tug-devkp-");
  await fs.cp(join(DEMO, "web"), join(dir, "web"), { recursive: true });
  await fs.writeFile(join(dir, "web", "settings.txt"), "one\n");
  await fs.writeFile(
    join(dir, "pod.yaml"),
    `apiVersion: v1
kind: Pod
metadata:
  name: ${pod}
  labels: { app: web }
spec:
  containers:
    - name: web
      image: tug://web
      ports:
        - containerPort: ${port}
`,
  );
  await fs.writeFile(
    join(dir, "tug.yaml"),
    `images:
  web:
    builder: node
    context: ./web
    entry: src/server.ts
    base: oci-layout:${base.layout}:${base.tag}
    env: { PORT: "${port}" }
    dev:
      port: ${port}
      manifests: [pod.yaml]
      live_update:
        - fall_back_on: [settings.txt]
`,
  );
  const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
  const tsx = fileURLToPath(import.meta.resolve("tsx"));
  const child = spawn(process.execPath, ["--import", tsx, main, "dev", "--runtime", "kube-play", "--json"], {
    cwd: dir,
    env: {
      ...store.env,
      TUG_CACHE: await tempDir(t, "tug-cache-"),
      TUG_PODMAN_ARGS: store.args.join(" "),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    stderr += b;
  });
  const reports: UpdateReport[] = [];
  createInterface({ input: child.stdout }).on("line", (l) => reports.push(JSON.parse(l) as UpdateReport));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const report = (what: string, f: (r: UpdateReport) => boolean, from = 0) =>
    until(what, () => reports.slice(from).find(f), 300_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${stderr}`);
    });
  const served = async (text: string) => {
    let last = "";
    await until(`"${text.trim()}" served`, () => {
      void httpText(port).then(
        (s) => {
          last = s;
        },
        () => {},
      );
      return last === text;
    });
  };
  try {
    const start = await report("the start", () => true);
    assert.ok(start.ok, `${start.error}\n${stderr}`);
    assert.equal(await httpText(port), "hello from web\n");
    const pods = await podman("pod", "ps", "--format", "{{.Name}}");
    assert.deepEqual(pods.stdout.trim().split("\n"), [pod], "the manifest's pod runs");
    const inspect = await podman("inspect", "--format", "{{.Pod}} {{.State.Running}}", start.id!);
    assert.match(
      inspect.stdout.trim(),
      /^[0-9a-f]{64} true$/,
      "the reported id is the pod's running container",
    );

    // An edit: a live update into the same container.
    await fs.writeFile(
      join(dir, "web/src/greeting.ts"),
      'export function greeting(): string {\n  return "live in a pod";\n}\n',
    );
    const live = await report("the live update", (r) => r.action === "live-update");
    assert.ok(live.ok, live.error);
    assert.equal(live.id, start.id, "same container: not re-played");
    await served("live in a pod\n");

    // A compile error: reported, and the last good version keeps serving.
    let n = reports.length;
    await fs.writeFile(join(dir, "web/src/greeting.ts"), "export function greeting( {\n");
    const broken = await report("the failed update", () => true, n);
    assert.equal(broken.ok, false);
    assert.equal(await httpText(port), "live in a pod\n");

    // fall_back_on: rebuilt and re-played (kube play --replace), three times; dev images pruned.
    await fs.writeFile(
      join(dir, "web/src/greeting.ts"),
      'export function greeting(): string {\n  return "replayed";\n}\n',
    );
    await report("the fixed update", (r) => r.ok, n);
    for (const v of ["two", "three", "four"]) {
      n = reports.length;
      await fs.writeFile(join(dir, "web", "settings.txt"), `${v}\n`);
      const rebuilt = await report(`rebuild ${v}`, (r) => r.action === "rebuild", n);
      assert.ok(rebuilt.ok, rebuilt.error);
    }
    await served("replayed\n");
    const names = (await podman("images", "--format", "{{.Repository}}")).stdout
      .split("\n")
      .filter((r) => /\/tug-dev-web-/.test(r));
    assert.equal(names.length, KEEP_DEV_IMAGES, `dev images kept: ${names.join(", ")}`);
    const after = await podman("pod", "ps", "--format", "{{.Name}}");
    assert.deepEqual(after.stdout.trim().split("\n"), [pod], "re-played in place: one pod");

    child.kill("SIGINT");
    assert.equal(await exited, 0, stderr);
    assert.equal((await podman("pod", "ps", "-q")).stdout.trim(), "", "no pod left");
    assert.equal((await podman("ps", "-aq")).stdout.trim(), "", "no container left");
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await runTool("podman", [...store.args, "pod", "rm", "--all", "--force"], {
      env: store.env,
      allowFailure: true,
    });
  }
});
