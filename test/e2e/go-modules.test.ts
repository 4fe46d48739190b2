// Acceptance for Go monorepos (issue 11, items 1 and 2): a service reaching a sibling module
// through `replace`, a go.work workspace, vendor/, and the unrelated files a real repository
// holds. Real go builds the images, podman runs them; a logging `go` on PATH counts `go list`.
import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, type TestContext, test } from "node:test";
import type { ArtifactReport } from "../../src/index.ts";
import { runTug, runTugJson } from "../support/cli.ts";
import { makeMonorepo, OFFLINE_GO_ENV, writeTree } from "../support/go-monorepo.ts";
import { tempDir } from "../support/tmp.ts";
import { podmanRun, runTool } from "../support/tools.ts";

interface BuildJson {
  artifacts: ArtifactReport[];
}

// One tug cache (and so one GOCACHE) for the file: the standard library compiles once.
let cache = "";
let shimDir = "";
before(async () => {
  cache = await mkdtemp(join(tmpdir(), "tug-e2e-gomod-cache-"));
  shimDir = await mkdtemp(join(tmpdir(), "tug-e2e-gomod-shim-"));
  const real = (await runTool("sh", ["-c", "command -v go"])).stdout.trim();
  await writeFile(join(shimDir, "go"), `#!/bin/sh\necho "$1" >> "$TUG_TEST_GO_LOG"\nexec ${real} "$@"\n`);
  await chmod(join(shimDir, "go"), 0o755);
});
after(async () => {
  await rm(cache, { recursive: true, force: true });
  await rm(shimDir, { recursive: true, force: true });
});

async function repo(t: TestContext, extra: Record<string, string> = {}) {
  const dir = await tempDir(t, "tug-e2e-gomod-");
  await makeMonorepo(dir, extra);
  const log = join(dir, ".go-calls");
  await writeFile(log, "");
  const env = {
    ...OFFLINE_GO_ENV,
    TUG_CACHE: cache,
    TUG_REPO: undefined,
    TUG_TEST_GO_LOG: log,
    PATH: `${shimDir}:${process.env.PATH}`,
  };
  const build = async (extraEnv: Record<string, string> = {}) => {
    const out = await runTugJson<BuildJson>(["build"], { cwd: dir, env: { ...env, ...extraEnv } });
    return Object.fromEntries(out.artifacts.map((a) => [a.target, a]));
  };
  const run = async (target: string) => {
    const r = await podmanRun(`docker-archive:${join(dir, ".tug", "out", `${target}.tar`)}`, []);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  const goLists = async () => (await readFile(log, "utf8")).split("\n").filter((l) => l === "list").length;
  return { dir, env, build, run, goLists };
}

test("replace and go.work: editing the sibling rebuilds and ships it; unrelated writes do not rebuild", async (t) => {
  const r = await repo(t);
  const first = await r.build();
  assert.equal(first.svc?.cached, false);
  assert.equal(first.app?.cached, false);
  assert.equal(await r.run("svc"), "svc: shared says v1");
  assert.equal(await r.run("app"), "app: lib v1");

  // A no-op build runs no go list; neither do logs, a frontend's node_modules or notes.
  const lists = await r.goLists();
  await writeTree(r.dir, {
    "debug.log": "noise",
    "svc/debug.log": "noise",
    "frontend/node_modules/x/index.js": "module.exports = 2;\n",
    "shared/README.md": "edited notes\n",
    "ws/app/notes.txt": "todo\n",
  });
  const noop = await r.build();
  assert.deepEqual(
    [noop.svc?.cached, noop.app?.cached, noop.svc?.digest, noop.app?.digest],
    [true, true, first.svc?.digest, first.app?.digest],
  );
  assert.equal(await r.goLists(), lists, "a no-op build must not run go list");

  // The replaced sibling: tug explain names it, the digest moves, the image prints the new text.
  await writeFile(join(r.dir, "shared", "msg.txt"), "v2");
  const why = await runTug(["explain", "svc"], { cwd: r.dir, env: r.env });
  assert.equal(why.code, 0, why.stderr);
  assert.match(why.stdout, /would be rebuilt/);
  assert.match(why.stdout, /\.\.\/shared\/msg\.txt: changed/);
  const second = await r.build();
  assert.equal(second.svc?.cached, false);
  assert.notEqual(second.svc?.digest, first.svc?.digest);
  assert.equal(second.app?.cached, true, "the workspace service does not use shared/");
  assert.equal(await r.run("svc"), "svc: shared says v2");

  // The workspace member.
  await writeFile(
    join(r.dir, "ws", "lib", "lib.go"),
    (await readFile(join(r.dir, "ws", "lib", "lib.go"), "utf8")).replace("lib v1", "lib v2"),
  );
  const third = await r.build();
  assert.equal(third.app?.cached, false);
  assert.notEqual(third.app?.digest, first.app?.digest);
  assert.equal(third.svc?.cached, true);
  assert.equal(await r.run("app"), "app: lib v2");
});

test("context: . at the repository root: only the packages' files are inputs", async (t) => {
  const r = await repo(t, {
    "go.mod":
      "module example.com/root\n\ngo 1.19\n\nrequire example.com/shared v0.0.0\n\nreplace example.com/shared => ./shared\n",
    "cmd/root/main.go":
      'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/shared"\n)\n\nfunc main() { fmt.Println("root: " + shared.Greeting()) }\n',
    "tug.yaml":
      "images:\n  root:\n    builder: go\n    context: .\n    main: ./cmd/root\n    base: scratch\n",
  });
  const first = await r.build();
  assert.equal(first.root?.cached, false);
  assert.equal(await r.run("root"), "root: shared says v1");
  // tug resolve output, logs and node_modules at the root are not Go inputs.
  await writeTree(r.dir, {
    "debug.log": "noise",
    "frontend/node_modules/y/index.js": "1\n",
    "deploy/resolved.yaml": "kind: Pod\n",
    "svc/main.go": 'package main\n\nfunc main() { println("another module, not imported") }\n',
  });
  const noop = await r.build();
  assert.equal(noop.root?.cached, true);
  assert.equal(noop.root?.digest, first.root?.digest);
  await writeFile(join(r.dir, "shared", "msg.txt"), "v3");
  const edited = await r.build();
  assert.equal(edited.root?.cached, false);
  assert.equal(await r.run("root"), "root: shared says v3");
});

const SVC_ONLY = "images:\n  svc:\n    builder: go\n    context: ./svc\n    base: scratch\n";

test("GOFLAGS from the environment survives: -mod=mod reads the sibling, the default reads vendor/", async (t) => {
  // Only svc: -mod=mod is refused in workspace mode, which is Go's rule, not tug's.
  const r = await repo(t, { "tug.yaml": SVC_ONLY });
  await runTool("go", ["mod", "vendor"], {
    cwd: join(r.dir, "svc"),
    env: { ...process.env, ...OFFLINE_GO_ENV },
  });
  await writeFile(join(r.dir, "svc", "vendor", "example.com", "shared", "msg.txt"), "vendored");
  const vendored = await r.build();
  assert.equal(await r.run("svc"), "svc: shared says vendored");
  const moduleMode = await r.build({ GOFLAGS: "-mod=mod" });
  assert.equal(moduleMode.svc?.cached, false, "GOFLAGS is part of the key");
  assert.notEqual(moduleMode.svc?.digest, vendored.svc?.digest);
  assert.equal(await r.run("svc"), "svc: shared says v1");
  // In vendor mode the vendored copy is the input, not the sibling.
  await writeFile(join(r.dir, "shared", "msg.txt"), "v2");
  assert.equal((await r.build()).svc?.cached, true);
  await writeFile(join(r.dir, "svc", "vendor", "example.com", "shared", "msg.txt"), "vendored v2");
  const revendored = await r.build();
  assert.equal(revendored.svc?.cached, false);
  assert.equal(await r.run("svc"), "svc: shared says vendored v2");
});

test("build_tags, flags and build_env reach go build and key the layer; GOOS in build_env is refused", async (t) => {
  const yaml = (extra: string) => `${SVC_ONLY}${extra}`;
  const r = await repo(t, {
    "svc/loud.go": '//go:build loud\n\npackage main\n\nfunc init() { println("LOUD") }\n',
    "tug.yaml": yaml(
      "    build_tags: [loud]\n    flags: [-gcflags=all=-l]\n    build_env: { GOPRIVATE: example.com }\n",
    ),
  });
  const loud = await r.build();
  const run = await podmanRun(`docker-archive:${join(r.dir, ".tug", "out", "svc.tar")}`, []);
  assert.equal(run.stdout.trim(), "svc: shared says v1");
  assert.match(run.stderr, /LOUD/, "the loud tag selected loud.go");
  await writeFile(
    join(r.dir, "tug.yaml"),
    yaml("    build_tags: [loud]\n    flags: [-gcflags=all=-l]\n    build_env: { GOPRIVATE: example.org }\n"),
  );
  const otherEnv = await r.build();
  assert.equal(otherEnv.svc?.cached, false, "build_env is part of the key");
  assert.equal(otherEnv.svc?.digest, loud.svc?.digest, "GOPRIVATE does not change the binary");

  await writeFile(join(r.dir, "tug.yaml"), yaml("    build_env: { GOOS: darwin }\n"));
  const refused = await runTug(["build"], { cwd: r.dir, env: r.env });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /build_env may not set GOOS/);
  assert.match(refused.stderr, /platforms/);
  await writeFile(join(r.dir, "tug.yaml"), yaml("    flags: [-race]\n"));
  const race = await runTug(["build"], { cwd: r.dir, env: r.env });
  assert.notEqual(race.code, 0);
  assert.match(race.stderr, /-race is not allowed/);
});
