// Node apps as users write them (CommonJS Express with static files, ESM reading files next to
// its modules, apps that cannot be bundled, native addons) built by tug onto a node base and run
// by podman; the Express app is also built by buildah from the equivalent Dockerfile and both
// images must answer the same.
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type TestContext, test } from "node:test";
import { type Base, makeNodeBase, makeNodeIndexBase } from "../support/bases.ts";
import { runTug, runTugJson } from "../support/cli.ts";
import { copyInstalled, npmInstalled } from "../support/npm-project.ts";
import { tempDir } from "../support/tmp.ts";
import { buildahBud, podmanRun, podmanRunDetached, runTool, waitForHttp } from "../support/tools.ts";

const HOST_ARCH = process.arch === "arm64" ? "arm64" : "amd64";
const OTHER_ARCH = HOST_ARCH === "arm64" ? "amd64" : "arm64";

let nodeBase: Promise<Base> | undefined;
const node = () => {
  nodeBase ??= makeNodeBase();
  return nodeBase;
};

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [p, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, p)), { recursive: true });
    await writeFile(join(dir, p), text);
  }
}

async function project(t: TestContext, files: Record<string, string>, installed?: string) {
  const dir = await tempDir(t, "tug-node-app-");
  if (installed) await copyInstalled(installed, dir);
  await writeFiles(dir, files);
  const cache = await tempDir(t, "tug-node-cache-");
  return { dir, opts: { cwd: dir, env: { TUG_CACHE: cache, TUG_REPO: undefined } } };
}

const yaml = (base: Base, fields: string) => `images:
  web:
    builder: node
    context: .
    base: oci-layout:${base.layout}:latest
    env: { PORT: "8080" }
${fields
  .trim()
  .split("\n")
  .map((l) => `    ${l}`)
  .join("\n")}
`;

interface BuildJson {
  artifacts: Array<{ target: string; digest: string; cached: boolean }>;
}

interface Manifest {
  mediaType?: string;
  layers?: Array<{ digest: string }>;
  manifests?: Array<{
    digest: string;
    platform?: { architecture: string };
    annotations?: Record<string, string>;
  }>;
}

/** The manifest of `tag` (for `arch` if it is an index), read from the OCI layout's JSON files. */
async function layoutManifest(layout: string, tag: string, arch = HOST_ARCH): Promise<Manifest> {
  const blob = async (digest: string) =>
    JSON.parse(await readFile(join(layout, "blobs", ...digest.split(":")), "utf8")) as Manifest;
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as Manifest;
  const top = index.manifests?.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag);
  assert.ok(top, `${tag} in ${layout}`);
  const m = await blob(top.digest);
  if (!m.manifests) return m;
  const inner = m.manifests.find((x) => x.platform?.architecture === arch);
  assert.ok(inner, `${arch} in the index of ${tag}`);
  return blob(inner.digest);
}

/** Paths in a layer blob, as GNU tar lists them. */
async function layerPaths(layout: string, digest: string): Promise<string[]> {
  const r = await runTool("tar", ["-tzf", join(layout, "blobs", ...digest.split(":"))]);
  return r.stdout.split("\n").filter(Boolean);
}

// ---- Express, CommonJS ----------------------------------------------------------------------

const EXPRESS_APP = {
  "src/server.js": `const fs = require("node:fs");
const path = require("node:path");
const express = require("express");
const config = require("./config.json");
const app = express();
app.use("/static", express.static(path.join(__dirname, "..", "static")));
app.get("/", (_req, res) => {
  const page = fs.readFileSync(path.join(__dirname, "..", "views", "index.html"), "utf8").trim();
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package.json"), "utf8"));
  res.type("text/plain").send([config.greeting, page, pkg.name, path.relative("/app", __filename)].join("\\n"));
});
app.get("/plugin", (_req, res) => {
  // A computed require: no bundler can follow it, the file must be in the image.
  const name = ["hel", "lo"].join("");
  res.type("text/plain").send(require(path.join(__dirname, "plugins", name + ".js"))());
});
app.listen(Number(process.env.PORT), () => console.log("listening"));
`,
  "src/config.json": '{ "greeting": "hello from express" }\n',
  "src/plugins/hello.js": 'module.exports = () => "plugin loaded at run time";\n',
  "views/index.html": "<h1>index view</h1>\n",
  "static/hello.txt": "a static file\n",
  "static/app.js": 'document.title = "browser script";\n',
  ".dockerignore": ".tug\ntug.yaml\n",
};
const EXPRESS_PATHS = ["/", "/static/hello.txt", "/static/app.js", "/plugin", "/missing"];

async function responses(t: TestContext, image: string): Promise<string[]> {
  const box = await podmanRunDetached(t, image, [], { publish: [8080], env: { PORT: "8080" } });
  const url = `http://127.0.0.1:${box.ports[8080]}`;
  await waitForHttp(`${url}/`, { timeoutMs: 60_000 }).catch(async (e) => {
    throw new Error(`${image} did not serve: ${String(e)}\n${await box.logs()}`);
  });
  const out: string[] = [];
  for (const p of EXPRESS_PATHS) {
    const res = await fetch(url + p);
    out.push(`${p} ${res.status} ${res.headers.get("content-type")}\n${await res.text()}`);
  }
  await box.stop();
  return out;
}

test("an unchanged Express CommonJS app answers like its Dockerfile build", async (t) => {
  const base = await node();
  const p = await project(t, EXPRESS_APP, await npmInstalled({ express: "4.21.2" }));
  await writeFile(join(p.dir, "tug.yaml"), yaml(base, "entry: src/server.js"));
  await runTugJson<BuildJson>(["build"], p.opts);
  const layout = join(p.dir, ".tug", "out", "oci");

  const manifest = await layoutManifest(layout, "web");
  const [assets, app] = (manifest.layers ?? []).slice(-2).map((l) => l.digest);
  const appPaths = await layerPaths(layout, app!);
  assert.ok(appPaths.includes("app/src/server.js"), appPaths.join(" "));
  assert.ok(appPaths.includes("app/src/plugins/hello.js"), "a file the bundle did not read ships as it is");
  assert.ok(appPaths.includes("app/static/app.js"), "a browser script is not a bundle input");
  assert.ok(!appPaths.some((x) => x.includes("node_modules")), "express is inside the bundle");
  const assetPaths = await layerPaths(layout, assets!);
  for (const f of ["app/views/index.html", "app/static/hello.txt", "app/package.json", "app/src/config.json"])
    assert.ok(assetPaths.includes(f), `${f} in ${assetPaths.join(" ")}`);
  assert.ok(!assetPaths.some((x) => x.includes("node_modules") || x.endsWith(".js")), assetPaths.join(" "));

  const dockerDir = await tempDir(t, "tug-node-docker-");
  await writeFile(
    join(dockerDir, "Dockerfile"),
    `FROM oci:${base.layout}:latest
WORKDIR /app
COPY . /app/
ENV NODE_ENV=production PORT=8080
ENTRYPOINT ["node", "/app/src/server.js"]
`,
  );
  const reference = await buildahBud(t, {
    dockerfile: join(dockerDir, "Dockerfile"),
    context: p.dir,
    out: join(dockerDir, "oci"),
  });
  const fromTug = await responses(t, `oci:${layout}:web`);
  const fromDockerfile = await responses(t, reference);
  assert.deepEqual(fromTug, fromDockerfile);
  assert.match(
    fromTug[0]!,
    /^\/ 200 text\/plain.*\nhello from express\n<h1>index view<\/h1>\napp\nsrc\/server\.js$/,
  );
  assert.match(fromTug[1]!, /a static file/);
  assert.match(fromTug[3]!, /plugin loaded at run time/);
});

// ---- ESM ------------------------------------------------------------------------------------

test("an ESM TypeScript app reads files relative to import.meta.url; bundled CommonJS can require", async (t) => {
  const base = await node();
  const p = await project(t, {
    "package.json": '{ "name": "esm-app", "type": "module" }\n',
    "settings.json": '{ "mode": "prod" }\n',
    "data/message.txt": "hello from data\n",
    "src/templates/page.html": "<p>page</p>\n",
    "src/legacy.cjs": 'exports.kind = "commonjs";\nexports.sep = require("node:path").sep;\n',
    "src/main.ts": `import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import legacy from "./legacy.cjs";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const message: string = readFileSync(new URL("../data/message.txt", import.meta.url), "utf8").trim();
const template = readFileSync(join(here, "templates", "page.html"), "utf8").trim();
const settings = require("../settings.json");
console.log(JSON.stringify({ message, template, settings, kind: legacy.kind, sep: legacy.sep, url: import.meta.url }));
`,
  });
  await writeFile(join(p.dir, "tug.yaml"), yaml(base, "entry: src/main.ts"));
  await runTugJson<BuildJson>(["build"], p.opts);
  const layout = join(p.dir, ".tug", "out", "oci");
  const r = await podmanRun(`oci:${layout}:web`, []);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    message: "hello from data",
    template: "<p>page</p>",
    settings: { mode: "prod" },
    kind: "commonjs",
    sep: "/",
    url: "file:///app/src/main.js",
  });
  const manifest = await layoutManifest(layout, "web");
  const paths = (
    await Promise.all((manifest.layers ?? []).slice(-2).map((l) => layerPaths(layout, l.digest)))
  ).flat();
  assert.ok(paths.includes("app/src/main.js"));
  assert.ok(
    !paths.includes("app/src/main.ts") && !paths.includes("app/src/legacy.cjs"),
    "bundled sources stay out",
  );
});

// ---- bundle: false ----------------------------------------------------------------------------

test("bundle: false ships sources as they are over a lockfile node_modules layer a source edit keeps", async (t) => {
  const base = await makeNodeIndexBase(join(await tempDir(t, "tug-node-base-"), "layout"), OTHER_ARCH);
  const p = await project(
    t,
    {
      "src/server.js": `const express = require("express");
const app = express();
app.get("/", (_req, res) => res.type("text/plain").send(require("./message.js") + " " + __filename));
app.listen(Number(process.env.PORT), () => console.log("listening"));
`,
      "src/message.js": 'module.exports = "version one";\n',
    },
    await npmInstalled({ express: "4.21.2" }),
  );
  await writeFile(
    join(p.dir, "tug.yaml"),
    yaml(base, `entry: src/server.js\nbundle: false\nplatforms: [linux/${HOST_ARCH}, linux/${OTHER_ARCH}]`),
  );
  await runTugJson<BuildJson>(["build"], p.opts);
  const layout = join(p.dir, ".tug", "out", "oci");
  const layers = async (arch: string) =>
    ((await layoutManifest(layout, "web", arch)).layers ?? []).slice(-2).map((l) => l.digest);
  const [deps1, app1] = await layers(HOST_ARCH);
  const [otherDeps1] = await layers(OTHER_ARCH);
  const depsPaths = await layerPaths(layout, deps1!);
  assert.ok(depsPaths.includes("app/node_modules/express/package.json"), depsPaths.slice(0, 20).join(" "));
  // The other platform's node_modules comes from npm ci of the same lockfile: the same packages.
  assert.deepEqual(await layerPaths(layout, otherDeps1!), depsPaths);
  assert.deepEqual((await layerPaths(layout, app1!)).filter((x) => !x.endsWith("/")).sort(), [
    "app/package-lock.json",
    "app/package.json",
    "app/src/message.js",
    "app/src/server.js",
    "app/tug.yaml",
  ]);
  const box = await podmanRunDetached(t, `oci:${layout}:web`, [], { publish: [8080], env: { PORT: "8080" } });
  const first = await waitForHttp(`http://127.0.0.1:${box.ports[8080]}/`, { timeoutMs: 60_000 });
  assert.equal(first.body, "version one /app/src/server.js");
  await box.stop();

  await writeFile(join(p.dir, "src", "message.js"), 'module.exports = "version two";\n');
  await runTugJson<BuildJson>(["build"], p.opts);
  const [deps2, app2] = await layers(HOST_ARCH);
  const [otherDeps2] = await layers(OTHER_ARCH);
  assert.equal(deps2, deps1, "a source edit keeps the node_modules layer");
  assert.equal(otherDeps2, otherDeps1);
  assert.notEqual(app2, app1);
  const again = await podmanRunDetached(t, `oci:${layout}:web`, [], {
    publish: [8080],
    env: { PORT: "8080" },
  });
  assert.equal(
    (await waitForHttp(`http://127.0.0.1:${again.ports[8080]}/`, { timeoutMs: 60_000 })).body,
    "version two /app/src/server.js",
  );
});

test("bundle: false refuses a TypeScript entry, dependencies without package-lock.json, a lockfile not installed", async (t) => {
  const base = await node();
  const ts = await project(t, { "src/server.ts": "console.log(1 as number);\n", "package.json": "{}\n" });
  await writeFile(join(ts.dir, "tug.yaml"), yaml(base, "entry: src/server.ts\nbundle: false"));
  const r = await runTug(["build"], ts.opts);
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /entry src\/server\.ts is TypeScript, and bundle: false runs the sources as they are/,
  );
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");

  const nolock = await project(t, {
    "index.js": "require('left-pad');\n",
    "package.json": '{ "dependencies": { "left-pad": "1.3.0" } }\n',
  });
  await writeFile(join(nolock.dir, "tug.yaml"), yaml(base, "entry: index.js\nbundle: false"));
  const n = await runTug(["build"], nolock.opts);
  assert.notEqual(n.code, 0);
  assert.match(n.stderr, /installs node_modules from package-lock\.json.*none \(dependencies: left-pad\)/);

  // A lockfile whose packages are not installed on this machine: nothing is guessed.
  await writeFile(
    join(nolock.dir, "package-lock.json"),
    JSON.stringify({
      lockfileVersion: 3,
      packages: {
        "": { dependencies: { "left-pad": "1.3.0" } },
        "node_modules/left-pad": { version: "1.3.0" },
      },
    }),
  );
  const stale = await runTug(["build"], nolock.opts);
  assert.notEqual(stale.code, 0);
  assert.match(stale.stderr, /node_modules\/left-pad \(1\.3\.0, in package-lock\.json\) is not installed/);
  assert.match(stale.stderr, /run npm ci in the context/);
});

// ---- native addons ------------------------------------------------------------------------------

// better-sqlite3's install downloads a prebuilt binary from GitHub, unreachable here, then
// compiles with node-gyp against /usr/include/node: ~3.5 min on two cores, once per machine
// (npmInstalled caches it), hence the longer timeout.
test("a native addon compiled at install time: the host platform queries sqlite, the other fails naming it", {
  timeout: 900_000,
}, async (t) => {
  const base = await makeNodeIndexBase(join(await tempDir(t, "tug-node-base-"), "layout"), OTHER_ARCH);
  const p = await project(
    t,
    {
      "src/db.js": `const Database = require("better-sqlite3");
const db = new Database(":memory:");
db.exec("create table t (x text)");
db.prepare("insert into t values (?)").run("hello sqlite");
console.log(db.prepare("select x from t").get().x);
`,
    },
    await npmInstalled({ "better-sqlite3": "12.11.1" }),
  );
  await writeFile(
    join(p.dir, "tug.yaml"),
    yaml(base, `entry: src/db.js\nplatforms: [linux/${HOST_ARCH}, linux/${OTHER_ARCH}]`),
  );
  const failed = await runTug(["build"], p.opts);
  assert.notEqual(failed.code, 0, failed.stdout);
  assert.match(
    failed.stderr,
    new RegExp(`native package better-sqlite3 has no binary for linux/${OTHER_ARCH}`),
  );
  assert.match(failed.stderr, /no \.node file: it is compiled when installed/);
  assert.match(failed.stderr, new RegExp(`drop linux/${OTHER_ARCH} from platforms`));

  await writeFile(join(p.dir, "tug.yaml"), yaml(base, "entry: src/db.js"));
  await runTugJson<BuildJson>(["build"], p.opts);
  const layout = join(p.dir, ".tug", "out", "oci");
  // Layers: the base's, then deps (native packages), assets (package.json…), the bundle.
  const deps = ((await layoutManifest(layout, "web")).layers ?? []).at(-3)!.digest;
  assert.ok(
    (await layerPaths(layout, deps)).includes(
      "app/node_modules/better-sqlite3/build/Release/better_sqlite3.node",
    ),
  );
  const r = await podmanRun(`oci:${layout}:web`, []);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "hello sqlite");
});
