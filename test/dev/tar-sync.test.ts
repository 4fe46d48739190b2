import assert from "node:assert/strict";
import { createWriteStream } from "node:fs";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { test } from "node:test";
import type { FileChange } from "../../src/dev/runtime.ts";
import { deleteArgs, extractCommand, syncFrame, syncTar } from "../../src/dev/tar-sync.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";
import { readTar } from "./read-tar.ts";

test("syncTar streams the writes relative to /, with modes kept and no parent directories", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "server.js"), "console.log(1)\n");
  await writeFile(join(dir, "run.sh"), "#!/bin/sh\n");
  await chmod(join(dir, "run.sh"), 0o755);
  await writeFile(join(dir, "key"), "k");
  const changes: FileChange[] = [
    { path: "/app/src/server.js", kind: "write", source: join(dir, "server.js") },
    { path: "/app/bin/run.sh", kind: "write", source: join(dir, "run.sh") },
    { path: "/app/key", kind: "write", source: join(dir, "key"), mode: 0o600 },
    { path: "/app/inline.txt", kind: "write", data: new TextEncoder().encode("hi") },
    { path: "/app/old.js", kind: "delete" },
  ];
  const items = await readTar(syncTar(changes));
  assert.deepEqual(items, [
    { name: "app/src/server.js", type: "file", mode: 0o644, data: "console.log(1)\n" },
    { name: "app/bin/run.sh", type: "file", mode: 0o755, data: "#!/bin/sh\n" },
    { name: "app/key", type: "file", mode: 0o600, data: "k" },
    { name: "app/inline.txt", type: "file", mode: 0o644, data: "hi" },
  ]);

  // GNU tar, an independent reader (the stream is written with tar-stream, readTar uses it too).
  const tarFile = join(dir, "sync.tar");
  await pipeline(syncTar(changes), createWriteStream(tarFile));
  const listing = (await runTool("tar", ["--numeric-owner", "-tvf", tarFile])).stdout.trim().split("\n");
  assert.deepEqual(
    listing.map((l) => {
      const f = l.split(/\s+/);
      return `${f[0]} ${f[1]} ${f[2]} ${f.at(-1)}`;
    }),
    [
      "-rw-r--r-- 0/0 15 app/src/server.js",
      "-rwxr-xr-x 0/0 10 app/bin/run.sh",
      "-rw------- 0/0 1 app/key",
      "-rw-r--r-- 0/0 2 app/inline.txt",
    ],
  );
  const out = join(dir, "x");
  await mkdir(out);
  await runTool("tar", ["-xpf", tarFile, "-C", out, "--no-same-owner"]);
  assert.equal(await readFile(join(out, "app/src/server.js"), "utf8"), "console.log(1)\n");
  assert.equal((await stat(join(out, "app/bin/run.sh"))).mode & 0o777, 0o755);
  assert.equal((await stat(join(out, "app/key"))).mode & 0o777, 0o600);
});

test("a source deleted before the sync is left out (its deletion comes in the next batch)", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "a"), "a");
  const items = await readTar(
    syncTar([
      { path: "/x/gone", kind: "write", source: join(dir, "missing") },
      { path: "/x/a", kind: "write", source: join(dir, "a") },
    ]),
  );
  assert.deepEqual(
    items.map((i) => i.name),
    ["x/a"],
  );
});

test("deleteArgs and extractCommand", () => {
  const changes: FileChange[] = [
    { path: "/app/a.js", kind: "delete" },
    { path: "/app/b.js", kind: "write", data: new Uint8Array() },
    { path: "/app//dir/./c.js", kind: "delete" },
  ];
  assert.deepEqual(deleteArgs(changes), ["--delete", "/app/a.js", "--delete", "/app/dir/c.js"]);
  assert.deepEqual(extractCommand("/tug/supervisor", changes), [
    "/tug/supervisor",
    "extract",
    "/",
    "--delete",
    "/app/a.js",
    "--delete",
    "/app/dir/c.js",
  ]);
});

test("syncFrame: SYNC <tarBytes> <nDeletes>, the deleted paths a line each, then exactly the tar", async () => {
  const frame = await syncFrame([
    { path: "/app/a.js", kind: "write", data: Buffer.from("a") },
    { path: "/app/old.js", kind: "delete" },
    { path: "/app/dir/", kind: "delete" },
  ]);
  assert.ok(frame);
  const m = /^SYNC (\d+) 2\n\/app\/old\.js\n\/app\/dir\n/.exec(frame.toString("latin1"));
  assert.ok(m, frame.subarray(0, 64).toString());
  const tarBytes = frame.subarray(m[0].length);
  assert.equal(tarBytes.length, Number(m[1]), "the length given is the length sent");
  assert.deepEqual(await readTar(Readable.from([tarBytes])), [
    { name: "app/a.js", type: "file", mode: 0o644, data: "a" },
  ]);
  // A newline in a deleted path cannot be framed by lines: the caller uses extractCommand.
  assert.equal(await syncFrame([{ path: "/app/odd\nname", kind: "delete" }]), undefined);
});

test("paths that are relative, contain .., or name the root are refused", () => {
  assert.throws(() => syncTar([{ path: "app/a", kind: "write", data: new Uint8Array() }]), /not absolute/);
  assert.throws(
    () => syncTar([{ path: "/app/../../etc/passwd", kind: "write", data: new Uint8Array() }]),
    /\.\./,
  );
  assert.throws(() => deleteArgs([{ path: "/", kind: "delete" }]), /root/);
});
