import assert from "node:assert/strict";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { isTugError, type TugError } from "../../src/errors.ts";
import { type InvokeOptions, invokeLambda } from "../../src/lambda/invoke.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";

const ECHO = `
import os
def handler(event, context):
    print("echo got", event["msg"])
    return {"echo": event, "cwd": os.getcwd(), "name": context.function_name,
            "left": context.get_remaining_time_in_millis() > 0}
`;

/** A zip of `files` and a temp parent for task dirs, which must be empty again after each invoke. */
async function lambda(t: TestContext, files: Record<string, string>) {
  const dir = await tempDir(t, "tug-invoke-test-");
  const zip = join(dir, "fn.zip");
  // Zipped by Python's zipfile, so tug's unpacking is checked against a writer that is not tug.
  await runTool("python3", [
    "-c",
    "import json, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n    for n, d in json.loads(sys.argv[2]).items(): z.writestr(n, d)",
    zip,
    JSON.stringify(files),
  ]);
  const tmpDir = join(dir, "tmp");
  await mkdir(tmpDir);
  const invoke = async (o: Omit<InvokeOptions, "zip" | "tmpDir">) => {
    try {
      return await invokeLambda({ ...o, zip, tmpDir });
    } finally {
      assert.deepEqual(await readdir(tmpDir), [], "task dir left behind");
    }
  };
  return { zip, invoke };
}

async function failure(p: Promise<unknown>): Promise<TugError> {
  const e = await p.then(
    () => assert.fail("expected a TugError"),
    (err: unknown) => err,
  );
  assert.ok(isTugError(e), String(e));
  return e;
}

test("python handler returns the event, prints go to logs, cwd is the task dir", async (t) => {
  const { invoke } = await lambda(t, { "lambdas/echo.py": ECHO });
  const out = await invoke({ runtime: "python3.11", handler: "lambdas/echo.handler", event: { msg: "hi" } });
  const result = out.result as { echo: unknown; cwd: string; name: string; left: boolean };
  assert.deepEqual(result.echo, { msg: "hi" });
  assert.equal(result.name, "echo");
  assert.equal(result.left, true);
  assert.match(result.cwd, /tug-invoke-/);
  assert.match(out.logs, /echo got hi/);
  assert.ok(out.ms >= 0);
});

test("python runs isolated: a module only the host has is not importable, the environment is Lambda's", async (t) => {
  // The host's PYTHONPATH (and its site-packages, user site, shell variables) stand for "works on
  // my machine": a zip that needs them would fail on Lambda, so it fails here too.
  const host = await tempDir(t, "tug-invoke-host-");
  await mkdir(join(host, "hostonly"));
  await writeFile(join(host, "hostonly", "__init__.py"), "X = 1\n");
  const { invoke } = await lambda(t, {
    "needs_host.py": "import hostonly\ndef handler(event, context):\n    return 1\n",
    "env.py": [
      "import os, sys",
      "def handler(event, context):",
      "    return {'env': sorted(os.environ), 'path0': sys.path[0], 'task': os.environ['LAMBDA_TASK_ROOT'],",
      "            'region': os.environ['AWS_REGION'], 'site': [p for p in sys.path if p.endswith('-packages')]}",
    ].join("\n"),
  });
  const saved = { PYTHONPATH: process.env.PYTHONPATH, TUG_TEST_SHELL_ONLY: process.env.TUG_TEST_SHELL_ONLY };
  process.env.PYTHONPATH = host;
  process.env.TUG_TEST_SHELL_ONLY = "from-the-shell";
  t.after(() => Object.assign(process.env, saved));
  const e = await failure(invoke({ runtime: "python3.11", handler: "needs_host.handler", event: {} }));
  assert.match(e.what, /importing needs_host\.py failed: ModuleNotFoundError: No module named 'hostonly'/);
  const out = await invoke({ runtime: "python3.11", handler: "env.handler", event: {} });
  const r = out.result as { env: string[]; path0: string; task: string; region: string; site: string[] };
  assert.equal(r.path0, r.task, "the task dir is first on sys.path, as /var/task on Lambda");
  for (const v of ["LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_NAME", "AWS_EXECUTION_ENV", "_HANDLER", "TZ"]) {
    assert.ok(r.env.includes(v), `${v} is set`);
  }
  assert.ok(!r.env.includes("TUG_TEST_SHELL_ONLY"), "a shell variable does not reach the handler");
  assert.ok(!r.env.includes("PYTHONPATH"));
  assert.ok(r.region.length > 0);
  // Only the layers' site-packages stand-in; never the host's.
  for (const p of r.site) assert.ok(p.includes("tug-invoke-"), `host site-packages on sys.path: ${p}`);
});

test("python: a version other than the local python3 warns", async (t) => {
  const { invoke } = await lambda(t, { "lambdas/echo.py": ECHO });
  const local = await invoke({ runtime: "python3.11", handler: "lambdas/echo.handler", event: { msg: "a" } });
  const other = await invoke({ runtime: "python3.9", handler: "lambdas/echo.handler", event: { msg: "a" } });
  // One of the two differs from the machine's python3 (3.11 here, but do not depend on it).
  assert.equal(local.warnings.length + other.warnings.length >= 1, true);
  for (const w of other.warnings) assert.match(w, /python3\.9/);
});

test("python handler imports sibling modules from the zip", async (t) => {
  const { invoke } = await lambda(t, {
    "shared.py": "PREFIX = 'hello'\n",
    "lambdas/util.py": "def shout(s):\n    return s.upper()\n",
    "lambdas/greet.py":
      "from shared import PREFIX\nfrom lambdas.util import shout\n\ndef handler(event, context):\n    return shout(PREFIX + ' ' + event)\n",
  });
  const out = await invoke({ runtime: "python3.11", handler: "lambdas/greet.handler", event: "ada" });
  assert.equal(out.result, "HELLO ADA");
});

test("python handler that raises: what names handler and exception, hint holds the traceback", async (t) => {
  const { invoke } = await lambda(t, {
    "lambdas/bad.py":
      "def check(x):\n    raise ValueError('no good: ' + x)\n\ndef handler(event, context):\n    return check(event)\n",
  });
  const e = await failure(invoke({ runtime: "python3.11", handler: "lambdas/bad.handler", event: "x" }));
  assert.match(e.what, /lambdas\/bad\.handler raised ValueError: no good: x/);
  assert.match(e.hint ?? "", /Traceback/);
  assert.match(e.hint ?? "", /lambdas\/bad\.py", line 2, in check/);
  assert.doesNotMatch(e.hint ?? "", /bootstrap|tug-invoke-/);
});

test("python: missing function and missing module name the file and the handler", async (t) => {
  const { invoke } = await lambda(t, { "lambdas/echo.py": ECHO });
  const noFn = await failure(invoke({ runtime: "python3.11", handler: "lambdas/echo.handle", event: {} }));
  assert.match(noFn.what, /lambdas\/echo\.py has no function "handle" \(handler "lambdas\/echo\.handle"\)/);
  assert.match(noFn.hint ?? "", /it defines: handler/);
  const noMod = await failure(invoke({ runtime: "python3.11", handler: "lambdas/nope.handler", event: {} }));
  assert.match(noMod.what, /lambdas\/nope\.py is not in the zip \(handler "lambdas\/nope\.handler"\)/);
});

test("python: a non-JSON return value is an error", async (t) => {
  const { invoke } = await lambda(t, { "f.py": "def handler(event, context):\n    return {1, 2}\n" });
  const e = await failure(invoke({ runtime: "python3.11", handler: "f.handler", event: {} }));
  assert.match(e.what, /not JSON-serialisable/);
});

test("python: a timeout kills the handler", async (t) => {
  const { invoke } = await lambda(t, {
    "slow.py":
      "import time\n\ndef handler(event, context):\n    print('sleeping', flush=True)\n    time.sleep(600)\n",
  });
  // The limit leaves room for a slow interpreter start on a loaded machine; the handler would
  // sleep far longer than the test may run, so finishing at all proves the kill.
  const e = await failure(
    invoke({ runtime: "python3.11", handler: "slow.handler", event: {}, timeoutMs: 8000 }),
  );
  assert.match(e.what, /slow\.handler timed out after 8000 ms/);
  assert.match(e.hint ?? "", /sleeping/);
});

test("node ESM handler returning a promise", async (t) => {
  const { invoke } = await lambda(t, {
    "src/api.mjs":
      "export const handler = async (event, context) => {\n  console.log('api called');\n  return { ok: event.n + 1, name: context.functionName };\n};\n",
  });
  const out = await invoke({ runtime: "nodejs20.x", handler: "src/api.handler", event: { n: 41 } });
  assert.deepEqual(out.result, { ok: 42, name: "api" });
  assert.match(out.logs, /api called/);
  const major = Number(process.versions.node.split(".")[0]);
  const other = major === 20 ? "nodejs22.x" : "nodejs20.x";
  const warned = await invoke({ runtime: other, handler: "src/api.handler", event: { n: 1 } });
  assert.match(warned.warnings.join("\n"), /node here is/);
});

test("node CJS callback-style handler, and its errors", async (t) => {
  const { invoke } = await lambda(t, {
    "index.js":
      "exports.handler = function (event, context, callback) {\n  setTimeout(() => callback(null, { got: event }), 10);\n};\n" +
      "exports.fails = function (event, context, callback) {\n  callback(new TypeError('bad event'));\n};\n",
  });
  const out = await invoke({ runtime: "nodejs20.x", handler: "index.handler", event: [1, 2] });
  assert.deepEqual(out.result, { got: [1, 2] });
  const e = await failure(invoke({ runtime: "nodejs20.x", handler: "index.fails", event: null }));
  assert.match(e.what, /index\.fails raised TypeError: bad event/);
  assert.match(e.hint ?? "", /at exports\.fails \(index\.js:5:/);
  const noFn = await failure(invoke({ runtime: "nodejs20.x", handler: "index.nope", event: null }));
  assert.match(noFn.what, /index\.js has no function "nope"/);
  assert.match(noFn.hint ?? "", /fails, handler/);
  const noMod = await failure(invoke({ runtime: "nodejs20.x", handler: "src/gone.handler", event: null }));
  assert.match(noMod.what, /src\/gone is not in the zip/);
  assert.match(noMod.hint ?? "", /src\/gone\.js, src\/gone\.mjs, src\/gone\.cjs/);
});

test("unknown runtime is refused before anything is unpacked", async (t) => {
  const { invoke } = await lambda(t, { "f.py": "" });
  const e = await failure(invoke({ runtime: "python2.7", handler: "f.handler", event: {} }));
  assert.match(e.what, /unknown runtime "python2\.7"/);
});
