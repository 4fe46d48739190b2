// Go images behave like the Dockerfile build of the same module, or tug refuses: the go env file
// is keyed, a cgo package's !cgo fallback is refused unless accepted, ldflags templates are
// expanded (and keyed), and `--out DIR` inside a context is never packed into the next image.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, type TestContext, test } from "node:test";
import type { ArtifactReport } from "../../src/index.ts";
import { runTug, runTugJson } from "../support/cli.ts";
import { CGO_FALLBACK_MODULE } from "../support/go-cgo-module.ts";
import { OFFLINE_GO_ENV, writeTree } from "../support/go-monorepo.ts";
import { tempDir } from "../support/tmp.ts";
import { podmanRun, runTool } from "../support/tools.ts";

interface BuildJson {
  artifacts: ArtifactReport[];
}

// One tug cache (and so one GOCACHE) for the file: the standard library compiles once.
let cache = "";
before(async () => {
  cache = await mkdtemp(join(tmpdir(), "tug-e2e-gofid-cache-"));
});
after(async () => {
  await rm(cache, { recursive: true, force: true });
});

const HELLO: Record<string, string> = {
  "go.mod": "module example.com/hello\n\ngo 1.19\n",
  "main.go":
    'package main\n\nimport "fmt"\n\nvar version = "dev"\n\nfunc main() { fmt.Println("hello " + version) }\n',
};

const goYaml = (extra = "") =>
  `images:\n  svc:\n    builder: go\n    context: .\n    base: scratch\n${extra}`;

async function project(t: TestContext, files: Record<string, string>) {
  const dir = await tempDir(t, "tug-e2e-gofid-");
  await writeTree(dir, files);
  // Its own user config directory, so `go env -w` here never touches the real one.
  const env = {
    ...OFFLINE_GO_ENV,
    TUG_CACHE: cache,
    TUG_REPO: undefined,
    XDG_CONFIG_HOME: join(dir, ".config"),
  };
  const build = async (extraEnv: Record<string, string> = {}, args: string[] = []) => {
    const out = await runTugJson<BuildJson>(["build", ...args], { cwd: dir, env: { ...env, ...extraEnv } });
    const svc = out.artifacts.find((a) => a.target === "svc");
    assert.ok(svc);
    return svc;
  };
  const run = async () => {
    const r = await podmanRun(`docker-archive:${join(dir, ".tug", "out", "svc.tar")}`, []);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  return { dir, env, build, run };
}

test("go env -w GOAMD64=v3 builds a new binary, as go build would", async (t) => {
  const p = await project(t, { ...HELLO, "tug.yaml": goYaml() });
  const first = await p.build();
  assert.equal((await p.build()).cached, true);
  await runTool("go", ["env", "-w", "GOAMD64=v3"], { cwd: p.dir, env: { ...process.env, ...p.env } });
  const second = await p.build();
  assert.equal(second.cached, false);
  assert.notEqual(second.digest, first.digest);
  const third = await p.build();
  assert.deepEqual([third.cached, third.digest], [true, second.digest]);
});

test('a cgo package with a !cgo fallback is refused; build_env CGO_ENABLED "0" ships the fallback', async (t) => {
  const p = await project(t, { ...CGO_FALLBACK_MODULE, "tug.yaml": goYaml() });
  // What the golang image's `go build` (cgo on) ships: the cgo code.
  const ref = join(p.dir, "ref");
  await runTool("go", ["build", "-o", ref, "."], {
    cwd: p.dir,
    env: { ...process.env, ...p.env, CGO_ENABLED: "1" },
  });
  assert.equal((await runTool(ref, [])).stdout.trim(), "real");

  for (let i = 0; i < 2; i++) {
    // Twice: a refused build leaves no memo that would let the second one through.
    const r = await runTug(["build"], { cwd: p.dir, env: p.env });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /example\.com\/probe\/db has cgo files \(db_cgo\.go\)/);
    assert.match(r.stderr, /CGO_ENABLED: "0"/);
    assert.doesNotMatch(r.stderr, /db_windows\.go/);
  }
  await writeTree(p.dir, { "tug.yaml": goYaml('    build_env: {CGO_ENABLED: "0"}\n') });
  const accepted = await p.build();
  assert.equal(accepted.cached, false);
  assert.equal(await p.run(), "stub");
  // Dropping the acceptance refuses again, even though the sources did not change.
  await writeTree(p.dir, { "tug.yaml": goYaml() });
  assert.notEqual((await runTug(["build"], { cwd: p.dir, env: p.env })).code, 0);
});

test("ldflags {{.Env.VERSION}} reaches the binary and keys it; a shell variable is refused", async (t) => {
  const p = await project(t, {
    ...HELLO,
    "tug.yaml": goYaml("    ldflags: -X main.version={{.Env.VERSION}}\n"),
  });
  const one = await p.build({ VERSION: "1.0" });
  assert.equal(await p.run(), "hello 1.0");
  const two = await p.build({ VERSION: "2.0" });
  assert.equal(two.cached, false);
  assert.notEqual(two.digest, one.digest);
  assert.equal(await p.run(), "hello 2.0");
  const unset = await runTug(["build"], { cwd: p.dir, env: { ...p.env, VERSION: undefined } });
  assert.notEqual(unset.code, 0);
  assert.match(unset.stderr, /VERSION is not set/);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell syntax itself is under test
  await writeTree(p.dir, { "tug.yaml": goYaml("    ldflags: -X main.version=${VERSION}\n") });
  const shell = await runTug(["build"], { cwd: p.dir, env: { ...p.env, VERSION: "3.0" } });
  assert.notEqual(shell.code, 0);
  assert.match(shell.stderr, /shell variable/);
  assert.match(shell.stderr, /\{\{\.Env\.NAME\}\}/);
});

test("--out DIR inside a context is no input: the next build is cached with the same digest", async (t) => {
  const dir = await tempDir(t, "tug-e2e-gofid-out-");
  await writeTree(dir, {
    "tug.yaml":
      "images:\n  site:\n    builder: files\n    context: .\n    dest: /srv\n" +
      '  gen:\n    builder: command\n    context: .\n    run: "mkdir -p gen && ls -R . > gen/listing"\n    output: gen\n',
    "index.html": "<p>hi</p>\n",
    ".dockerignore": "gen\n", // the command's own output is no input of the site
  });
  const env = { TUG_CACHE: cache, TUG_REPO: undefined };
  const build = async (out: string) => {
    const r = await runTugJson<BuildJson>(["build", "--out", out], { cwd: dir, env });
    return Object.fromEntries(r.artifacts.map((a) => [a.target, a]));
  };
  const first = await build("dist");
  const second = await build("dist");
  // Files and command contexts alike: the previous outputs are neither shipped nor keyed.
  for (const name of ["site", "gen"]) {
    assert.equal(second[name]?.cached, true, name);
    assert.equal(second[name]?.digest, first[name]?.digest, name);
  }
  // The same holds with the output given as an absolute path.
  const third = await build(join(dir, "dist"));
  assert.equal(third.site?.digest, first.site?.digest);
  assert.equal(third.gen?.digest, first.gen?.digest);
});
