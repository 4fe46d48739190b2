// The README's claim that images carry org.opencontainers.image.source/revision when the project
// is a git checkout (read from .git, no git process), with credentials kept out of the image.
// The repositories are made by the real `git`, and what tug wrote is read back by skopeo.
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { runTugJson } from "../support/cli.ts";
import { tempDir } from "../support/tmp.ts";
import { type RawManifest, runTool, skopeoInspectRaw } from "../support/tools.ts";

const SOURCE = "org.opencontainers.image.source";
const REVISION = "org.opencontainers.image.revision";
const SECRET = "s3cr3t-token-0451";

// No global or system git config (the machine's user, hooks or defaults must not matter).
const GIT_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@example.com",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@example.com",
};

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await runTool("git", args, { cwd, env: GIT_ENV })).stdout.trim();
}

/** A git repository holding a `files` target, committed once, with `origin` set to `remote`. */
async function gitProject(t: TestContext, remote: string): Promise<string> {
  const dir = join(await tempDir(t, "tug-git-"), "repo");
  await mkdir(join(dir, "site"), { recursive: true });
  await writeFile(join(dir, "site", "index.html"), "<p>hi</p>\n");
  await writeFile(
    join(dir, "tug.yaml"),
    "images:\n  site:\n    builder: files\n    context: ./site\n    dest: /srv\n",
  );
  await writeFile(join(dir, ".gitignore"), ".tug/\n");
  await git(dir, "init", "-q", "-b", "main");
  await git(dir, "remote", "add", "origin", remote);
  await git(dir, "add", "-A");
  await git(dir, "commit", "-q", "-m", "first");
  return dir;
}

/** Builds into `DIR/.tug/out` and returns the manifest skopeo reads from the OCI layout. */
async function buildAndRead(t: TestContext, dir: string): Promise<RawManifest> {
  const cache = await tempDir(t, "tug-git-cache-");
  await runTugJson(["build"], { cwd: dir, env: { TUG_CACHE: cache, TUG_REPO: undefined } });
  return skopeoInspectRaw(`oci:${join(dir, ".tug", "out", "oci")}:site`);
}

/** Every file under `dir` (blobs, index.json, tarballs) as one string, to look for a secret. */
async function allBytes(dir: string): Promise<string> {
  const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  const parts = await Promise.all(files.map((f) => readFile(join(f.parentPath, f.name), "latin1")));
  return parts.join("\n");
}

test("git annotations: revision is HEAD's commit, source is origin without its credentials", async (t) => {
  const dir = await gitProject(t, `https://ci-bot:${SECRET}@git.example.com/team/app.git`);
  const first = await buildAndRead(t, dir);
  assert.equal(first.annotations?.[REVISION], await git(dir, "rev-parse", "HEAD"));
  assert.equal(first.annotations?.[SOURCE], "https://git.example.com/team/app.git");
  const out = await allBytes(join(dir, ".tug", "out"));
  assert.ok(out.includes("git.example.com/team/app.git"), "the annotation is in what was written");
  assert.ok(!out.includes(SECRET), "the remote's token is nowhere in .tug/out");

  // A new commit is a new revision, even when the refs are packed (`git gc` does that).
  await writeFile(join(dir, "README"), "x\n");
  await git(dir, "add", "README");
  await git(dir, "commit", "-q", "-m", "second");
  await git(dir, "pack-refs", "--all");
  const second = await buildAndRead(t, dir);
  const head = await git(dir, "rev-parse", "HEAD");
  assert.notEqual(head, first.annotations?.[REVISION]);
  assert.equal(second.annotations?.[REVISION], head);

  // A detached HEAD names the commit itself.
  await git(dir, "checkout", "-q", "--detach", "HEAD~1");
  const detached = await buildAndRead(t, dir);
  assert.equal(detached.annotations?.[REVISION], first.annotations?.[REVISION]);
});

test("git annotations: an ssh remote keeps no user either; a linked worktree reads the common dir", async (t) => {
  const dir = await gitProject(t, "ssh://deploy@git.example.com:2222/team/app.git");
  const main = await buildAndRead(t, dir);
  assert.equal(main.annotations?.[SOURCE], "ssh://git.example.com:2222/team/app.git");

  // `git worktree add`: .git is a file pointing at .git/worktrees/NAME, whose HEAD names a branch
  // whose ref (and the remote, in config) live in the main repository's .git.
  const wt = join(dir, "..", "wt");
  await git(dir, "worktree", "add", "-q", "-b", "feature", wt);
  await writeFile(join(wt, "site", "index.html"), "<p>feature</p>\n");
  await git(wt, "commit", "-q", "-am", "feature work");
  const linked = await buildAndRead(t, wt);
  assert.equal(linked.annotations?.[REVISION], await git(wt, "rev-parse", "HEAD"));
  assert.notEqual(linked.annotations?.[REVISION], main.annotations?.[REVISION]);
  assert.equal(linked.annotations?.[SOURCE], "ssh://git.example.com:2222/team/app.git");
});

test("git annotations: none outside a git checkout", async (t) => {
  const dir = await tempDir(t, "tug-nogit-");
  await mkdir(join(dir, "site"));
  await writeFile(join(dir, "site", "index.html"), "<p>hi</p>\n");
  await writeFile(
    join(dir, "tug.yaml"),
    "images:\n  site:\n    builder: files\n    context: ./site\n    dest: /srv\n",
  );
  const manifest = await buildAndRead(t, dir);
  assert.equal(manifest.annotations?.[SOURCE], undefined);
  assert.equal(manifest.annotations?.[REVISION], undefined);
});
