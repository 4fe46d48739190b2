import assert from "node:assert/strict";
import { test } from "node:test";
import type { DevConfig, ImageTarget } from "../../src/config/types.ts";
import { planChanges } from "../../src/dev/planner.ts";
import { globToRegExp, matchesAny } from "../../src/engine/glob.ts";

test("globs: * stays in a segment, ** spans segments, plain paths cover directories", () => {
  assert.ok(globToRegExp("*.json").test("package.json"));
  assert.ok(!globToRegExp("*.json").test("a/package.json"));
  assert.ok(globToRegExp("**/*.json").test("a/b/package.json"));
  assert.ok(globToRegExp("**/*.json").test("package.json"));
  assert.ok(globToRegExp("src/").test("src/a/b.ts"));
  assert.ok(globToRegExp("src").test("src/a.ts"));
  assert.ok(!globToRegExp("src").test("srcx/a.ts"));
  assert.ok(globToRegExp("src/?.ts").test("src/a.ts"));
  assert.ok(matchesAny("package-lock.json", ["package.json", "package-lock.json"]));
});

const dev = (d: Partial<DevConfig> = {}): DevConfig => ({
  runtime: "local",
  fallBackOn: [],
  sync: [],
  run: [],
  restart: true,
  manifests: [],
  ...d,
});
const common = {
  name: "web",
  where: "images.web",
  context: "/ctx",
  base: { kind: "scratch" } as const,
  platforms: [{ os: "linux", architecture: "amd64" }],
  env: {},
  ports: [],
  labels: {},
  annotations: {},
  tags: ["latest"],
};
const node = (d?: Partial<DevConfig>): ImageTarget => ({
  ...common,
  builder: "node",
  entry: "src/server.ts",
  external: [],
  node: "20",
  bundle: true,
  dev: dev(d),
});
const files = (d?: Partial<DevConfig>): ImageTarget => ({
  ...common,
  builder: "files",
  dest: "/srv/www",
  dev: dev(d),
});

test("a source edit of a bundled builder rebuilds the artifact and restarts", () => {
  const plan = planChanges(node(), [{ path: "src/greeting.ts", deleted: false }]);
  assert.equal(plan.action, "live");
  assert.ok(plan.action === "live" && plan.rebuildArtifact && plan.restart && plan.sync.length === 0);
});

test("fall_back_on and dependency lockfiles mean a full rebuild", () => {
  const t = node({ fallBackOn: ["config/**"] });
  assert.equal(planChanges(t, [{ path: "config/app.yaml", deleted: false }]).action, "rebuild");
  assert.equal(planChanges(t, [{ path: "package-lock.json", deleted: false }]).action, "rebuild");
  assert.equal(planChanges(t, [{ path: "src/a.ts", deleted: false }]).action, "live");
});

test("ignored paths are no change at all", () => {
  assert.equal(planChanges(node(), [{ path: "node_modules/x/index.js", deleted: false }]).action, "none");
  assert.equal(planChanges(node(), [{ path: ".git/index", deleted: false }]).action, "none");
});

test("sync rules map paths into the image; deletions stay deletions; run steps follow `when`", () => {
  const t = node({
    sync: [{ from: "static/", to: "/app/static/" }],
    run: [{ cmd: "echo hi", when: ["static/*.css"] }, { cmd: "always" }],
  });
  const plan = planChanges(t, [
    { path: "static/site.css", deleted: false },
    { path: "static/old.png", deleted: true },
  ]);
  assert.equal(plan.action, "live");
  if (plan.action !== "live") return;
  assert.deepEqual(
    plan.sync.map((s) => [s.to, s.deleted]),
    [
      ["/app/static/site.css", false],
      ["/app/static/old.png", true],
    ],
  );
  assert.equal(plan.rebuildArtifact, false, "everything changed was synced");
  assert.deepEqual(plan.run, ["echo hi", "always"]);
});

test("files targets sync their context to dest; restart: false is honoured", () => {
  const plan = planChanges(files({ restart: false }), [{ path: "css/a.css", deleted: false }]);
  assert.ok(plan.action === "live");
  if (plan.action !== "live") return;
  assert.deepEqual(
    plan.sync.map((s) => s.to),
    ["/srv/www/css/a.css"],
  );
  assert.equal(plan.restart, false);
  // With explicit rules, a file outside them can only arrive by a rebuild: never synced elsewhere.
  const strict = planChanges(files({ sync: [{ from: "public/", to: "/srv/www/" }] }), [
    { path: "secret.txt", deleted: false },
  ]);
  assert.equal(strict.action, "rebuild");
});

test("an edit of an ignore file rebuilds: it changes which files are inputs", () => {
  for (const path of [".dockerignore", ".tugignore", "src/.gitignore"]) {
    const plan = planChanges(files(), [
      { path: "index.html", deleted: false },
      { path, deleted: false },
    ]);
    assert.equal(plan.action, "rebuild", path);
    assert.ok(plan.action === "rebuild" && plan.reason.includes(path));
  }
});

test("a file of a layers: entry syncs to where that layer puts it, without rebuilding the artifact", () => {
  // A Go service (a node image would also ship kodata/ under /app, as an asset).
  const web = { ...node(), builder: "go", layers: [{ from: "kodata", to: "/var/run/ko" }] } as ImageTarget;
  const plan = planChanges(web, [{ path: "kodata/sub/greeting.txt", deleted: false }]);
  assert.ok(plan.action === "live", JSON.stringify(plan));
  assert.equal(plan.rebuildArtifact, false);
  assert.deepEqual(
    plan.sync.map((c) => c.to),
    ["/var/run/ko/sub/greeting.txt"],
  );
  // A single-file layer, and a files target that also ships the file under dest.
  const site = { ...files(), layers: [{ from: "conf/app.json", to: "/etc/app.json" }] };
  const both = planChanges(site, [{ path: "conf/app.json", deleted: true }]);
  assert.ok(both.action === "live");
  assert.deepEqual(
    both.sync.map((c) => [c.to, c.deleted]),
    [
      ["/srv/www/conf/app.json", true],
      ["/etc/app.json", true],
    ],
  );
  // Outside every layer, the builder's own rules apply as before.
  const other = planChanges(web, [{ path: "kodatax/a.txt", deleted: false }]);
  assert.ok(other.action === "live" && other.rebuildArtifact && other.sync.length === 0);
});

test("python: a source edit syncs into /app (source roots stripped) and restarts; requirements rebuild", () => {
  const py: ImageTarget = {
    ...common,
    builder: "python",
    requirements: "/ctx/reqs/prod.txt",
    module: "server",
    python: [3, 11],
    pythonFullVersion: "3.11.0",
    glibc: "2.28",
    sourceRoots: ["/ctx/src"],
    extraIndexUrls: [],
    dev: dev(),
  };
  const plan = planChanges(py, [
    { path: "src/pkg/views.py", deleted: false },
    { path: "tools/x.py", deleted: true },
  ]);
  assert.equal(plan.action, "live");
  assert.ok(plan.action === "live" && !plan.rebuildArtifact && plan.restart);
  assert.deepEqual(plan.action === "live" && plan.sync.map((s) => [s.to, s.deleted]), [
    ["/app/pkg/views.py", false],
    ["/app/tools/x.py", true],
  ]);
  assert.equal(planChanges(py, [{ path: "reqs/prod.txt", deleted: false }]).action, "rebuild");
  assert.equal(planChanges(py, [{ path: "uv.lock", deleted: false }]).action, "rebuild");
});

test("a change outside the context (a Go module reached by replace) is rebuilt, never synced", () => {
  const target = {
    name: "svc",
    builder: "go",
    context: "/p/svc",
    dev: { sync: [{ from: ".", to: "/app" }] },
  } as unknown as Parameters<typeof planChanges>[0];
  const plan = planChanges(target, [{ path: "../shared/greet.go", deleted: false }]);
  assert.equal(plan.action, "live");
  assert.ok(plan.action === "live" && plan.rebuildArtifact, "the binary is rebuilt");
  assert.deepEqual(plan.action === "live" ? plan.sync : [], []);
});

test("node without sync rules: non-code files sync to /app/PATH, code rebuilds the bundle; bundle: false syncs all", () => {
  const changes = [
    { path: "views/index.html", deleted: false },
    { path: "src/routes.ts", deleted: false },
    { path: "data/old.json", deleted: true },
  ];
  const bundled = planChanges(node(), changes);
  assert.ok(bundled.action === "live");
  if (bundled.action !== "live") return;
  assert.deepEqual(
    bundled.sync.map((s) => [s.to, s.deleted]),
    [
      ["/app/views/index.html", false],
      ["/app/data/old.json", true],
    ],
  );
  assert.equal(bundled.rebuildArtifact, true, "src/routes.ts is bundled");
  const sources = planChanges({ ...node(), bundle: false } as ImageTarget, changes);
  assert.ok(sources.action === "live");
  if (sources.action !== "live") return;
  assert.deepEqual(
    sources.sync.map((s) => s.to),
    ["/app/views/index.html", "/app/src/routes.ts", "/app/data/old.json"],
  );
  assert.equal(sources.rebuildArtifact, false);
});
