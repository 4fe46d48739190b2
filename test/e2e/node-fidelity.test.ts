// Node images and bundles that would behave unlike their sources are rebuilt or refused.
// A bundled Node service in a monorepo reads files outside its context: a sibling directory
// (`../../shared`), a workspace package that npm links into node_modules, and a dependency
// hoisted to the repository's node_modules. Editing either must
// give a new image that runs the new code (podman); an unrelated write must not rebuild.
import assert from "node:assert/strict";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type TestContext, test } from "node:test";
import { outsideDirs } from "../../src/builders/node-dev.ts";
import { makeNodeBase } from "../support/bases.ts";
import { runTug, runTugJson } from "../support/cli.ts";
import { copyInstalled, npmInstalled } from "../support/npm-project.ts";
import { tempDir } from "../support/tmp.ts";
import { podmanRun, runTool } from "../support/tools.ts";

interface BuildJson {
  artifacts: Array<{ target: string; digest: string; cached: boolean }>;
}

async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [p, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, p)), { recursive: true });
    await writeFile(join(dir, p), text);
  }
}

async function monorepo(t: TestContext) {
  const dir = await tempDir(t, "tug-node-mono-");
  const base = await makeNodeBase();
  await writeTree(dir, {
    "tug.yaml": `images:\n  web:\n    builder: node\n    context: ./services/web\n    entry: src/main.ts\n    base: oci-layout:${base.layout}:latest\n`,
    "services/web/package.json": '{ "name": "web", "private": true }\n',
    "services/web/src/main.ts":
      'import { greet } from "@acme/greet";\nimport pad from "left-pad";\nimport { shared } from "../../../shared/text";\nconsole.log([shared(), greet(), pad()].join(" "));\n',
    "shared/text.ts": 'export const shared = () => "shared v1";\n',
    "packages/greet/package.json": '{ "name": "@acme/greet", "version": "1.0.0", "main": "index.ts" }\n',
    "packages/greet/index.ts": 'export const greet = () => "greet v1";\n',
    // Hoisted to the repository's root, as npm workspaces install dependencies.
    "node_modules/left-pad/package.json": '{ "name": "left-pad", "version": "1.0.0", "main": "index.js" }\n',
    "node_modules/left-pad/index.js": 'module.exports = () => "pad v1";\n',
  });
  // As `npm install` links a workspace package.
  await mkdir(join(dir, "services/web/node_modules/@acme"), { recursive: true });
  await symlink("../../../../packages/greet", join(dir, "services/web/node_modules/@acme/greet"));
  await runTool("git", ["init", "-q", dir]);
  const env = { TUG_CACHE: await tempDir(t, "tug-node-mono-cache-"), TUG_REPO: undefined };
  const build = async () =>
    (await runTugJson<BuildJson>(["build"], { cwd: dir, env })).artifacts.find((a) => a.target === "web")!;
  const run = async () => {
    const r = await podmanRun(`docker-archive:${join(dir, ".tug", "out", "web.tar")}`, []);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  return { dir, env, build, run };
}

test("a node image is rebuilt when a sibling file, a linked workspace package or a hoisted dependency changes", async (t) => {
  const r = await monorepo(t);
  const first = await r.build();
  assert.equal(first.cached, false);
  assert.equal(await r.run(), "shared v1 greet v1 pad v1");

  // Unrelated files beside the outside inputs, and a no-op: the same image, cached.
  await writeTree(r.dir, { "shared/README.md": "notes\n", "packages/greet/CHANGELOG.md": "1.0.0\n" });
  const noop = await r.build();
  assert.deepEqual([noop.cached, noop.digest], [true, first.digest]);

  await writeFile(join(r.dir, "shared/text.ts"), 'export const shared = () => "shared v2";\n');
  const why = await runTug(["explain", "web"], { cwd: r.dir, env: r.env });
  assert.equal(why.code, 0, why.stderr);
  assert.match(why.stdout, /\.\.\/\.\.\/shared\/text\.ts: changed/);
  const second = await r.build();
  assert.equal(second.cached, false);
  assert.notEqual(second.digest, first.digest);

  await writeFile(join(r.dir, "packages/greet/index.ts"), 'export const greet = () => "greet v2";\n');
  const third = await r.build();
  assert.equal(third.cached, false);
  assert.notEqual(third.digest, second.digest);

  await writeTree(r.dir, {
    "node_modules/left-pad/package.json": '{ "name": "left-pad", "version": "1.0.1", "main": "index.js" }\n',
    "node_modules/left-pad/index.js": 'module.exports = () => "pad v2";\n',
  });
  const fourth = await r.build();
  assert.equal(fourth.cached, false);
  assert.notEqual(fourth.digest, third.digest);
  assert.equal(await r.run(), "shared v2 greet v2 pad v2");
});

test("tug dev watches the directories a bundle reads outside its context", () => {
  const context = "/repo/services/web";
  assert.deepEqual(
    outsideDirs(
      [
        "src/main.ts",
        "../../shared/text.ts",
        "../../shared/deep/more.ts",
        "../../packages/greet/index.ts",
        "node_modules/left-pad/index.js",
        "../../node_modules/hoisted/index.js",
      ],
      context,
    ),
    ["/repo/packages/greet", "/repo/shared"],
  );
});

test("TypeScript decorators under emitDecoratorMetadata are refused for images and lambdas", async (t) => {
  const dir = await tempDir(t, "tug-node-deco-");
  await writeTree(dir, {
    "tug.yaml":
      "images:\n  api:\n    builder: node\n    context: .\n    entry: src/main.ts\nlambdas:\n  fn:\n    runtime: nodejs20.x\n    handler: src/main.ts:handler\n",
    "package.json": '{ "name": "api", "private": true }\n',
    "tsconfig.json":
      '{ "compilerOptions": { "experimentalDecorators": true, "emitDecoratorMetadata": true } }\n',
    "src/main.ts":
      "const Injectable = (): ClassDecorator => () => {};\nclass Repo {}\n@Injectable()\nexport class Service {\n  constructor(readonly repo: Repo) {}\n}\nexport const handler = async () => new Service(new Repo());\n",
  });
  const env = { TUG_CACHE: await tempDir(t, "tug-node-deco-cache-"), TUG_REPO: undefined };
  for (const [target, fix] of [
    ["api", /set entry: to its output/],
    ["fn", /point handler: at its output/],
  ] as const) {
    const r = await runTug(["build", target], { cwd: dir, env });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /src\/main\.ts uses decorators and tsconfig\.json sets emitDecoratorMetadata/);
    assert.match(r.stderr, fix);
  }
});

test("node_modules behind its lockfile is refused, not bundled; patch-package patches key node_modules", async (t) => {
  const dir = await tempDir(t, "tug-node-lock-");
  await copyInstalled(await npmInstalled({ ms: "2.1.2" }), dir);
  const base = await makeNodeBase();
  await writeTree(dir, {
    "tug.yaml": `images:\n  app:\n    builder: node\n    context: .\n    entry: main.js\n    base: oci-layout:${base.layout}:latest\n  plain:\n    builder: node\n    context: .\n    entry: main.js\n    bundle: false\n    base: oci-layout:${base.layout}:latest\n`,
    "main.js": 'console.log(require("ms")(60000));\n',
    "patches/ms+2.1.2.patch": "patch v1\n",
  });
  const env = { TUG_CACHE: await tempDir(t, "tug-node-lock-cache-"), TUG_REPO: undefined };
  const first = await runTugJson<BuildJson>(["build"], { cwd: dir, env });
  assert.ok(first.artifacts.every((a) => !a.cached));

  // A pull that moved the lockfile, before `npm ci`: the installed ms is no longer the locked one.
  const lock = join(dir, "package-lock.json");
  const text = await readFile(lock, "utf8");
  await writeFile(lock, text.replace(/"version": "2\.1\.2"/, '"version": "2.1.3"'));
  const lagging = await runTug(["build", "app"], { cwd: dir, env });
  assert.equal(lagging.code, 1, lagging.stderr);
  assert.match(lagging.stderr, /inlines node_modules\/ms 2\.1\.2 but package-lock\.json locks 2\.1\.3/);
  assert.match(lagging.stderr, /npm ci/);
  await writeFile(lock, text);

  // A changed patch (patch-package applies it at install) rebuilds the bundle: false deps layer.
  await writeFile(join(dir, "patches/ms+2.1.2.patch"), "patch v2\n");
  const why = await runTug(["explain", "plain"], { cwd: dir, env });
  assert.equal(why.code, 0, why.stderr);
  assert.match(
    why.stdout,
    /node_modules linux\/\w+: would be rebuilt[\s\S]*patches\/ms\+2\.1\.2\.patch: changed/,
  );
});

test("import.meta in a CommonJS bundle (an ESM dependency finding its files) is refused for images and lambdas", async (t) => {
  const dir = await tempDir(t, "tug-node-imu-");
  await writeTree(dir, {
    "tug.yaml":
      "images:\n  app:\n    builder: node\n    context: .\n    entry: src/main.js\nlambdas:\n  fn:\n    runtime: nodejs20.x\n    handler: src/main.js:handler\n",
    "package.json": '{ "name": "imu", "private": true }\n',
    "src/main.js": 'const { where } = require("esm-dep");\nexports.handler = async () => where();\n',
    "node_modules/esm-dep/package.json":
      '{ "name": "esm-dep", "version": "1.0.0", "type": "module", "main": "index.js" }\n',
    "node_modules/esm-dep/index.js":
      'export const where = () => new URL("./data.txt", import.meta.url).pathname;\n',
  });
  const env = { TUG_CACHE: await tempDir(t, "tug-node-imu-cache-"), TUG_REPO: undefined };
  for (const target of ["app", "fn"]) {
    const r = await runTug(["build", target], { cwd: dir, env });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /"import\.meta" is not available with the "cjs" output format/);
    assert.match(r.stderr, /node_modules\/esm-dep\/index\.js:1/);
  }
  // Made ESM, the same app bundles (ESM output keeps import.meta).
  await writeTree(dir, {
    "package.json": '{ "name": "imu", "private": true, "type": "module" }\n',
    "src/main.js": 'import { where } from "esm-dep";\nconsole.log(where());\n',
  });
  const ok = await runTug(["build", "app"], { cwd: dir, env });
  assert.equal(ok.code, 0, ok.stderr);
});
