import assert from "node:assert/strict";
import { test } from "node:test";
import {
  fileTableOfEntries,
  findExecutable,
  type LayerFileTable,
  mergeFileTables,
  readLayerFileTable,
  resolveInImage,
} from "../../src/oci/file-table.ts";
import { tarStream } from "../../src/oci/tar.ts";
import { readAll } from "../../src/util/read-all.ts";
import { layerFromTar, layerOf } from "../support/memory-image.ts";

const table = (t: Partial<LayerFileTable>): LayerFileTable => ({
  files: {},
  symlinks: {},
  hardlinks: {},
  dirs: [],
  whiteouts: [],
  opaque: [],
  ...t,
});

test("resolves through PATH, file and directory symlinks (merged /usr), relative and absolute", () => {
  const fs = mergeFileTables([
    table({
      dirs: ["/usr", "/usr/bin"],
      files: { "/usr/bin/busybox": 0o755, "/usr/lib/data": 0o644 },
      symlinks: { "/bin": "usr/bin", "/usr/bin/sh": "busybox", "/usr/local/bin/node": "/opt/node/bin/node" },
    }),
    table({ files: { "/opt/node/bin/node": 0o755 } }),
  ]);
  assert.deepEqual(resolveInImage(fs, "/bin/sh"), { found: "/usr/bin/busybox" });
  assert.deepEqual(findExecutable(fs, "node", { path: undefined, workdir: undefined }).resolution, {
    found: "/opt/node/bin/node",
  });
  assert.deepEqual(findExecutable(fs, "sh", { path: "/nowhere:/bin", workdir: undefined }).resolution, {
    found: "/usr/bin/busybox",
  });
  assert.deepEqual(findExecutable(fs, "../usr/bin/sh", { path: undefined, workdir: "/opt" }).resolution, {
    found: "/usr/bin/busybox",
  });
  assert.deepEqual(resolveInImage(fs, "/usr/lib/data"), { missing: "not-executable", path: "/usr/lib/data" });
  assert.deepEqual(resolveInImage(fs, "/usr/bin"), { missing: "directory", path: "/usr/bin" });
  assert.deepEqual(findExecutable(fs, "python3", { path: undefined, workdir: undefined }).resolution, {
    missing: "not-found",
    path: "python3",
  });
});

test("whiteouts and opaque directories hide lower layers; loops are reported", () => {
  const fs = mergeFileTables([
    table({ files: { "/app/run": 0o755, "/opt/x/tool": 0o755, "/opt/x/keep": 0o755 } }),
    table({ whiteouts: ["/app/run"], opaque: ["/opt/x"], files: { "/opt/x/new": 0o755 } }),
    table({ symlinks: { "/loop/a": "b", "/loop/b": "a" }, hardlinks: { "/opt/x/linked": "/opt/x/new" } }),
  ]);
  assert.deepEqual(resolveInImage(fs, "/app/run"), { missing: "not-found", path: "/app/run" });
  assert.deepEqual(resolveInImage(fs, "/opt/x/tool"), { missing: "not-found", path: "/opt/x/tool" });
  assert.deepEqual(resolveInImage(fs, "/opt/x/new"), { found: "/opt/x/new" });
  assert.deepEqual(resolveInImage(fs, "/opt/x/linked"), { found: "/opt/x/linked" });
  assert.deepEqual(resolveInImage(fs, "/loop/a"), { missing: "symlink-loop", path: "/loop/a" });
});

test("lists a real layer's tar headers: files with modes, symlinks", async () => {
  const layer = await layerOf({ "app/run": "#!/bin/sh\n", "etc/conf": "x" });
  const t = await readLayerFileTable(layer, "test");
  assert.equal(typeof t.files["/app/run"], "number");
  assert.ok("/etc/conf" in t.files);
});

test("the table of a layer tug writes equals the table read back from its tar", async () => {
  const entries = [
    { path: "app/site-packages/pkg/__init__.py", type: "file" as const, mode: 0o600, data: Buffer.from("x") },
    { path: "app/bin/tool", type: "file" as const, mode: 0o700, data: Buffer.from("#!/bin/sh\n") },
    { path: "usr/bin/python", type: "symlink" as const, mode: 0o777, linkname: "python3" },
    { path: "etc/empty", type: "dir" as const, mode: 0o700 },
    { path: "opt/x/.wh..wh..opq", type: "file" as const, mode: 0o644, data: Buffer.alloc(0) },
    { path: "opt/.wh.old", type: "file" as const, mode: 0o644, data: Buffer.alloc(0) },
  ];
  const bytes = await readAll(tarStream(entries));
  const read = await readLayerFileTable(layerFromTar(bytes), "test");
  assert.deepEqual(fileTableOfEntries(entries), read);
  assert.equal(read.files["/app/bin/tool"], 0o755);
  assert.equal(read.symlinks["/usr/bin/python"], "python3");
});
