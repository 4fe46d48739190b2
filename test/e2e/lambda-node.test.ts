// Node.js lambdas end to end, offline: a TypeScript handler importing a local module and an npm
// package from the fixture's node_modules, @aws-sdk left to the runtime, and a native package
// (a `file:` dependency with per-CPU optional packages, as sharp and esbuild ship) installed by
// the real npm for each lambda's architecture. npm runs with --offline and a private cache.
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import test, { type TestContext } from "node:test";
import { runTug, runTugJson } from "../support/cli.ts";
import { tempDir } from "../support/tmp.ts";
import { readZipIndependently } from "../zip/tools.ts";

const HOST = process.arch === "arm64" ? "arm64" : "x86_64";
const OTHER = HOST === "arm64" ? "x86_64" : "arm64";
const CPU = { x86_64: "x64", arm64: "arm64" } as const;

const TUG_YAML = `lambdas:
  api: { runtime: nodejs20.x, architecture: ${HOST}, handler: src/api.ts:handler }
  other:
    runtime: nodejs22.x
    architecture: ${OTHER}
    handler: src/api.ts:handler
    minify: true
`;

const API = `import tiny from "tiny";
import native from "fakenative";
import { greet } from "./lib/greet.ts";

export const handler = async (event: { name?: string; s3?: boolean; fail?: boolean }) => {
  if (event.s3) {
    const { S3Client } = await import("@aws-sdk/client-s3");
    return typeof S3Client;
  }
  if (event.fail) throw new Error("boom");
  return { msg: greet(event.name ?? "nobody"), n: tiny(2), arch: native.arch };
};

export function helper(): number {
  return 1;
}
`;

const GREET = 'export const greet = (n: string): string => "hi " + n;\n';

interface Project {
  dir: string;
  env: NodeJS.ProcessEnv;
}

async function put(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/** A fakenative package: binding.gyp (so it counts as native) and one optional package per CPU. */
function fakeNative(vendor: string): Record<string, string> {
  const pkg = {
    name: "fakenative",
    version: "1.2.3",
    main: "index.js",
    optionalDependencies: {
      "fakenative-linux-x64": `file:${join(vendor, "fakenative-linux-x64")}`,
      "fakenative-linux-arm64": `file:${join(vendor, "fakenative-linux-arm64")}`,
    },
  };
  const files: Record<string, string> = {
    "fakenative/package.json": JSON.stringify(pkg),
    "fakenative/index.js": 'module.exports = require("fakenative-linux-" + process.arch);\n',
    "fakenative/binding.gyp": "{}\n",
  };
  for (const cpu of ["x64", "arm64"]) {
    const name = `fakenative-linux-${cpu}`;
    files[`${name}/package.json`] = JSON.stringify({
      name,
      version: "1.2.3",
      os: ["linux"],
      cpu: [cpu],
      main: "index.js",
    });
    files[`${name}/index.js`] = `module.exports = { arch: "${cpu}" };\n`;
    files[`${name}/fakenative.node`] = `\x7fELF fake addon for ${cpu}\n`;
  }
  return files;
}

async function nodeProject(t: TestContext, yaml = TUG_YAML): Promise<Project> {
  const root = await tempDir(t, "tug-lambda-node-");
  const dir = join(root, "project");
  const vendor = join(dir, "vendor");
  const native = fakeNative(vendor);
  const installed = Object.fromEntries(
    Object.entries(native)
      .filter(([p]) => p.startsWith("fakenative/") || p.startsWith(`fakenative-linux-${process.arch}/`))
      .map(([p, c]) => [`node_modules/${p}`, c]),
  );
  await put(dir, {
    "tug.yaml": yaml,
    "package.json": JSON.stringify({
      name: "app",
      private: true,
      dependencies: { tiny: "^1.0.0", fakenative: "file:vendor/fakenative", "@aws-sdk/client-s3": "^3.0.0" },
    }),
    "src/api.ts": API,
    "src/lib/greet.ts": GREET,
    "node_modules/tiny/package.json": JSON.stringify({ name: "tiny", version: "1.0.0", main: "index.js" }),
    "node_modules/tiny/index.js": "module.exports = (x) => x * 21;\n",
    "node_modules/@aws-sdk/client-s3/package.json": JSON.stringify({
      name: "@aws-sdk/client-s3",
      version: "3.0.0",
    }),
    "node_modules/@aws-sdk/client-s3/index.js": 'exports.S3Client = class { marker = "AWS_SDK_MARKER" };\n',
    ...Object.fromEntries(Object.entries(native).map(([p, c]) => [`vendor/${p}`, c])),
    ...installed,
  });
  const env = {
    TUG_CACHE: join(root, "cache"),
    npm_config_cache: join(root, "npm-cache"),
    npm_config_offline: "true",
    npm_config_update_notifier: "false",
  };
  return { dir, env };
}

interface LambdaArtifact {
  target: string;
  kind: string;
  path: string;
  digest: string;
  bytes: number;
  unpackedBytes: number;
  distributions: Array<{ name: string; version: string; wheel: string }>;
  cached: boolean;
}

/** The zip's files as text, read back by CPython's zipfile and tested by unzip, not tug's reader. */
async function zipFiles(path: string): Promise<Map<string, string>> {
  const entries = await readZipIndependently(path);
  return new Map([...entries].filter(([n]) => !n.endsWith("/")).map(([n, b]) => [n, b.toString("utf8")]));
}

async function build(p: Project, args: string[] = []): Promise<Map<string, LambdaArtifact>> {
  const r = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build", ...args], { cwd: p.dir, env: p.env });
  return new Map(r.artifacts.map((a) => [a.target, a]));
}

const mtimes = async (...paths: string[]) =>
  Promise.all(
    paths.flatMap((p) => [p, `${p}.json`]).map(async (p) => (await stat(p, { bigint: true })).mtimeNs),
  );

test("a TS handler is bundled per lambda with natives for its CPU, invokes, and an unchanged rebuild is cached", async (t) => {
  const p = await nodeProject(t);
  const first = await build(p);
  const api = first.get("api");
  const other = first.get("other");
  assert.ok(api && other);
  assert.equal(api.kind, "lambda");
  assert.equal(api.path, join(p.dir, ".tug", "out", "lambdas", "api.zip"));
  assert.match(api.digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(api.cached, false);

  const files = await zipFiles(api.path);
  const host = `fakenative-linux-${CPU[HOST]}`;
  assert.deepEqual(
    [...files.keys()],
    [
      `node_modules/${host}/fakenative.node`,
      `node_modules/${host}/index.js`,
      `node_modules/${host}/package.json`,
      "node_modules/fakenative/binding.gyp",
      "node_modules/fakenative/index.js",
      "node_modules/fakenative/package.json",
      "src/api.js",
    ],
  );
  const bundle = files.get("src/api.js") ?? "";
  assert.match(bundle, /x \* 21/, "tiny is bundled");
  assert.match(bundle, /"hi " \+ n/, "the local module is bundled");
  assert.match(bundle, /"@aws-sdk\/client-s3"/, "@aws-sdk stays an import");
  assert.doesNotMatch(bundle, /AWS_SDK_MARKER/, "@aws-sdk is not bundled");
  assert.match(bundle, /require\("fakenative"\)/, "the native package stays a require");

  const meta = JSON.parse(await readFile(`${api.path}.json`, "utf8"));
  assert.deepEqual(meta, {
    runtime: "nodejs20.x",
    architecture: HOST,
    handler: "src/api.handler",
    digest: api.digest,
    distributions: [
      { name: "fakenative", version: "1.2.3", wheel: "" },
      { name: host, version: "1.2.3", wheel: "" },
    ],
    sbom: "api.zip.spdx.json",
  });
  assert.deepEqual(api.distributions, meta.distributions);
  // The SBOM: tiny, inlined by esbuild, and the native packages copied into node_modules/.
  const sbom = JSON.parse(await readFile(`${api.path}.spdx.json`, "utf8")) as {
    packages: Array<{ name: string; versionInfo?: string }>;
  };
  assert.deepEqual(
    sbom.packages.slice(1).map((p) => `${p.name}@${p.versionInfo}`),
    ["fakenative@1.2.3", "fakenative-linux-x64@1.2.3", "tiny@1.0.0"].map((x) => x.replace("x64", CPU[HOST])),
  );

  // The other architecture gets the other CPU's optional package, never the host's.
  const otherFiles = await zipFiles(other.path);
  const foreign = `fakenative-linux-${CPU[OTHER]}`;
  assert.ok(otherFiles.has(`node_modules/${foreign}/fakenative.node`), [...otherFiles.keys()].join("\n"));
  assert.ok(![...otherFiles.keys()].some((n) => n.includes(host)));
  assert.match(
    otherFiles.get(`node_modules/${foreign}/fakenative.node`) ?? "",
    new RegExp(`for ${CPU[OTHER]}`),
  );
  assert.ok((otherFiles.get("src/api.js") ?? "").length < bundle.length, "minified");
  const otherMeta = JSON.parse(await readFile(`${other.path}.json`, "utf8"));
  assert.equal(otherMeta.runtime, "nodejs22.x");
  assert.equal(otherMeta.architecture, OTHER);

  const invoked = await runTug(["invoke", "api", "--event", '{"name":"bob"}'], { cwd: p.dir, env: p.env });
  assert.equal(invoked.code, 0, invoked.stderr);
  assert.deepEqual(JSON.parse(invoked.stdout), { msg: "hi bob", n: 42, arch: process.arch });
  // @aws-sdk is not in the zip (the runtime has it); invoke finds the project's install instead.
  const sdk = await runTug(["invoke", "api", "--event", '{"s3":true}'], { cwd: p.dir, env: p.env });
  assert.equal(sdk.code, 0, sdk.stderr);
  assert.equal(JSON.parse(sdk.stdout), "function");

  // Nothing changed: reported cached, and neither file is rewritten.
  const before = await mtimes(api.path, other.path);
  const again = await build(p);
  assert.equal(again.get("api")?.cached, true);
  assert.equal(again.get("other")?.cached, true);
  assert.equal(again.get("api")?.digest, api.digest);
  assert.deepEqual(again.get("api")?.distributions, api.distributions);
  assert.deepEqual(await mtimes(api.path, other.path), before);

  // An edit rebuilds; undoing it rebuilds the very same bytes.
  await writeFile(join(p.dir, "src", "lib", "greet.ts"), GREET.replace("hi", "hello"));
  const edited = await build(p, ["api"]);
  assert.equal(edited.get("api")?.cached, false);
  assert.notEqual(edited.get("api")?.digest, api.digest);
  await writeFile(join(p.dir, "src", "lib", "greet.ts"), GREET);
  const undone = await build(p, ["api"]);
  assert.equal(undone.get("api")?.cached, false);
  assert.equal(undone.get("api")?.digest, api.digest);
});

test("source maps: the metadata sets NODE_OPTIONS and invoke's trace names the TypeScript line", async (t) => {
  const p = await nodeProject(
    t,
    `lambdas:\n  api: { runtime: nodejs20.x, architecture: ${HOST}, handler: src/api.ts:handler, sourcemap: true, minify: true }\n`,
  );
  const api = (await build(p)).get("api");
  assert.ok(api);
  const files = await zipFiles(api.path);
  assert.match(files.get("src/api.js") ?? "", /\/\/# sourceMappingURL=api\.js\.map\s*$/);
  const map = JSON.parse(files.get("src/api.js.map") ?? "{}") as { sources: string[] };
  assert.deepEqual(map.sources.sort(), ["../node_modules/tiny/index.js", "api.ts", "lib/greet.ts"]);
  const meta = JSON.parse(await readFile(`${api.path}.json`, "utf8"));
  assert.deepEqual(meta.environment, { NODE_OPTIONS: "--enable-source-maps" });

  const failed = await runTug(["invoke", "api", "--event", '{"fail":true}'], { cwd: p.dir, env: p.env });
  assert.notEqual(failed.code, 0);
  assert.match(failed.stderr, /raised Error: boom/);
  assert.match(failed.stderr, /src\/api\.ts:10:/, failed.stderr);
});

async function outputs(dir: string): Promise<string[]> {
  return (await readdir(join(dir, ".tug", "out", "lambdas")).catch(() => [])).sort();
}

test("a syntax error is one error at its file:line, and nothing is written", async (t) => {
  const p = await nodeProject(t);
  await writeFile(
    join(p.dir, "src", "lib", "greet.ts"),
    "export const greet = (n: string) => {\n  return 1 +;\n};\n",
  );
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.match(/^error:/gm)?.length, 1, r.stderr);
  assert.match(
    r.stderr,
    /error: esbuild could not bundle src\/api\.ts for lambda (api|other): Unexpected ";"/,
  );
  assert.match(r.stderr, /where: src\/lib\/greet\.ts:2:12/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.deepEqual(await outputs(p.dir), []);

  // With earlier outputs, a failing build leaves them exactly as they were.
  await writeFile(join(p.dir, "src", "lib", "greet.ts"), GREET);
  const good = await build(p);
  const paths = [...good.values()].map((a) => a.path);
  const before = await mtimes(...paths);
  const listed = await outputs(p.dir);
  await writeFile(
    join(p.dir, "src", "lib", "greet.ts"),
    "export const greet = (n: string) => {\n  return 1 +;\n};\n",
  );
  const again = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.notEqual(again.code, 0);
  assert.deepEqual(await mtimes(...paths), before);
  assert.deepEqual(await outputs(p.dir), listed);
});

test("a handler function the module does not export is an error listing its exports", async (t) => {
  const p = await nodeProject(t, TUG_YAML.replaceAll("src/api.ts:handler", "src/api.ts:hadnler"));
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.match(/^error:/gm)?.length, 1, r.stderr);
  assert.match(r.stderr, /handler function hadnler is not exported by src\/api\.ts/);
  assert.match(r.stderr, /it exports: handler, helper/);
  assert.deepEqual(await outputs(p.dir), []);
});

test("a missing handler file is an error naming it", async (t) => {
  const p = await nodeProject(t, TUG_YAML.replaceAll("src/api.ts", "src/apy.ts"));
  const r = await runTug(["build", "api"], { cwd: p.dir, env: p.env });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /handler file src\/apy\.ts does not exist/);
  assert.deepEqual(await outputs(p.dir), []);
});
