import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { effectiveRepo, findProject, loadProject } from "../../src/config/index.ts";
import { hostPlatform } from "../../src/config/platform.ts";
import type { Project } from "../../src/config/types.ts";
import { TugError } from "../../src/errors.ts";
import { fixture } from "./fixture.ts";

const EXAMPLE = `repo: 127.0.0.1:5000/demo        # optional; also --repo / TUG_REPO. Without it: local outputs only
images:
  hello:
    builder: go                  # go | node | files | command
    context: ./hello             # go.mod + main.go, no third-party modules needed
    base: scratch
  web:
    builder: node
    context: ./web               # package.json (+ lockfile), src/server.ts
    entry: src/server.ts
    base: 127.0.0.1:5000/base/node:20   # any reference, or oci-layout:PATH[:TAG], or scratch
    platforms: [linux/amd64, linux/arm64]
    env: { PORT: "8080" }
  site:
    builder: files
    context: ./public
    dest: /srv/www
    base: oci-layout:./bases/busybox:latest
    entrypoint: ["/bin/httpd", "-f", "-p", "8080", "-h", "/srv/www"]
`;

const TREE = {
  "hello/go.mod": "module hello\n\ngo 1.22\n",
  "hello/main.go": "package main\n\nfunc main() {}\n",
  "web/package.json": '{"name":"web"}\n',
  "web/src/server.ts": "console.log('hi');\n",
  "public/index.html": "<h1>hi</h1>\n",
  "bases/busybox/": "",
};

/** Writes tug.yaml (plus the example tree) and returns the TugError loadProject throws. */
async function loadError(t: import("node:test").TestContext, yaml: string): Promise<TugError> {
  const dir = await fixture(t, { ...TREE, "tug.yaml": yaml });
  try {
    await loadProject(join(dir, "tug.yaml"));
  } catch (e) {
    assert.ok(e instanceof TugError, `expected a TugError, got ${String(e)}`);
    return e;
  }
  assert.fail("loadProject accepted an invalid tug.yaml");
}

test("the documented example loads as written", async (t) => {
  const dir = await fixture(t, { ...TREE, "tug.yaml": EXAMPLE });
  const project = await loadProject(join(dir, "tug.yaml"));
  assert.equal(project.file, join(dir, "tug.yaml"));
  assert.equal(project.dir, dir);
  assert.equal(project.repo, "127.0.0.1:5000/demo");
  assert.deepEqual(
    project.targets.map((x) => x.name),
    ["hello", "web", "site"],
  );
  const [hello, web, site] = project.targets;

  assert.equal(hello?.builder, "go");
  if (hello?.builder !== "go") return;
  assert.equal(hello.context, join(dir, "hello"));
  assert.deepEqual(hello.base, { kind: "scratch" });
  assert.deepEqual(hello.platforms, [hostPlatform()]);
  assert.equal(hello.main, ".");
  assert.equal(hello.binary, "hello");
  assert.deepEqual(hello.ldflags, []);
  assert.deepEqual(hello.tags, ["latest"]);
  assert.equal(hello.compression, undefined, "unset: the destination picks the gzip level");
  assert.match(hello.where, /^images\.hello \(.*tug\.yaml:3\)$/);

  assert.equal(web?.builder, "node");
  if (web?.builder !== "node") return;
  assert.equal(web.context, join(dir, "web"));
  assert.equal(web.entry, "src/server.ts");
  assert.equal(web.node, "20");
  assert.deepEqual(web.base, { kind: "registry", ref: "127.0.0.1:5000/base/node:20" });
  assert.deepEqual(web.platforms, [
    { os: "linux", architecture: "amd64" },
    { os: "linux", architecture: "arm64" },
  ]);
  assert.deepEqual(web.env, { PORT: "8080" });
  assert.match(web.where, /tug\.yaml:7\)$/);

  assert.equal(site?.builder, "files");
  if (site?.builder !== "files") return;
  assert.equal(site.dest, "/srv/www");
  assert.deepEqual(site.base, { kind: "layout", path: join(dir, "bases/busybox"), tag: "latest" });
  assert.deepEqual(site.entrypoint, ["/bin/httpd", "-f", "-p", "8080", "-h", "/srv/www"]);
});

test("defaults and normalisation of optional fields", async (t) => {
  const dir = await fixture(t, {
    "tug.yaml": `images:
  tool:
    builder: command
    run: make dist
    output: dist
    ports: [8080, "53/udp"]
    env: { DEBUG: true, N: 3 }
    compression: { gzip: 9 }
    user: 65532
    tags: [v1, latest]
  plain:
    builder: files
    dest: /app
    base: oci-layout:/abs/layout
    compression: none
cache:
  remote: https://cache.example.com
`,
  });
  const project = await loadProject(join(dir, "tug.yaml"));
  assert.deepEqual(project.cache, { remote: "https://cache.example.com" });
  assert.equal(project.repo, undefined);
  const [tool, plain] = project.targets;
  assert.equal(tool?.builder, "command");
  if (tool?.builder !== "command") return;
  assert.equal(tool.context, dir);
  assert.deepEqual(tool.run, ["sh", "-c", "make dist"]);
  assert.equal(tool.output, join(dir, "dist"));
  assert.equal(tool.dest, "/");
  assert.deepEqual(tool.inputs, ["."]);
  assert.deepEqual(tool.ports, ["8080/tcp", "53/udp"]);
  assert.deepEqual(tool.env, { DEBUG: "true", N: "3" });
  assert.deepEqual(tool.compression, { kind: "gzip", level: 9 });
  assert.equal(tool.user, "65532");
  assert.deepEqual(tool.tags, ["v1", "latest"]);
  assert.deepEqual(plain?.base, { kind: "layout", path: "/abs/layout", tag: "latest" });
  assert.deepEqual(plain?.compression, { kind: "none" });
});

test("oci-layout tags come after the last slash only", async (t) => {
  const dir = await fixture(t, {
    "tug.yaml":
      "images:\n  a:\n    builder: files\n    dest: /x\n    base: oci-layout:./host:5000/layout:v2\n",
  });
  const [a] = (await loadProject(join(dir, "tug.yaml"))).targets;
  assert.deepEqual(a?.base, { kind: "layout", path: join(dir, "host:5000/layout"), tag: "v2" });
});

test("malformed YAML is one error at its line", async (t) => {
  const e = await loadError(t, "images:\n  web:\n    builder: [node\n    context: ./web\n");
  assert.match(e.what, /^invalid YAML: /);
  assert.match(e.where ?? "", /tug\.yaml:\d+:\d+$/);
  assert.ok(e.hint);
});

test("duplicate keys are reported at the second one", async (t) => {
  const e = await loadError(t, "images:\n  web:\n    builder: go\n    builder: node\n");
  assert.match(e.what, /invalid YAML: Map keys must be unique/);
  assert.match(e.where ?? "", /tug\.yaml:4:5$/);
});

test("an unknown builder names the choices and points at the value", async (t) => {
  const e = await loadError(t, EXAMPLE.replace("builder: node", "builder: rust"));
  assert.equal(e.what, 'unknown builder "rust"; expected one of go, node, files, command, python');
  assert.match(e.where ?? "", /^images\.web\.builder \(.*tug\.yaml:8:14\)$/);
  assert.ok(e.hint);
});

test("a near-miss builder gets a suggestion", async (t) => {
  const e = await loadError(t, EXAMPLE.replace("builder: node", "builder: nodejs"));
  assert.equal(e.hint, 'did you mean "node"?');
});

test("a missing builder is reported at the image", async (t) => {
  const e = await loadError(t, "images:\n  app:\n    context: .\n");
  assert.match(e.what, /images\.app has no builder/);
  assert.match(e.where ?? "", /tug\.yaml:2:3\)$/);
});

test("an unknown key inside an image suggests the right one", async (t) => {
  const e = await loadError(
    t,
    EXAMPLE.replace("    dest: /srv/www", "    dest: /srv/www\n    entrypont: [x]"),
  );
  assert.match(e.what, /unknown key "entrypont" in images\.site/);
  assert.equal(e.hint, 'did you mean "entrypoint"?');
  assert.match(e.where ?? "", /^images\.site\.entrypont \(.*tug\.yaml:18:5\)$/);
});

test("a key of another builder says which builder it belongs to", async (t) => {
  const e = await loadError(
    t,
    EXAMPLE.replace("    base: scratch\n", "    base: scratch\n    external: [pg]\n"),
  );
  assert.match(e.what, /"external" is not a go option/);
  assert.match(e.hint ?? "", /builder: node/);
  assert.match(e.where ?? "", /tug\.yaml:7:5\)$/);
});

test("an unknown top-level key suggests a known one", async (t) => {
  const e = await loadError(t, `${EXAMPLE}imagse: {}\n`);
  assert.match(e.what, /unknown key "imagse"/);
  assert.equal(e.hint, 'did you mean "images"?');
  assert.match(e.where ?? "", /^imagse \(.*tug\.yaml:20:1\)$/);
});

const LAMBDAS = `python:
  index_url: file:///srv/simple
  extra_index_urls: []
  requirements: requirements.txt
lambdas:
  echo: { runtime: python3.12, architecture: x86_64, handler: lambdas/echo.py:handler }
  plot: { runtime: python3.11, architecture: x86_64, handler: lambdas/plot.py:handler, glibc: "2.28" }
`;

test("python: and lambdas: load into Python lambda targets, with or without images", async (t) => {
  const dir = await fixture(t, { "tug.yaml": LAMBDAS });
  const project = await loadProject(join(dir, "tug.yaml"));
  assert.deepEqual(project.targets, []);
  assert.deepEqual(project.python, {
    indexUrl: "file:///srv/simple",
    extraIndexUrls: [],
    requirementsFile: join(dir, "requirements.txt"),
    sourceRoots: [],
    moduleMapping: {},
    unknownImports: "warn",
    strip: { tests: false, pyi: false, docs: false },
  });
  const [echo, plot] = project.lambdas ?? [];
  assert.equal(echo?.name, "echo");
  assert.equal(echo?.handlerFile, join(dir, "lambdas", "echo.py"));
  assert.equal(echo?.handlerFunction, "handler");
  assert.equal(echo?.awsHandler, "lambdas/echo.handler");
  assert.equal(echo?.runtime.runtime, "python3.12");
  assert.match(echo?.where ?? "", /^lambdas\.echo \(.*tug\.yaml:6\)$/);
  assert.equal(plot?.language, "python");
  if (plot?.language !== "python") return;
  assert.deepEqual(plot.runtime.glibc, { major: 2, minor: 28 });
  assert.equal(plot.runtime.machine, "x86_64");

  const both = await fixture(t, { ...TREE, "tug.yaml": `${EXAMPLE}${LAMBDAS}` });
  const mixed = await loadProject(join(both, "tug.yaml"));
  assert.equal(mixed.targets.length, 3);
  assert.deepEqual(
    mixed.lambdas?.map((l) => l.name),
    ["echo", "plot"],
  );
});

test("an unknown lambda runtime or key is an error with its line", async (t) => {
  const e = await loadError(t, LAMBDAS.replace("python3.11", "python2.7"));
  assert.match(e.what, /unknown Python Lambda runtime "python2\.7"/);
  assert.match(e.where ?? "", /^lambdas\.plot \(.*tug\.yaml:7\)$/);
  const k = await loadError(t, LAMBDAS.replace("glibc:", "glibcc:"));
  assert.match(k.what, /unknown key "glibcc"/);
  assert.match(k.where ?? "", /tug\.yaml:7:/);
});

test("a missing context directory points at context", async (t) => {
  const e = await loadError(t, EXAMPLE.replace("context: ./public", "context: ./pubic"));
  assert.match(e.what, /context directory pubic does not exist/);
  assert.match(e.where ?? "", /^images\.site\.context \(.*tug\.yaml:16:14\)$/);
});

test("a missing node entry points at entry", async (t) => {
  const e = await loadError(t, EXAMPLE.replace("entry: src/server.ts", "entry: src/main.ts"));
  assert.match(e.what, /entry src\/main\.ts does not exist in web/);
  assert.match(e.where ?? "", /tug\.yaml:10:12\)$/);
});

test("a bad platform points at the list item", async (t) => {
  const e = await loadError(t, EXAMPLE.replace("linux/arm64]", "linux/x86_64]"));
  assert.equal(e.what, 'unknown architecture "x86_64" in platform "linux/x86_64"');
  assert.match(e.hint ?? "", /did you mean "linux\/amd64"\?/);
  assert.match(e.where ?? "", /^images\.web\.platforms\[1\] \(.*tug\.yaml:12:30\)$/);
});

test("a platform without an architecture", async (t) => {
  const e = await loadError(t, EXAMPLE.replace("[linux/amd64, linux/arm64]", "[aarch64]"));
  assert.match(e.what, /is not of the form os\/arch/);
  assert.match(e.hint ?? "", /linux\/arm64/);
});

test("bad base references point at base", async (t) => {
  for (const [base, pattern] of [
    ["127.0.0.1:5000/Base/node:20", /lowercase/],
    ["node:20@sha256:abc", /digest/],
    ["oci-layout:", /needs a directory/],
    ["oci-layout:./x:bad tag", /not a valid tag/],
    ["registry:5000/ba se", /expected a reference/],
  ] as const) {
    const e = await loadError(t, EXAMPLE.replace("base: 127.0.0.1:5000/base/node:20", `base: "${base}"`));
    assert.match(e.what, pattern, base);
    assert.match(e.where ?? "", /^images\.web\.base \(.*tug\.yaml:11:11\)$/, base);
  }
});

test("wrong types name the expected shape", async (t) => {
  const e = await loadError(
    t,
    EXAMPLE.replace(
      `entrypoint: ["/bin/httpd", "-f", "-p", "8080", "-h", "/srv/www"]`,
      "entrypoint: /bin/httpd",
    ),
  );
  assert.match(e.what, /images\.site\.entrypoint must be a list, not the string "\/bin\/httpd"/);
  assert.equal(e.hint, 'write a list: entrypoint: ["/bin/httpd"]');
});

test("a missing required field is reported at its image with a hint", async (t) => {
  const e = await loadError(t, EXAMPLE.replace("    dest: /srv/www\n", ""));
  assert.match(e.what, /images\.site needs "dest"/);
  assert.match(e.hint ?? "", /absolute directory in the image/);
  assert.match(e.where ?? "", /tug\.yaml:14:3\)$/);
});

test("invalid image names are reported at the key", async (t) => {
  const e = await loadError(t, "images:\n  My_App:\n    builder: go\n");
  assert.match(e.what, /image name "My_App" is not valid/);
  assert.match(e.hint ?? "", /try "my_app"/);
  assert.match(e.where ?? "", /tug\.yaml:2:3\)$/);
});

test("several problems: the first in the file, and a count of the rest", async (t) => {
  const e = await loadError(
    t,
    EXAMPLE.replace("builder: go ", "builder: gp ")
      .replace("dest: /srv/www", "dest: srv/www")
      .replace("imagse", ""),
  );
  assert.match(e.what, /^unknown builder "gp".*\(and 1 more\)$/);
  assert.match(e.where ?? "", /tug\.yaml:4:14\)$/);
});

test("relative in-image paths are rejected with a fix", async (t) => {
  const e = await loadError(t, EXAMPLE.replace("dest: /srv/www", "dest: srv/www"));
  assert.equal(e.what, "dest must be an absolute path in the image");
  assert.equal(e.hint, "use /srv/www");
});

test("an empty file and a file without images", async (t) => {
  assert.match((await loadError(t, "# nothing\n")).what, /is empty/);
  assert.match((await loadError(t, "repo: r.example.com/x\n")).what, /defines no images/);
  assert.match((await loadError(t, "- a\n")).what, /must be a mapping/);
});

test("a bad repo is reported at repo", async (t) => {
  const e = await loadError(t, EXAMPLE.replace("127.0.0.1:5000/demo ", "127.0.0.1:5000/Demo "));
  assert.match(e.what, /lowercase/);
  assert.match(e.where ?? "", /^repo \(.*tug\.yaml:1:7\)$/);
});

test("a missing file is a TugError", async () => {
  await assert.rejects(
    loadProject("/nonexistent/tug.yaml"),
    (e) => e instanceof TugError && /cannot read/.test(e.what),
  );
});

test("findProject finds tug.yaml, then tug.yml", async (t) => {
  const a = await fixture(t, { "tug.yml": "images: {}\n" });
  assert.equal(await findProject(a), join(a, "tug.yml"));
  const b = await fixture(t, { "tug.yaml": "", "tug.yml": "" });
  assert.equal(await findProject(b), join(b, "tug.yaml"));
  const c = await fixture(t, { "other.yaml": "" });
  assert.equal(await findProject(c), undefined);
});

test("effectiveRepo: --repo beats TUG_REPO beats the file", () => {
  const project: Pick<Project, "repo"> = { repo: "file.example.com/a" };
  assert.equal(
    effectiveRepo(project, "cli.example.com/b", { TUG_REPO: "env.example.com/c" }),
    "cli.example.com/b",
  );
  assert.equal(effectiveRepo(project, undefined, { TUG_REPO: "env.example.com/c" }), "env.example.com/c");
  assert.equal(effectiveRepo(project, "", { TUG_REPO: "" }), "file.example.com/a");
  assert.equal(effectiveRepo({}, undefined, {}), undefined);
  assert.equal(effectiveRepo({}, "localhost:5000/x/", {}), "localhost:5000/x");
  assert.throws(
    () => effectiveRepo({}, undefined, { TUG_REPO: "Bad Repo" }),
    (e) => e instanceof TugError && e.where === "TUG_REPO",
  );
});

test("anchors and merge keys share settings between images", async (t) => {
  const dir = await fixture(t, {
    "a/": "",
    "b/": "",
    "tug.yaml": `x-defaults: &defaults
  builder: files
  dest: /srv
  platforms: [linux/arm64]
images:
  a: { <<: *defaults, context: a }
  b:
    <<: *defaults
    context: b
`,
  });
  const project = await loadProject(join(dir, "tug.yaml"));
  assert.deepEqual(
    project.targets.map((x) => [x.name, x.builder, x.context, x.platforms[0]?.architecture]),
    [
      ["a", "files", join(dir, "a"), "arm64"],
      ["b", "files", join(dir, "b"), "arm64"],
    ],
  );
});

test("ignore: .gitignore applies by default except to command targets; patterns are kept", async (t) => {
  const dir = await fixture(t, {
    "tug.yaml": `images:
  site: { builder: files, dest: /srv }
  tool: { builder: command, run: make, output: dist }
  tool2: { builder: command, run: make, output: dist, ignore: { git: true } }
  raw: { builder: files, dest: /srv, ignore: { git: false, patterns: ["*.psd"] } }
`,
  });
  const project = await loadProject(join(dir, "tug.yaml"));
  assert.deepEqual(Object.fromEntries(project.targets.map((x) => [x.name, x.ignore])), {
    site: { git: true, patterns: [] },
    tool: { git: false, patterns: [] },
    tool2: { git: true, patterns: [] },
    raw: { git: false, patterns: ["*.psd"] },
  });
  const bad = await fixture(t, {
    "tug.yaml": "images:\n  s: { builder: files, dest: /srv, ignore: { gti: false } }\n",
  });
  await assert.rejects(loadProject(join(bad, "tug.yaml")), /gti/);
});
