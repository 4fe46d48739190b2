// Proves the test-support helpers against the real tools, so a failure elsewhere means tug.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { makeBusyboxBase, makeImage, makeNodeBase } from "./bases.ts";
import { tempDir } from "./tmp.ts";
import {
  freePort,
  goBuildStatic,
  listTree,
  podmanRun,
  podmanRunDetached,
  podmanStore,
  skopeoCopy,
  skopeoInspectConfig,
  skopeoInspectRaw,
  umociUnpack,
  waitForHttp,
} from "./tools.ts";

test("busybox base: skopeo reads it, umoci unpacks it, podman runs it", async (t) => {
  const dir = await tempDir(t);
  const base = await makeBusyboxBase(join(dir, "busybox"));

  const manifest = await skopeoInspectRaw(base.ref);
  assert.equal(manifest.schemaVersion, 2);
  assert.equal(manifest.layers?.length, 1);
  const config = await skopeoInspectConfig(base.ref);
  assert.deepEqual(config.config?.Cmd, ["sh"]);
  assert.equal(config.architecture, "amd64");

  const rootfs = await umociUnpack(base.layout, base.tag, join(dir, "bundle"));
  const tree = await listTree(rootfs);
  assert.ok(tree.includes("/bin/busybox"), tree.join("\n"));
  assert.ok(tree.includes("/bin/sh -> busybox"));
  assert.ok(tree.includes("/bin/httpd -> busybox"));

  const r = await podmanRun(base.ref, ["/bin/echo", "hi"]);
  assert.deepEqual(r, { stdout: "hi\n", stderr: "", code: 0 });

  const failing = await podmanRun(base.ref, ["sh", "-c", "echo oops >&2; exit 3"]);
  assert.equal(failing.code, 3);
  assert.equal(failing.stderr, "oops\n");
});

test("cached bases are reused and handed out as independent layouts", async (t) => {
  const dir = await tempDir(t);
  const a = await makeBusyboxBase(join(dir, "a"));
  const b = await makeBusyboxBase(join(dir, "b"));
  assert.notEqual(a.layout, b.layout);
  assert.deepEqual(await skopeoInspectRaw(a.ref), await skopeoInspectRaw(b.ref));
});

test("archives and a registry: skopeo copies, podman runs each transport", async (t) => {
  const dir = await tempDir(t);
  const base = await makeBusyboxBase();
  const store = await podmanStore(t);

  await skopeoCopy(base.ref, `oci-archive:${join(dir, "bb.oci.tar")}:latest`);
  await skopeoCopy(base.ref, `docker-archive:${join(dir, "bb.docker.tar")}:bb:latest`);
  for (const ref of [
    `oci-archive:${join(dir, "bb.oci.tar")}:latest`,
    `docker-archive:${join(dir, "bb.docker.tar")}`,
  ]) {
    const r = await podmanRun(ref, ["echo", ref.split(":")[0]!], { store });
    assert.equal(r.stdout, `${ref.split(":")[0]}\n`);
  }

  const port = await freePort();
  await writeFile(
    join(dir, "registry.yml"),
    `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "registry")}\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  const registry = spawn("docker-registry", ["serve", join(dir, "registry.yml")], { stdio: "ignore" });
  t.after(() => {
    registry.kill();
  });
  await waitForHttp(`http://127.0.0.1:${port}/v2/`);
  const ref = `docker://127.0.0.1:${port}/support/busybox:1`;
  await skopeoCopy(base.ref, ref);
  const manifest = await skopeoInspectRaw(ref);
  assert.deepEqual(manifest.layers, (await skopeoInspectRaw(base.ref)).layers);
  const r = await podmanRun(ref, ["echo", "from registry"], { store });
  assert.equal(r.stdout, "from registry\n");
});

test("node base runs the host's node", async () => {
  const base = await makeNodeBase();
  const config = await skopeoInspectConfig(base.ref);
  assert.equal(config.config?.Entrypoint ?? null, null);
  const r = await podmanRun(base.ref, ["node", "-e", "console.log(6 * 7, process.version)"]);
  assert.equal(r.stderr, "");
  assert.equal(r.stdout, `42 ${process.version}\n`);
});

test("a static Go binary runs FROM scratch", async (t) => {
  const dir = await tempDir(t);
  await writeFile(
    join(dir, "main.go"),
    'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from go") }\n',
  );
  const bin = await goBuildStatic(dir, join(dir, "hello"));
  const image = await makeImage(join(dir, "layout"), "v1", {
    files: [{ from: bin, to: "/hello", mode: 0o755 }],
    config: { entrypoint: ["/hello"] },
  });
  const tree = await listTree(await umociUnpack(image.layout, image.tag, join(dir, "bundle")));
  assert.deepEqual(tree, ["/hello"]);
  const r = await podmanRun(image.ref, []);
  assert.deepEqual(r, { stdout: "hello from go\n", stderr: "", code: 0 });
});

test("makeImage adds a layer on top of a base", async (t) => {
  const dir = await tempDir(t);
  const image = await makeImage(join(dir, "site"), "v2", {
    from: await makeBusyboxBase(),
    contents: [{ to: "/srv/www/index.html", data: "site\n" }],
    config: { cmd: ["cat", "/srv/www/index.html"] },
  });
  assert.equal((await skopeoInspectRaw(image.ref)).layers?.length, 2);
  const r = await podmanRun(image.ref, []);
  assert.equal(r.stdout, "site\n");
});

test("busybox httpd answers on a published port and through exec", async (t) => {
  const base = await makeBusyboxBase();
  const c = await podmanRunDetached(
    t,
    base.ref,
    ["sh", "-c", "echo served > /srv/www/index.html && exec httpd -f -p 8080 -h /srv/www"],
    { publish: [8080] },
  );
  assert.match(c.id, /^[0-9a-f]{64}$/);
  const res = await waitForHttp(`http://127.0.0.1:${c.ports[8080]}/`);
  assert.deepEqual(res, { status: 200, body: "served\n" });
  const inside = await c.exec(["wget", "-qO-", "http://127.0.0.1:8080/"]);
  assert.equal(inside.stdout, "served\n");
  await c.stop();
  await c.stop();
});
