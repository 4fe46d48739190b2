import assert from "node:assert/strict";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { scanTree } from "../../src/engine/source-tree.ts";
import { TugError } from "../../src/errors.ts";
import { checkNativeBinaries, packageOf } from "../../src/node/native-binaries.ts";
import { tempDir } from "../support/tmp.ts";

const amd64 = { os: "linux", architecture: "amd64" };
const arm64 = { os: "linux", architecture: "arm64" };

/** An ELF header claiming `machine`, as a compiler for that machine would start the file. */
function elf(machine: number): Buffer {
  const b = Buffer.alloc(64);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  b.writeUInt16LE(machine, 18);
  return b;
}

async function nodeModules(dir: string, files: Record<string, Buffer | string>): Promise<string> {
  const root = join(dir, "node_modules");
  for (const [p, data] of Object.entries(files)) {
    await mkdir(dirname(join(root, p)), { recursive: true });
    await writeFile(join(root, p), data);
  }
  return root;
}

async function check(root: string, platform = arm64) {
  const tree = await scanTree(root);
  return checkNativeBinaries({ files: tree.files, platform, where: "images.api" });
}

test("packageOf finds the installed package of a path, scoped and nested", () => {
  assert.equal(packageOf("a/lib/x.js"), "a");
  assert.equal(packageOf("@s/b/build/Release/b.node"), "@s/b");
  assert.equal(packageOf("a/node_modules/@s/b/x.node"), "a/node_modules/@s/b");
  assert.equal(packageOf("a"), undefined);
  assert.equal(packageOf(".bin/x"), undefined);
  assert.equal(packageOf("@s/x"), undefined);
});

test("a package compiled for the host only fails for arm64, naming package and platform", async (t) => {
  const dir = await tempDir(t);
  const root = await nodeModules(dir, {
    "better-sqlite3/package.json": "{}",
    "better-sqlite3/binding.gyp": "{}",
    "pure/index.js": "",
  });
  // A real host binary stands for the addon node-gyp compiled at install time.
  await mkdir(join(root, "better-sqlite3/build/Release"), { recursive: true });
  await copyFile("/bin/true", join(root, "better-sqlite3/build/Release/better_sqlite3.node"));
  await check(root, process.arch === "arm64" ? arm64 : amd64);
  await assert.rejects(check(root, process.arch === "arm64" ? amd64 : arm64), (e: unknown) => {
    assert.ok(e instanceof TugError);
    assert.match(e.message, /native package better-sqlite3 has no binary for linux\/(arm64|amd64)/);
    assert.match(e.message, /its \.node files are for (amd64|arm64)/);
    assert.match(e.hint ?? "", /prebuilt binaries|drop linux/);
    assert.equal(e.where, "images.api");
    return true;
  });
});

test("binding.gyp without any binary fails; prebuilds for several machines pass", async (t) => {
  const dir = await tempDir(t);
  const bare = await nodeModules(join(dir, "bare"), {
    "sqlite3/binding.gyp": "{}",
    "sqlite3/lib/sqlite3.js": "",
  });
  await assert.rejects(
    check(bare),
    /native package sqlite3 has no binary for linux\/arm64 \(it has no \.node file/,
  );
  const multi = await nodeModules(join(dir, "multi"), {
    "@s/fast/prebuilds/linux-x64/fast.node": elf(62),
    "@s/fast/prebuilds/linux-arm64/fast.node": elf(183),
    "@s/fast/prebuilds/darwin-arm64/fast.node": Buffer.from("cffaedfe0c000001", "hex"),
  });
  await check(multi, arm64);
  await check(multi, amd64);
  const macOnly = await nodeModules(join(dir, "mac"), {
    "a/node_modules/fsx/x.node": Buffer.from("cffaedfe0c000001", "hex"),
  });
  await assert.rejects(
    check(macOnly),
    /native package fsx has no binary .*none of its \.node files is a Linux/,
  );
});
