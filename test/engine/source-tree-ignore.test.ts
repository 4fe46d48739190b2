// Context scans through ignore files, on a real directory tree (and a real git repository above it).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { DEFAULT_IGNORE } from "../../src/engine/ignore-rules.ts";
import { scanTree } from "../../src/engine/source-tree.ts";
import { tempDir } from "../support/tmp.ts";

async function write(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await fs.mkdir(dirname(join(root, path)), { recursive: true });
    await fs.writeFile(join(root, path), text);
  }
}

const paths = async (root: string, ignoreFiles = DEFAULT_IGNORE) =>
  (await scanTree(root, { ignoreFiles })).files.map((f) => f.path);

test("a context scan leaves out what .dockerignore, nested .gitignore and .tugignore exclude", async (t) => {
  const root = await tempDir(t, "tug-ignore-scan-");
  await write(root, {
    ".dockerignore": "**/*.log\n.env\nsecrets\n!secrets/public.txt\n",
    ".tugignore": "*.bak\n",
    "index.html": "hi",
    ".env": "TOKEN=1",
    "debug.log": "x",
    "logs/app/run.log": "x",
    "secrets/key.pem": "k",
    "secrets/deep/more.pem": "k",
    "secrets/public.txt": "p",
    "sub/.gitignore": "*.tmp\n!keep.tmp\n",
    "sub/a.tmp": "a",
    "sub/keep.tmp": "k",
    "sub/old.bak": "b",
  });
  assert.deepEqual(await paths(root), [
    ".dockerignore",
    ".tugignore",
    "index.html",
    "logs",
    "logs/app",
    "secrets",
    "secrets/public.txt",
    "sub",
    "sub/.gitignore",
    "sub/keep.tmp",
  ]);
  assert.deepEqual(await paths(root, { git: false, patterns: ["index.html"] }), [
    ".dockerignore",
    ".tugignore",
    "logs",
    "logs/app",
    "secrets",
    "secrets/public.txt",
    "sub",
    "sub/.gitignore",
    "sub/a.tmp",
    "sub/keep.tmp",
  ]);
});

test("an excluded path is never read: a symlink out of the context there is not an error", async (t) => {
  const root = await tempDir(t, "tug-ignore-link-");
  await write(root, { ".dockerignore": "vendor\n", "a.txt": "a", "vendor/x": "x" });
  await fs.symlink("/etc/passwd", join(root, "vendor", "passwd"));
  await fs.symlink("/etc/hostname", join(root, "out-link"));
  await assert.rejects(scanTree(root, { ignoreFiles: DEFAULT_IGNORE }), /out-link points outside/);
  await fs.appendFile(join(root, ".dockerignore"), "out-link\n");
  assert.deepEqual(await paths(root), [".dockerignore", "a.txt"]);
});

test("editing an excluded file leaves the tree digest alone; editing the ignore file does not", async (t) => {
  const root = await tempDir(t, "tug-ignore-digest-");
  await write(root, { ".dockerignore": ".env\n", "app.js": "1", ".env": "A=1" });
  const first = await scanTree(root, { ignoreFiles: DEFAULT_IGNORE });
  await fs.writeFile(join(root, ".env"), "A=2 and longer");
  assert.equal((await scanTree(root, { ignoreFiles: DEFAULT_IGNORE })).digest, first.digest);
  await fs.writeFile(join(root, ".dockerignore"), "");
  const after = await scanTree(root, { ignoreFiles: DEFAULT_IGNORE });
  assert.notEqual(after.digest, first.digest);
  assert.ok(
    after.files.some((f) => f.path === ".env"),
    "the new rules are read, not a cached copy",
  );
});

test("inside a git repository, the .gitignore files above the context apply; outside, only its own", async (t) => {
  const repo = await tempDir(t, "tug-ignore-repo-");
  await promisify(execFile)("git", ["init", "-q", repo]);
  await write(repo, {
    ".gitignore": "node_modules/\n.env\n/services/web/coverage/\n",
    "services/.gitignore": "*.local\n",
    "services/web/app.js": "1",
    "services/web/.env": "x",
    "services/web/conf.local": "x",
    "services/web/coverage/index.html": "x",
    "services/web/node_modules/a/index.js": "x",
  });
  const web = join(repo, "services", "web");
  assert.deepEqual(await paths(web), ["app.js"]);
  assert.deepEqual((await paths(web, { git: false, patterns: [] })).length, 8);
  await fs.rm(join(repo, ".git"), { recursive: true });
  assert.deepEqual((await paths(web)).length, 8, "no repository: nothing above the context is read");
});

test("scans without ignoreFiles (dependency trees, command outputs) are unchanged", async (t) => {
  const root = await tempDir(t, "tug-ignore-plain-");
  await write(root, { ".gitignore": "*\n", ".dockerignore": "*\n", "index.js": "1" });
  assert.deepEqual(
    (await scanTree(root)).files.map((f) => f.path),
    [".dockerignore", ".gitignore", "index.js"],
  );
});
