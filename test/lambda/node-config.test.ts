import assert from "node:assert/strict";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { loadProject } from "../../src/config/index.ts";
import { TugError } from "../../src/errors.ts";
import { fixture } from "../config/fixture.ts";

const YAML = `lambdas:
  api: { runtime: nodejs20.x, architecture: arm64, handler: src/api.ts:handler }
  worker:
    runtime: nodejs22.x
    handler: ./jobs/worker.mjs:run
    minify: true
    sourcemap: true
    external: [pg-native]
    native: [sharp]
`;

async function loadError(t: TestContext, yaml: string): Promise<TugError> {
  const dir = await fixture(t, { "tug.yaml": yaml });
  try {
    await loadProject(join(dir, "tug.yaml"));
  } catch (e) {
    assert.ok(e instanceof TugError, String(e));
    return e;
  }
  assert.fail("loading should have failed");
}

test("a nodejs lambda loads into a Node lambda target with its AWS handler string", async (t) => {
  const dir = await fixture(t, { "tug.yaml": YAML });
  const project = await loadProject(join(dir, "tug.yaml"));
  const [api, worker] = project.lambdas ?? [];
  assert.deepEqual(api, {
    language: "node",
    name: "api",
    where: api?.where,
    runtime: { runtime: "nodejs20.x", major: 20, arch: "arm64" },
    handlerFile: join(dir, "src", "api.ts"),
    handlerFunction: "handler",
    awsHandler: "src/api.handler",
    minify: false,
    sourcemap: false,
    external: [],
    native: [],
  });
  assert.match(api?.where ?? "", /^lambdas\.api \(.*tug\.yaml:2\)$/);
  assert.equal(worker?.language, "node");
  if (worker?.language !== "node") return;
  assert.deepEqual(worker.runtime, { runtime: "nodejs22.x", major: 22, arch: "x86_64" });
  assert.equal(worker.awsHandler, "jobs/worker.run");
  assert.equal(worker.handlerFile, join(dir, "jobs", "worker.mjs"));
  assert.equal(worker.minify, true);
  assert.equal(worker.sourcemap, true);
  assert.deepEqual(worker.external, ["pg-native"]);
  assert.deepEqual(worker.native, ["sharp"]);
});

test("every supported Node.js runtime maps to its major version", async (t) => {
  for (const [runtime, major] of [
    ["nodejs18.x", 18],
    ["nodejs20.x", 20],
    ["nodejs22.x", 22],
  ] as const) {
    const dir = await fixture(t, {
      "tug.yaml": `lambdas:\n  api: { runtime: ${runtime}, handler: src/api.ts:handler }\n`,
    });
    const [api] = (await loadProject(join(dir, "tug.yaml"))).lambdas ?? [];
    assert.equal(api?.language, "node");
    assert.equal(api?.runtime.runtime, runtime);
    if (api?.language === "node") assert.equal(api.runtime.major, major);
  }
});

test("an unknown nodejs runtime is an error naming the supported ones", async (t) => {
  const e = await loadError(t, YAML.replace("nodejs20.x", "nodejs16.x"));
  assert.equal(e.what, 'unknown Node.js Lambda runtime "nodejs16.x"');
  assert.equal(e.hint, "use one of nodejs18.x, nodejs20.x, nodejs22.x");
  assert.match(e.where ?? "", /^lambdas\.api \(.*tug\.yaml:2\)$/);
});

test("a handler file that is not JavaScript or TypeScript is an error", async (t) => {
  const e = await loadError(t, YAML.replace("src/api.ts:handler", "src/api.py:handler"));
  assert.equal(e.what, "handler file src/api.py is not a JavaScript or TypeScript file");
  assert.match(e.hint ?? "", /\.ts, \.tsx, \.mts, \.cts, \.js, \.jsx, \.mjs, \.cjs/);
  assert.match(e.where ?? "", /^lambdas\.api /);
});

test("Node-only fields on a Python lambda, and glibc on a Node lambda, are errors", async (t) => {
  const py = await loadError(
    t,
    "lambdas:\n  echo: { runtime: python3.12, handler: lambdas/echo.py:handler, minify: true, native: [x] }\n",
  );
  assert.equal(py.what, "minify, native are only for Node.js lambdas, and echo runs python3.12");
  assert.equal(py.hint, "remove minify, native from lambdas.echo");
  assert.match(py.where ?? "", /^lambdas\.echo \(.*tug\.yaml:2\)$/);

  const node = await loadError(
    t,
    YAML.replace("handler: src/api.ts:handler }", 'handler: src/api.ts:handler, glibc: "2.28" }'),
  );
  assert.equal(node.what, "glibc is only for Python lambdas, and api runs nodejs20.x");
  assert.match(node.where ?? "", /^lambdas\.api /);
});

test("node-only fields are type-checked by the schema", async (t) => {
  const e = await loadError(t, YAML.replace("minify: true", "minify: yes please"));
  assert.match(e.what, /minify/);
  assert.match(e.where ?? "", /tug\.yaml:6:/);
});
