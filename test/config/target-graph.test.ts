// `base: tug://NAME` graphs: ordering (pure) and the located errors loadProject gives for bad
// graphs and bad `layers:` entries.
import assert from "node:assert/strict";
import { symlink } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { loadProject } from "../../src/config/index.ts";
import { buildOrder, graphProblems } from "../../src/config/target-graph.ts";
import type { FilesTarget, ImageTarget, Platform } from "../../src/config/types.ts";
import { TugError } from "../../src/errors.ts";
import { fixture } from "./fixture.ts";

const AMD64: Platform = { os: "linux", architecture: "amd64" };
const ARM64: Platform = { os: "linux", architecture: "arm64" };

function files(name: string, base?: string, platforms: Platform[] = [AMD64]): FilesTarget {
  return {
    name,
    where: `images.${name}`,
    context: "/ctx",
    base: base === undefined ? { kind: "scratch" } : { kind: "target", name: base },
    platforms,
    env: {},
    ports: [],
    labels: {},
    annotations: {},
    tags: ["latest"],
    builder: "files",
    dest: "/",
  };
}

const names = (ts: ImageTarget[]) => ts.map((t) => t.name);

test("buildOrder: bases before dependents, the closure of the selection, tug.yaml order otherwise", () => {
  const all = [
    files("final", "app"),
    files("lone"),
    files("app", "assets"),
    files("assets"),
    files("other", "assets"),
  ];
  assert.deepEqual(names(buildOrder(all, all)), ["assets", "app", "final", "lone", "other"]);
  // Naming the last of a chain alone still builds the two it stands on, first.
  assert.deepEqual(names(buildOrder(all, [all[0]!])), ["assets", "app", "final"]);
  assert.deepEqual(names(buildOrder(all, [all[4]!, all[1]!])), ["lone", "assets", "other"]);
});

test("graphProblems: unknown names with a suggestion, one report per cycle, self bases, missing platforms", () => {
  assert.deepEqual(graphProblems([files("a", "b"), files("b")]), []);
  const [unknown] = graphProblems([files("web", "asets"), files("assets")]);
  assert.equal(unknown?.target, "web");
  assert.match(unknown!.what, /tug:\/\/asets names no image/);
  assert.match(unknown!.hint, /did you mean tug:\/\/assets\?/);

  const cycle = graphProblems([files("a", "c"), files("b", "a"), files("c", "b"), files("d", "a")]);
  assert.equal(cycle.length, 1, JSON.stringify(cycle));
  assert.equal(cycle[0]!.what, "base cycle: a → c → b → a");

  const [self] = graphProblems([files("x", "x")]);
  assert.match(self!.what, /x is its own base/);

  const [platform] = graphProblems([
    files("app", "assets", [AMD64, ARM64]),
    files("assets", undefined, [AMD64]),
  ]);
  assert.match(platform!.what, /tug:\/\/assets is not built for linux\/arm64/);
  assert.match(platform!.hint, /add linux\/arm64 to images\.assets\.platforms/);
  // The base may offer more platforms than its dependent needs.
  assert.deepEqual(
    graphProblems([files("app", "assets", [ARM64]), files("assets", undefined, [AMD64, ARM64])]),
    [],
  );
});

test("buildOrder refuses a graph loadProject would have refused (API callers)", () => {
  assert.throws(
    () => buildOrder([files("a", "b"), files("b", "a")], [files("a", "b")]),
    (e: unknown) => e instanceof TugError && /base cycle/.test(e.what) && e.where === "images.a",
  );
});

async function loadError(t: TestContext, tree: Record<string, string>): Promise<TugError> {
  const dir = await fixture(t, tree);
  const e = await loadProject(join(dir, "tug.yaml")).then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.ok(e instanceof TugError, `expected a TugError, got ${String(e)}`);
  return e;
}

const CHAIN = `images:
  final:
    builder: files
    dest: /srv
    base: tug://app
  app:
    builder: files
    dest: /srv
    base: tug://assets
  assets:
    builder: files
    dest: /srv
    base: BASE
`;

test("loadProject: tug:// bases parse; a cycle and an unknown name point at the base: line", async (t) => {
  const dir = await fixture(t, { "tug.yaml": CHAIN.replace("BASE", "scratch") });
  const project = await loadProject(join(dir, "tug.yaml"));
  assert.deepEqual(project.targets[0]?.base, { kind: "target", name: "app" });

  const cycle = await loadError(t, { "tug.yaml": CHAIN.replace("BASE", "tug://final") });
  assert.equal(cycle.what, "base cycle: final → app → assets → final");
  assert.ok(
    cycle.where?.endsWith("tug.yaml:5:11)") && cycle.where.startsWith("images.final.base ("),
    cycle.where,
  );

  const unknown = await loadError(t, {
    "tug.yaml": CHAIN.replace("BASE", "scratch").replace("tug://assets", "tug://asset"),
  });
  assert.match(unknown.what, /tug:\/\/asset names no image/);
  assert.ok(
    unknown.where?.endsWith("tug.yaml:9:11)") && unknown.where.startsWith("images.app.base ("),
    unknown.where,
  );

  const bad = await loadError(t, {
    "tug.yaml": CHAIN.replace("BASE", "scratch").replace("tug://assets", "tug://Assets/x"),
  });
  assert.match(bad.what, /"tug:\/\/Assets\/x" is not a tug reference/);
});

const LAYERS = (entry: string) => `images:
  app:
    builder: files
    dest: /srv
    layers:
      - ${entry}
`;

test("loadProject: layers: normalised; to must be absolute without .., from inside the context", async (t) => {
  const dir = await fixture(t, {
    "tug.yaml": LAYERS("{ from: ./kodata/, to: /var/run/ko/ }"),
    "kodata/a.txt": "a",
  });
  const [app] = (await loadProject(join(dir, "tug.yaml"))).targets;
  assert.deepEqual(app?.layers, [{ from: "kodata", to: "/var/run/ko" }]);

  const relative = await loadError(t, {
    "tug.yaml": LAYERS("{ from: kodata, to: var/run/ko }"),
    "kodata/a": "",
  });
  assert.equal(relative.what, "layers.to must be an absolute path in the image");
  assert.ok(
    relative.where?.endsWith("tug.yaml:6:29)") && relative.where.startsWith("images.app.layers[0].to ("),
    relative.where,
  );

  const dots = await loadError(t, {
    "tug.yaml": LAYERS("{ from: kodata, to: /srv/../etc }"),
    "kodata/a": "",
  });
  assert.equal(dots.what, "layers.to must not contain ..");

  const outside = await loadError(t, { "tug.yaml": LAYERS("{ from: ../x, to: /x }") });
  assert.equal(outside.what, "layers.from must be a path inside the context");

  const missing = await loadError(t, { "tug.yaml": LAYERS("{ from: kodata, to: /x }") });
  assert.equal(missing.what, "layers[0].from: kodata does not exist");
  assert.ok(
    missing.where?.endsWith("tug.yaml:6:17)") && missing.where.startsWith("images.app.layers[0].from ("),
    missing.where,
  );

  const linked = await fixture(t, { "tug.yaml": LAYERS("{ from: kodata, to: /x }") });
  await symlink("/etc", join(linked, "kodata"));
  const viaSymlink = await loadProject(join(linked, "tug.yaml")).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(viaSymlink instanceof TugError);
  assert.match(viaSymlink.what, /layers\[0\]\.from: kodata resolves outside the context \(to \/etc\)/);
});
