// The files that key a Go build, from real `go list -deps` output on local fixture modules.
import assert from "node:assert/strict";
import { chmod, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import type { GoTarget } from "../../src/config/types.ts";
import { Engine } from "../../src/engine/engine.ts";
import { TugError } from "../../src/errors.ts";
import { goBuildEnv } from "../../src/go/env.ts";
import { goSources } from "../../src/go/inputs.ts";
import { goInputsOf, listJsonFlag, parseGoList } from "../../src/go/packages.ts";
import { makeMonorepo, OFFLINE_GO_ENV, writeTree } from "../support/go-monorepo.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";

const amd64 = { os: "linux", architecture: "amd64" };

function goTarget(context: string, extra: Partial<GoTarget> = {}): GoTarget {
  return {
    name: "svc",
    where: "images.svc",
    context,
    base: { kind: "scratch" },
    platforms: [amd64],
    env: {},
    ports: [],
    labels: {},
    annotations: {},
    tags: ["latest"],
    builder: "go",
    main: ".",
    ldflags: [],
    binary: "svc",
    flags: [],
    buildTags: [],
    buildEnv: {},
    ...extra,
  };
}

/** A `go` that logs its subcommand to LOG, then runs the real one: counts go list runs. */
async function countingGo(t: TestContext): Promise<{ path: string; lists: () => Promise<number> }> {
  const dir = await tempDir(t, "tug-go-shim-");
  const real = (await runTool("sh", ["-c", "command -v go"])).stdout.trim();
  const log = join(dir, "log");
  await writeFile(log, "");
  const path = join(dir, "go");
  await writeFile(path, `#!/bin/sh\necho "$1" >> ${log}\nexec ${real} "$@"\n`);
  await chmod(path, 0o755);
  const lists = async () => (await readFile(log, "utf8")).split("\n").filter((l) => l === "list").length;
  return { path, lists };
}

async function setup(t: TestContext) {
  const repo = await tempDir(t, "tug-go-repo-");
  await makeMonorepo(repo);
  const engine = await Engine.open({ cacheDir: await tempDir(t, "tug-go-cache-"), scope: repo });
  t.after(() => engine.close());
  const go = await countingGo(t);
  const version = (await runTool(go.path, ["version"])).stdout.trim();
  const sources = (target: GoTarget, roots = [repo]) =>
    goSources({
      engine,
      target,
      go: { path: go.path, version },
      env: goBuildEnv({
        platform: amd64,
        base: { ...process.env, ...OFFLINE_GO_ENV },
        buildEnv: target.buildEnv,
      }),
      roots,
    });
  return { repo, engine, go, sources };
}

const paths = (files: Array<{ path: string }>) => files.map((f) => f.path).sort();

test("replace: the key holds the main module's and the replaced sibling's Go files, embeds, go.mod and go.sum, nothing else", async (t) => {
  const { repo, sources } = await setup(t);
  await writeTree(repo, { "svc/debug.log": "noise", "svc/node_modules/x.js": "1", "svc/go.sum": "" });
  const files = await sources(goTarget(join(repo, "svc")));
  assert.deepEqual(
    files.map((f) => f.path),
    ["../shared/go.mod", "../shared/greet.go", "../shared/msg.txt", "go.mod", "go.sum", "main.go"],
  );
  assert.ok(files.every((f) => f.digest?.startsWith("sha256:")));
});

test("go.work: workspace members and go.work are inputs", async (t) => {
  const { repo, sources } = await setup(t);
  const files = await sources(goTarget(join(repo, "ws", "app"), { name: "app" }));
  assert.deepEqual(paths(files), ["../go.work", "../lib/go.mod", "../lib/lib.go", "go.mod", "main.go"]);
});

test("build tags decide which files are inputs", async (t) => {
  const { repo, sources } = await setup(t);
  await writeTree(repo, { "svc/extra_on.go": "//go:build extra\n\npackage main\n" });
  const ctx = join(repo, "svc");
  assert.ok(!paths(await sources(goTarget(ctx))).includes("extra_on.go"));
  assert.ok(paths(await sources(goTarget(ctx, { buildTags: ["extra"] }))).includes("extra_on.go"));
});

test("go list runs once: a no-op and unrelated files reuse its answer, a new Go file or an import edit do not", async (t) => {
  const { repo, go, sources } = await setup(t);
  const target = goTarget(join(repo, "svc"));
  const first = await sources(target);
  assert.equal(await go.lists(), 1);
  assert.deepEqual(await sources(target), first);
  await writeFile(join(repo, "svc", "debug.log"), "a new name beside main.go, not a Go source");
  await writeFile(join(repo, "shared", "msg.txt"), "v2");
  const edited = await sources(target);
  assert.equal(await go.lists(), 1, "content edits and unrelated names reuse the file list");
  assert.notEqual(
    edited.find((f) => f.path === "../shared/msg.txt")?.digest,
    first.find((f) => f.path === "../shared/msg.txt")?.digest,
  );
  await writeTree(repo, { "svc/more.go": "package main\n\nconst more = 1\n" });
  const withMore = await sources(target);
  assert.ok(paths(withMore).includes("more.go"));
  assert.equal(await go.lists(), 2, "a new Go file in a package directory lists again");
  // A body edit (the imports, build constraints and embeds as they were) keeps the answer.
  await writeTree(repo, {
    "svc/more.go": "package main\n\nconst more = 2\n\nfunc f() int { return more }\n",
  });
  const body = await sources(target);
  assert.equal(await go.lists(), 2, "a declarations-only edit reuses the file list");
  assert.notEqual(
    body.find((f) => f.path === "more.go")?.digest,
    withMore.find((f) => f.path === "more.go")?.digest,
  );
  // A new //go:embed line changes what go list reports: it lists again.
  await writeTree(repo, {
    "svc/more.go":
      'package main\n\nimport _ "embed"\n\nconst more = 2\n\n//go:embed more.go\nvar self string\n',
  });
  await sources(target);
  assert.equal(await go.lists(), 3, "an import or embed edit lists again");
  await writeTree(repo, {
    "shared/inner/inner.go": "package inner\n\nconst N = 1\n",
    "svc/more.go": 'package main\n\nimport _ "example.com/shared/inner"\n',
  });
  assert.ok(paths(await sources(target)).includes("../shared/inner/inner.go"));
  assert.equal(await go.lists(), 4);
});

test("removing the go.work above a module makes go list run again", async (t) => {
  const { repo, go, sources } = await setup(t);
  const target = goTarget(join(repo, "ws", "lib"), { name: "lib", main: "." });
  await sources(target).catch(() => undefined);
  await rm(join(repo, "ws", "go.work"));
  const listsBefore = await go.lists();
  await sources(target).catch(() => undefined);
  assert.equal(await go.lists(), listsBefore + 1);
});

test("a replace outside the project and its repository is refused", async (t) => {
  const { repo, sources } = await setup(t);
  const outside = await tempDir(t, "tug-go-outside-");
  await writeTree(outside, { "go.mod": "module example.com/far\n\ngo 1.19\n", "far.go": "package far\n" });
  await writeTree(repo, {
    "svc/go.mod": `module example.com/svc\n\ngo 1.19\n\nrequire example.com/far v0.0.0\n\nreplace example.com/far => ${outside}\n`,
    "svc/main.go": 'package main\n\nimport _ "example.com/far"\n\nfunc main() {}\n',
  });
  await assert.rejects(
    sources(goTarget(join(repo, "svc"))),
    (e: unknown) => e instanceof TugError && e.what.includes(outside) && e.where === "images.svc",
  );
});

test("a symlinked source pointing outside the project is refused", async (t) => {
  const { repo, sources } = await setup(t);
  const outside = await tempDir(t, "tug-go-outside-");
  await writeFile(join(outside, "x.go"), "package main\n");
  await symlink(join(outside, "x.go"), join(repo, "svc", "x.go"));
  await assert.rejects(sources(goTarget(join(repo, "svc"))), /outside the project/);
});

test("a context without go.mod or go.work is refused", async (t) => {
  const { repo, sources } = await setup(t);
  await writeTree(repo, { "plain/main.go": "package main\n\nfunc main() {}\n" });
  await assert.rejects(
    sources(goTarget(join(repo, "plain"))),
    (e: unknown) => e instanceof TugError && /no go\.mod or go\.work/.test(e.what),
  );
});

test("vendored packages are read file by file; the module cache is not", () => {
  const text = `{
	"Dir": "/r/svc/vendor/example.com/v",
	"ImportPath": "example.com/v",
	"Module": {"Path": "example.com/v", "Version": "v1.0.0"},
	"GoFiles": ["v.go"]
}
{
	"Dir": "/home/u/go/pkg/mod/example.com/far@v1.2.0",
	"ImportPath": "example.com/far",
	"Module": {"Path": "example.com/far", "Version": "v1.2.0", "Dir": "/home/u/go/pkg/mod/example.com/far@v1.2.0"},
	"GoFiles": ["far.go"]
}
{
	"Dir": "/usr/lib/go/src/fmt",
	"ImportPath": "fmt",
	"Standard": true,
	"GoFiles": ["print.go"]
}
{
	"Dir": "/r/svc",
	"ImportPath": "example.com/svc",
	"Module": {"Path": "example.com/svc", "Main": true, "Dir": "/r/svc", "GoMod": "/r/svc/go.mod"},
	"GoFiles": ["main.go"],
	"EmbedPatterns": ["static"],
	"EmbedFiles": ["static/css/a.css", "str\\"ange}.txt"],
	"IgnoredGoFiles": ["win_windows.go"]
}
`;
  const packages = parseGoList(text);
  assert.equal(packages.length, 4);
  const inputs = goInputsOf(packages, ["/r/svc/go.mod", "/r/svc/vendor/modules.txt"]);
  assert.deepEqual(inputs.files, [
    "/r/svc/go.mod",
    "/r/svc/main.go",
    "/r/svc/static/css/a.css",
    '/r/svc/str"ange}.txt',
    "/r/svc/vendor/example.com/v/v.go",
    "/r/svc/vendor/modules.txt",
  ]);
  assert.ok(inputs.watchFiles.includes("/r/svc/win_windows.go"), "a build constraint edit may add it");
  assert.deepEqual(inputs.watchDirs, [
    { dir: "/r/svc", names: "all" },
    { dir: "/r/svc/static", names: "all" },
    { dir: "/r/svc/static/css", names: "all" },
    { dir: "/r/svc/vendor/example.com/v", names: "source" },
  ]);
});

test("mtime-only changes to a watched file still hash through the stat cache", async (t) => {
  const { repo, sources } = await setup(t);
  const target = goTarget(join(repo, "svc"));
  const before = await sources(target);
  const later = new Date(Date.now() - 30_000);
  await utimes(join(repo, "svc", "main.go"), later, later);
  const after = await sources(target);
  assert.deepEqual(
    after.map((f) => [f.path, f.digest]),
    before.map((f) => [f.path, f.digest]),
  );
});

test("go list asks for only the fields tug reads from Go 1.19 on", () => {
  assert.match(listJsonFlag("go version go1.19.8 linux/amd64"), /^-json=Dir,ImportPath,/);
  assert.match(listJsonFlag("go version go1.22.2 darwin/arm64"), /^-json=/);
  assert.equal(listJsonFlag("go version go1.18.10 linux/amd64"), "-json");
});
