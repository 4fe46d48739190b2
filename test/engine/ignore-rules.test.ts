// The rule engine alone: Docker's and git's semantics where they differ, and how the layers stack.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ContextRules, type ContextRulesInput, loadMatchers } from "../../src/engine/ignore-rules.ts";

await loadMatchers();

const docker = (text: string, more: Partial<ContextRulesInput> = {}) =>
  new ContextRules({ dockerignore: { source: ".dockerignore", text }, ...more });
const excluded = (r: ContextRules, path: string, isDir = false) => r.explain(path, isDir).excluded;

test("dockerignore: ** spans directories, a bare * stays at the root (unlike .gitignore)", () => {
  const r = docker("**/*.log\n*.tmp\n");
  assert.equal(excluded(r, "debug.log"), true);
  assert.equal(excluded(r, "a/b/debug.log"), true);
  assert.equal(excluded(r, "x.tmp"), true);
  assert.equal(excluded(r, "sub/x.tmp"), false, "Docker anchors patterns at the context root");
  const git = new ContextRules({});
  git.setGitignore("", "*.tmp\n");
  assert.equal(excluded(git, "sub/x.tmp"), true, "git matches a slash-less pattern at any depth");
});

test("dockerignore: the last matching line wins, in either direction", () => {
  assert.equal(excluded(docker("*.md\n!README.md\n"), "README.md"), false);
  assert.equal(excluded(docker("!README.md\n*.md\n"), "README.md"), true);
  const r = docker("*.md\n!README.md\n");
  assert.deepEqual(r.explain("README.md", false).by, {
    source: ".dockerignore",
    line: 2,
    pattern: "!README.md",
  });
  assert.deepEqual(r.explain("CHANGES.md", false).by, { source: ".dockerignore", line: 1, pattern: "*.md" });
});

test("dockerignore: a directory rule covers its contents; only an exception naming a path inside re-opens it", () => {
  const opened = docker("secrets\n!secrets/public.txt\n");
  assert.equal(excluded(opened, "secrets/key.pem"), true);
  assert.equal(excluded(opened, "secrets/deep/key.pem"), true);
  assert.equal(excluded(opened, "secrets/public.txt"), false);
  assert.equal(opened.canSkip("secrets"), false);
  // moby's walker skips `secrets` here: `**/public.txt` does not start with `secrets/`.
  const closed = docker("secrets\n!**/public.txt\n");
  assert.equal(closed.canSkip("secrets"), true);
  assert.equal(excluded(closed, "secrets/public.txt"), true);
  assert.equal(closed.explain("secrets/public.txt", false).under, "secrets");
  assert.equal(excluded(closed, "other/public.txt"), false);
});

test("dockerignore: comments, blank lines, a leading slash and case (Docker on Linux is case-sensitive)", () => {
  const r = docker("# secrets\n\n/.env\n  Build  \n");
  assert.equal(excluded(r, ".env"), true);
  assert.deepEqual(r.explain(".env", false).by?.line, 3);
  assert.equal(excluded(r, "Build/x"), true);
  assert.equal(excluded(r, "build/x"), false);
});

test("gitignore: nested files, deeper wins; git never re-includes under an excluded directory", () => {
  const r = new ContextRules({});
  r.setGitignore("", "*.tmp\nbuild/\n!build/keep\n");
  r.setGitignore("sub", "!keep.tmp\n");
  assert.equal(excluded(r, "sub/keep.tmp"), false);
  assert.equal(excluded(r, "other/keep.tmp"), true);
  assert.deepEqual(r.explain("sub/keep.tmp", false).by, {
    source: "sub/.gitignore",
    line: 1,
    pattern: "!keep.tmp",
  });
  assert.equal(excluded(r, "build", true), true);
  assert.equal(excluded(r, "build/keep"), true, "git: a parent directory excluded stays excluded");
  assert.equal(r.canSkip("build"), true);
  assert.equal(excluded(r, "build"), false, "`build/` names directories only");
});

test("layers: .dockerignore overrides .gitignore, .tugignore and patterns override both", () => {
  const r = docker("!dist\n.env.example\n", {
    tugignore: { source: ".tugignore", text: "!.env.example\n*.pem\n" },
    patterns: ["fixtures/"],
  });
  r.setGitignore("", "dist/\n.env*\n");
  assert.equal(
    excluded(r, "dist/app.js"),
    false,
    "Docker ships a gitignored dist/ that .dockerignore re-includes",
  );
  assert.equal(excluded(r, ".env"), true);
  assert.equal(excluded(r, ".env.example"), false);
  assert.equal(excluded(r, "certs/a.pem"), true);
  assert.deepEqual(r.explain("fixtures/a.json", false).by, {
    source: "ignore.patterns",
    line: 1,
    pattern: "fixtures/",
  });
});

test("gitignore above the context: paths are matched from that file's directory", () => {
  const r = new ContextRules({
    above: [
      { source: "../../.gitignore", prefix: "services/web/", text: ".env\nservices/web/tmp/\n/top.txt\n" },
    ],
  });
  assert.equal(excluded(r, ".env"), true);
  assert.equal(excluded(r, "tmp/x"), true);
  assert.equal(excluded(r, "top.txt"), false, "anchored at the repository root, not at the context");
  assert.equal(r.explain(".env", false).by?.source, "../../.gitignore");
});

test("gitignore above that ignores the context itself does not empty it", () => {
  const r = new ContextRules({
    above: [{ source: "../.gitignore", prefix: "dist/", text: "dist/\n*.map\n" }],
  });
  assert.equal(excluded(r, "index.html"), false);
  assert.equal(excluded(r, "app.js.map"), false, "that file's rules do not apply at all");
});

test("git: false reads no .gitignore rules", () => {
  const r = new ContextRules({
    git: false,
    above: [{ source: "../.gitignore", prefix: "x/", text: "*.js\n" }],
  });
  r.setGitignore("", "*.js\n");
  assert.equal(excluded(r, "a.js"), false);
});

test("replacing or removing a nested .gitignore changes the verdict", () => {
  const r = new ContextRules({});
  r.setGitignore("a", "*.log\n");
  assert.equal(excluded(r, "a/x.log"), true);
  r.setGitignore("a", "*.txt\n");
  assert.equal(excluded(r, "a/x.log"), false);
  r.setGitignore("a", undefined);
  assert.equal(excluded(r, "a/x.txt"), false);
});

test(".tugignore: re-including a directory a .gitignore excludes re-includes its contents", () => {
  const r = new ContextRules({
    tugignore: { source: ".tugignore", text: "!src/generated/\nsrc/generated/*.bak\n" },
  });
  r.setGitignore("", "src/generated/\n");
  assert.equal(r.canSkip("src/generated"), false);
  assert.equal(excluded(r, "src/generated/api.ts"), false);
  assert.equal(r.explain("src/generated/api.ts", false).by?.pattern, "!src/generated/");
  assert.equal(excluded(r, "src/generated/api.bak"), true, "a later, more specific line still excludes");
});
