import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, readFile, symlink, truncate, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { isTugError } from "../../src/errors.ts";
import { buildLayer } from "../../src/oci/build-layer.ts";
import { type LayerEntry, planEntries, tarEntriesFromDir, tarStream } from "../../src/oci/tar.ts";
import { tempDir } from "../support/tmp.ts";

const exec = promisify(execFile);
const SRC = resolve(fileURLToPath(import.meta.url), "../../../src");

async function collect(entries: LayerEntry[], mtime?: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      cb();
    },
  });
  await pipeline(tarStream(entries, mtime === undefined ? {} : { mtime }), sink);
  return Buffer.concat(parts);
}

/** `tar -tv` lines of a tar file, in UTC so the listing itself does not depend on the host. */
async function tarList(file: string, extra: string[] = []): Promise<string[]> {
  const { stdout } = await exec("tar", ["--numeric-owner", "--full-time", ...extra, "-tvf", file], {
    env: { ...process.env, TZ: "UTC" },
    maxBuffer: 1 << 24,
  });
  return stdout.trim().split("\n");
}

// Builds the same tree in a fresh process: a different TZ, umask, creation order and host mtimes
// must not change a byte of the layer.
const CHILD = `
import { mkdir, symlink, utimes, writeFile, chmod } from "node:fs/promises";
import { join } from "node:path";
import { buildLayer } from ${JSON.stringify(join(SRC, "oci/build-layer.ts"))};
import { tarEntriesFromDir } from ${JSON.stringify(join(SRC, "oci/tar.ts"))};
const [dir, out, order, mtime] = process.argv.slice(2);
const steps = [
  async () => { await mkdir(join(dir, "a/b"), { recursive: true }); await writeFile(join(dir, "a/b/c.txt"), "hello\\n"); },
  async () => { await writeFile(join(dir, "run.sh"), "#!/bin/sh\\necho hi\\n", { mode: 0o777 }); },
  async () => { await mkdir(join(dir, "empty")); },
  async () => { await mkdir(join(dir, "a/b"), { recursive: true }); await symlink("b/c.txt", join(dir, "a/link")); },
  async () => { await mkdir(join(dir, "zz"), { recursive: true }); await writeFile(join(dir, "zz/data.bin"), Buffer.alloc(300000, 7)); },
];
if (order === "reverse") steps.reverse();
for (const s of steps) await s();
for (const p of ["a/b/c.txt", "run.sh", "zz/data.bin", "empty", "a", "a/b", "zz"]) {
  await utimes(join(dir, p), Number(mtime), Number(mtime));
}
const entries = await tarEntriesFromDir(dir, "app");
const res = await buildLayer({ entries, compression: { kind: "gzip", level: 1 }, outFile: out });
process.stdout.write(JSON.stringify(res));
`;

test("same tree under different TZ, umask, mtimes and creation order gives identical layers", async (t) => {
  const dir = await tempDir(t);
  const script = join(dir, "child.mts");
  await writeFile(script, CHILD);
  const run = async (
    name: string,
    env: Record<string, string>,
    umask: string,
    order: string,
    mtime: number,
  ) => {
    const tree = join(dir, `tree-${name}`);
    await mkdir(tree);
    const out = join(dir, `${name}.tgz`);
    const { stdout } = await exec(
      "sh",
      [
        "-c",
        `umask ${umask} && exec "$0" --import tsx "$@"`,
        process.execPath,
        script,
        tree,
        out,
        order,
        String(mtime),
      ],
      { env: { ...process.env, ...env }, cwd: resolve(SRC, "..") },
    );
    return { res: JSON.parse(stdout) as { diffId: string; digest: string; size: number }, out };
  };
  const a = await run("a", { TZ: "UTC" }, "022", "forward", 1_000_000_000);
  const b = await run("b", { TZ: "Pacific/Kiritimati" }, "077", "reverse", 1_700_000_000);
  assert.equal(a.res.diffId, b.res.diffId);
  assert.equal(a.res.digest, b.res.digest);
  assert.equal(a.res.size, b.res.size);

  const list = await tarList(a.out, ["-z"]);
  assert.deepEqual(
    list.map((l) => l.split(/\s+/).filter((_, i) => i !== 2)),
    [
      ["drwxr-xr-x", "0/0", "1970-01-01", "00:00:00", "app/"],
      ["drwxr-xr-x", "0/0", "1970-01-01", "00:00:00", "app/a/"],
      ["drwxr-xr-x", "0/0", "1970-01-01", "00:00:00", "app/a/b/"],
      ["-rw-r--r--", "0/0", "1970-01-01", "00:00:00", "app/a/b/c.txt"],
      ["lrwxrwxrwx", "0/0", "1970-01-01", "00:00:00", "app/a/link", "->", "b/c.txt"],
      ["drwxr-xr-x", "0/0", "1970-01-01", "00:00:00", "app/empty/"],
      ["-rwxr-xr-x", "0/0", "1970-01-01", "00:00:00", "app/run.sh"],
      ["drwxr-xr-x", "0/0", "1970-01-01", "00:00:00", "app/zz/"],
      ["-rw-r--r--", "0/0", "1970-01-01", "00:00:00", "app/zz/data.bin"],
    ],
  );
});

test("caller order does not matter, parents are added and modes are normalised", async () => {
  const entries: LayerEntry[] = [
    { path: "/usr/local/bin/tool", type: "file", mode: 0o700, data: Buffer.from("x") },
    { path: "etc/conf", type: "file", mode: 0o600, data: Buffer.from("y") },
    { path: "./usr", type: "dir", mode: 0o700 },
    { path: "usr/local/bin/alias", type: "symlink", mode: 0o755, linkname: "tool" },
  ];
  const plan = planEntries(entries);
  assert.deepEqual(
    plan.map((e) => e.path),
    ["etc", "etc/conf", "usr", "usr/local", "usr/local/bin", "usr/local/bin/alias", "usr/local/bin/tool"],
  );
  const forward = await collect(entries);
  const backward = await collect([...entries].reverse());
  assert.ok(forward.equals(backward));
});

test("tar lists uid 0, no user names, normalised modes and the epoch", async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, "l.tar");
  await writeFile(
    file,
    await collect([
      { path: "bin/x", type: "file", mode: 0o744, data: Buffer.from("#!") },
      { path: "home", type: "dir", mode: 0o700 },
      { path: "secret", type: "file", mode: 0o600, data: Buffer.from("s") },
    ]),
  );
  const list = await tarList(file);
  assert.deepEqual(
    list.map((l) => l.split(/\s+/).filter((_, i) => i !== 2)),
    [
      ["drwxr-xr-x", "0/0", "1970-01-01", "00:00:00", "bin/"],
      ["-rwxr-xr-x", "0/0", "1970-01-01", "00:00:00", "bin/x"],
      ["drwxr-xr-x", "0/0", "1970-01-01", "00:00:00", "home/"],
      ["-rw-r--r--", "0/0", "1970-01-01", "00:00:00", "secret"],
    ],
  );
  // No uname/gname: without --numeric-owner tar would otherwise print names.
  const named = await exec("tar", ["-tvf", file], { env: { ...process.env, TZ: "UTC" } });
  for (const line of named.stdout.trim().split("\n")) assert.match(line, /^\S+ 0\/0 /);
});

test("SOURCE_DATE_EPOCH sets every mtime", async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, "e.tar");
  const saved = process.env.SOURCE_DATE_EPOCH;
  process.env.SOURCE_DATE_EPOCH = "1700000000";
  t.after(() => {
    if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = saved;
  });
  await writeFile(file, await collect([{ path: "a/b", type: "file", mode: 0o644, data: Buffer.from("1") }]));
  for (const line of await tarList(file)) assert.match(line, / 2023-11-14 22:13:20 /);

  process.env.SOURCE_DATE_EPOCH = "yesterday";
  assert.throws(
    () => tarStream([]),
    (e: unknown) => isTugError(e) && /SOURCE_DATE_EPOCH/.test(e.what),
  );
});

test("long and non-ASCII paths survive (pax)", async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, "long.tar");
  const longName = `${"n".repeat(150)}.txt`; // one component over 100 bytes: ustar prefix cannot help
  const deep = `${Array.from({ length: 12 }, (_, i) => `directory-${i}-${"d".repeat(20)}`).join("/")}/f`;
  const linkTarget = `${"t".repeat(120)}/target`;
  await writeFile(
    file,
    await collect([
      { path: longName, type: "file", mode: 0o644, data: Buffer.from("a") },
      { path: deep, type: "file", mode: 0o644, data: Buffer.from("b") },
      { path: "ünïcødé.txt", type: "file", mode: 0o644, data: Buffer.from("c") },
      { path: "ln", type: "symlink", mode: 0o777, linkname: linkTarget },
    ]),
  );
  assert.ok(deep.length > 255);
  const { stdout } = await exec("tar", ["-tf", file], { maxBuffer: 1 << 24 });
  const names = stdout.trim().split("\n");
  assert.ok(names.includes(longName));
  assert.ok(names.includes(deep));
  assert.ok(names.includes("ünïcødé.txt"));
  const out = join(dir, "x");
  await mkdir(out);
  await exec("tar", ["-xf", file, "-C", out]);
  const { stdout: target } = await exec("readlink", [join(out, "ln")]);
  assert.equal(target.trim(), linkTarget);
});

test("tarEntriesFromDir keeps in-context symlinks and refuses ones that escape", async (t) => {
  const dir = await tempDir(t);
  const ctx = join(dir, "ctx");
  await mkdir(join(ctx, "sub"), { recursive: true });
  await writeFile(join(ctx, "sub/file"), "f");
  await symlink("sub/file", join(ctx, "ok"));
  await symlink("missing-but-inside", join(ctx, "dangling"));
  const entries = await tarEntriesFromDir(ctx, "/srv/app/");
  assert.deepEqual(
    entries.map((e) => [e.path, e.type, e.linkname]),
    [
      ["srv/app", "dir", undefined],
      ["srv/app/dangling", "symlink", "missing-but-inside"],
      ["srv/app/ok", "symlink", "sub/file"],
      ["srv/app/sub", "dir", undefined],
      ["srv/app/sub/file", "file", undefined],
    ],
  );

  const refuses = async (name: string, target: string, setup?: () => Promise<void>) => {
    const c = join(dir, `ctx-${name}`);
    await mkdir(c);
    await setup?.call(null);
    await symlink(target, join(c, name));
    await assert.rejects(tarEntriesFromDir(c, "app"), (e: unknown) => {
      assert.ok(isTugError(e));
      assert.match(e.what, new RegExp(`symlink ${name} points outside the context`));
      assert.ok(e.hint);
      return true;
    });
  };
  await refuses("up", "../outside");
  await refuses("abs", "/etc/passwd");
  // Lexically inside, really outside: "self -> ." then "x -> self/..".
  const c = join(dir, "ctx-via");
  await mkdir(c);
  await symlink(".", join(c, "self"));
  await symlink("self/..", join(c, "x"));
  await assert.rejects(tarEntriesFromDir(c, "app"), /symlink x points outside the context/);
});

test("a file that changes size while it is read fails the build instead of writing a corrupt tar", async (t) => {
  const dir = await tempDir(t);
  const f = join(dir, "f");
  await writeFile(f, Buffer.alloc(3 << 20, 1));
  const out = join(dir, "out.tar");
  const expectChanged = (e: unknown) => {
    assert.ok(isTugError(e), String(e));
    assert.match(e.what, /file changed during build/);
    return true;
  };
  // Grew since it was listed (the recorded size is smaller than the file).
  await assert.rejects(
    buildLayer({
      entries: [{ path: "f", type: "file", mode: 0o644, size: 1 << 20, source: f }],
      compression: { kind: "none" },
      outFile: out,
    }),
    expectChanged,
  );
  // The same for small files, which take the synchronous read path: grown, then shrunk.
  const small = join(dir, "small");
  await writeFile(small, Buffer.alloc(100_000, 2));
  for (const size of [10, 200_000]) {
    await assert.rejects(
      buildLayer({
        entries: [{ path: "s", type: "file", mode: 0o644, size, source: small }],
        compression: { kind: "none" },
        outFile: out,
      }),
      expectChanged,
    );
  }
  // Shrank since it was listed.
  const entries = await tarEntriesFromDir(dir, "");
  await truncate(f, 1000);
  await assert.rejects(readFile(out), /ENOENT/); // no partial blob left behind
  await assert.rejects(
    buildLayer({
      entries: entries.filter((e) => e.path === "f"),
      compression: { kind: "gzip", level: 1 },
      outFile: out,
    }),
    expectChanged,
  );
});

test("conflicting entries are refused", () => {
  assert.throws(
    () =>
      planEntries([
        { path: "a", type: "file", mode: 0o644, data: Buffer.from("") },
        { path: "a", type: "symlink", mode: 0o777, linkname: "b" },
      ]),
    /given twice/,
  );
  assert.throws(
    () =>
      planEntries([
        { path: "a", type: "file", mode: 0o644, data: Buffer.from("") },
        { path: "a/b", type: "file", mode: 0o644, data: Buffer.from("") },
      ]),
    /needs it to be a directory/,
  );
  assert.throws(() => planEntries([{ path: "../x", type: "dir", mode: 0o755 }]), /contains "\.\."/);
});
