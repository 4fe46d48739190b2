// `tug server`: one-shot `tug build` through bin/tug.js hands its work to a warm process for the
// project and prints its result; the same build without the server (TUG_NO_SERVER=1) must give
// the same digests, --json, exit codes and error text. Unsafe socket directories and stale
// sockets are never used: the client builds by itself.
import assert from "node:assert/strict";
import { chmod, lstat, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { before, type TestContext, test } from "node:test";
import { cleanBuild, fileSha256, wheelProject } from "../lambda/support/wheel-project.ts";
import { type Base, makeNodeBase } from "../support/bases.ts";
import { buildDist, type CliResult, runTugBin, startTugServer, type TugServer } from "../support/cli.ts";
import { stopProcess } from "../support/process.ts";
import { tempDir } from "../support/tmp.ts";

let nodeBase: Base;
before(async () => {
  await buildDist();
  nodeBase = await makeNodeBase();
});

async function project(t: TestContext) {
  const dir = await tempDir(t, "tug-server-");
  await mkdir(join(dir, "public"));
  await mkdir(join(dir, "svc"));
  await writeFile(join(dir, "public", "index.html"), "<h1>hello</h1>\n");
  await writeFile(join(dir, "svc", "package.json"), '{ "name": "svc", "type": "module" }\n');
  await writeFile(join(dir, "svc", "main.js"), 'console.log("v1");\n');
  await writeFile(
    join(dir, "tug.yaml"),
    `images:
  site:
    builder: files
    context: ./public
    dest: /srv/www
  svc:
    builder: node
    context: ./svc
    entry: main.js
    base: oci-layout:${nodeBase.layout}:latest
`,
  );
  // A private runtime dir per test: its own socket directory, no other server in the way.
  const runtime = await tempDir(t, "tug-server-run-");
  await chmod(runtime, 0o700);
  const env = {
    TUG_CACHE: await tempDir(t, "tug-server-cache-"),
    TUG_REPO: undefined,
    XDG_RUNTIME_DIR: runtime,
  };
  return { dir, env, runtime, opts: { cwd: dir, env } };
}

async function server(t: TestContext, opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<TugServer> {
  const s = await startTugServer(opts);
  t.after(() => stopProcess(s.child));
  return s;
}

async function served(opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<number> {
  const r = await runTugBin(["server", "--status"], opts);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { served: number }).served;
}

interface BuildJson {
  ms: number;
  artifacts: Array<{ target: string; ref: string; digest: string; ms: number }>;
}

/** --json without its timing fields. */
function untimed(r: CliResult): unknown {
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as BuildJson;
  return j.artifacts.map(({ ms: _ms, ...rest }) => rest);
}

const noServer = (o: { cwd: string; env: NodeJS.ProcessEnv }) => ({
  ...o,
  env: { ...o.env, TUG_NO_SERVER: "1" },
});

test("a build served by tug server gives the same digests and --json as one run in-process", async (t) => {
  const p = await project(t);
  const s = await server(t, p.opts);
  assert.equal((await lstat(s.socket)).mode & 0o777, 0o600);
  assert.equal((await lstat(join(s.socket, ".."))).mode & 0o777, 0o700);

  const cold = await runTugBin(["build", "--json"], noServer(p.opts));
  const viaServer = await runTugBin(["build", "--json"], p.opts);
  const local = await runTugBin(["build", "--json"], noServer(p.opts));
  assert.equal(await served(p.opts), 1);
  assert.deepEqual(untimed(viaServer), untimed(local));
  const digests = (r: CliResult) => (JSON.parse(r.stdout) as BuildJson).artifacts.map((a) => a.digest);
  assert.deepEqual(digests(viaServer), digests(cold));

  // An edit between two served builds: the warm process never answers from stale memory.
  await writeFile(join(p.dir, "svc", "main.js"), 'console.log("v2");\n');
  const edited = await runTugBin(["build", "--json"], p.opts);
  const editedLocal = await runTugBin(["build", "--json"], noServer(p.opts));
  assert.equal(await served(p.opts), 2);
  // The served build did the work (cached: false), the local one found it: same artifacts.
  const refs = (r: CliResult) =>
    (JSON.parse(r.stdout) as BuildJson).artifacts.map((a) => `${a.target} ${a.ref} ${a.digest}`);
  assert.deepEqual(refs(edited), refs(editedLocal));
  assert.notDeepEqual(digests(edited), digests(cold));
  assert.equal(digests(edited)[0], digests(cold)[0], "the site did not change");

  // --no-server runs here: the server's count stays.
  const flagged = await runTugBin(["build", "--json", "--no-server"], p.opts);
  assert.deepEqual(untimed(flagged), untimed(editedLocal));
  assert.equal(await served(p.opts), 2);
});

test("a failing build exits and reports the same through the server as in-process", async (t) => {
  const p = await project(t);
  await server(t, p.opts);
  await writeFile(join(p.dir, "svc", "main.js"), "console.log(;\n");
  const viaServer = await runTugBin(["build", "-q", "svc"], p.opts);
  const local = await runTugBin(["build", "-q", "svc"], noServer(p.opts));
  assert.equal(await served(p.opts), 1);
  assert.equal(local.code, 1);
  assert.equal(viaServer.code, local.code);
  assert.match(local.stderr, /main\.js/);
  assert.equal(viaServer.stderr, local.stderr);
  assert.equal(viaServer.stdout, local.stdout);

  // Fixed: the server's esbuild context (kept between builds) bundles the fixed file, as here.
  await writeFile(join(p.dir, "svc", "main.js"), 'console.log("fixed");\n');
  const fixedServed = await runTugBin(["build", "--json", "svc"], p.opts);
  const fixedLocal = await runTugBin(["build", "--json", "svc"], noServer(p.opts));
  assert.equal(await served(p.opts), 2);
  assert.deepEqual(
    (JSON.parse(fixedServed.stdout) as BuildJson).artifacts.map((a) => a.digest),
    (JSON.parse(fixedLocal.stdout) as BuildJson).artifacts.map((a) => a.digest),
  );

  // A usage error too (commander's, which must not end the server).
  const badLocal = await runTugBin(["build", "--no-such-flag"], noServer(p.opts));
  const badServed = await runTugBin(["build", "--no-such-flag"], p.opts);
  assert.equal(badServed.code, badLocal.code);
  assert.equal(badServed.stderr, badLocal.stderr);
  assert.equal(await served(p.opts), 3);
});

test("a socket directory others can enter is not used: the client builds by itself and says so", async (t) => {
  const p = await project(t);
  const s = await server(t, p.opts);
  const socketDir = join(s.socket, "..");
  await chmod(socketDir, 0o755);
  const r = await runTugBin(["build", "--json"], p.opts);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /not using the server: .* has mode 755, not 700/);
  await chmod(socketDir, 0o700);
  assert.equal(await served(p.opts), 0);

  // A server refuses to start in such a directory.
  await stopProcess(s.child);
  await chmod(socketDir, 0o755);
  await assert.rejects(startTugServer(p.opts), /has mode 755, not 700/);
});

test("a killed server's stale socket is ignored by the client and replaced by the next server", async (t) => {
  const p = await project(t);
  const first = await server(t, p.opts);
  first.child.kill("SIGKILL");
  await new Promise((resolve) => first.child.once("exit", resolve));
  await lstat(first.socket); // still there: nothing removed it

  const r = await runTugBin(["build", "--json"], p.opts);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /tug server|not using the server/);

  const second = await server(t, p.opts);
  assert.equal(second.socket, first.socket);
  const viaServer = await runTugBin(["build", "--json"], p.opts);
  assert.deepEqual(untimed(viaServer), untimed(await runTugBin(["build", "--json"], noServer(p.opts))));
  assert.equal(await served(p.opts), 1);
});

test("tug build in a subdirectory, or with -c from elsewhere, reaches the server of the project holding tug.yaml", async (t) => {
  const p = await project(t);
  // Started in a subdirectory: keyed by the directory holding tug.yaml, like the client.
  await server(t, { ...p.opts, cwd: join(p.dir, "svc") });
  const fromSub = await runTugBin(["build", "--json"], { ...p.opts, cwd: join(p.dir, "svc") });
  assert.equal(fromSub.code, 0, fromSub.stderr);
  assert.equal(await served(p.opts), 1);
  const elsewhere = await tempDir(t, "tug-server-elsewhere-");
  const viaConfig = await runTugBin(["build", "--json", "-c", join(p.dir, "tug.yaml")], {
    ...p.opts,
    cwd: elsewhere,
  });
  assert.equal(viaConfig.code, 0, viaConfig.stderr);
  assert.equal(await served(p.opts), 2);
  const digests = (r: CliResult) => (JSON.parse(r.stdout) as BuildJson).artifacts.map((a) => a.digest);
  assert.deepEqual(digests(viaConfig), digests(fromSub));
});

test("python lambda edits served by a warm server (kept zip head hash) give a clean build's bytes", async (t) => {
  const wheels = [
    {
      name: "alpha",
      version: "1.0",
      files: { "alpha/__init__.py": "VALUE = 'alpha'\n" },
      topLevel: ["alpha"],
    },
  ];
  const handler = (note: string) =>
    `import alpha\n\n\ndef handler(event, context):\n    return {"note": "${note}", "alpha": alpha.VALUE}\n`;
  const p = await wheelProject(t, "tug-server-lambda-", {
    wheels,
    files: { "requirements.txt": "alpha\n", "fn.py": handler("one") },
    lambdas: { fn: "{ runtime: python3.11, handler: fn.py:handler }" },
    python: "  requirements: requirements.txt\n",
  });
  const runtime = await tempDir(t, "tug-server-run-");
  await chmod(runtime, 0o700);
  const opts = { cwd: p.dir, env: { ...p.env, XDG_RUNTIME_DIR: runtime } };
  await server(t, opts);
  const zip = join(p.dir, ".tug", "out", "lambdas", "fn.zip");
  for (const note of ["one", "two", "three"]) {
    await writeFile(join(p.dir, "fn.py"), handler(note));
    const r = await runTugBin(["build", "-q"], opts);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await fileSha256(zip), await fileSha256(join(await cleanBuild(t, p), "fn.zip")), note);
  }
  assert.equal(await served(opts), 3);
});
