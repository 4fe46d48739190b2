// Ignore files end to end: what .dockerignore, .gitignore and .tugignore exclude is not in the
// built layers (read back by GNU tar and podman), not in cache keys, and not a `tug dev` change.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { loadProject } from "../../src/config/index.ts";
import { dev } from "../../src/dev/dev.ts";
import type { UpdateReport } from "../../src/dev/report.ts";
import type { ArtifactReport } from "../../src/index.ts";
import { makeBusyboxBase } from "../support/bases.ts";
import { runTug, runTugJson } from "../support/cli.ts";
import { demoWebDevProject } from "../support/dev-session.ts";
import { httpText, until } from "../support/http.ts";
import { tempDir } from "../support/tmp.ts";
import { freePort, podmanRun } from "../support/tools.ts";

const DEMO = fileURLToPath(new URL("../../examples/demo/", import.meta.url));

interface BuildJson {
  artifacts: ArtifactReport[];
}

async function write(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await fs.mkdir(dirname(join(root, path)), { recursive: true });
    await fs.writeFile(join(root, path), text);
  }
}

/** Files no build may ship, and the ignore files that say so (Docker, git and tug syntax). */
const CONTEXT = {
  ".dockerignore": "# secrets never leave the machine\n**/*.log\n.env\nsecrets\n!secrets/public.txt\n",
  ".gitignore": "node_modules/\n",
  ".tugignore": "*.bak\n",
  ".env": "API_TOKEN=hunter2\n",
  "debug.log": "GET /admin 200\n",
  "logs/app/run.log": "started\n",
  "secrets/key.pem": "-----BEGIN PRIVATE KEY-----\n",
  "secrets/deep/token": "t0ken\n",
  "secrets/public.txt": "public key\n",
  "node_modules/left-pad/index.js": "module.exports = 1;\n",
  "assets/.gitignore": "*.tmp\n!keep.tmp\n",
  "assets/a.tmp": "scratch\n",
  "assets/keep.tmp": "kept\n",
  "assets/old.bak": "old\n",
};
const EXCLUDED = [
  ".env",
  "debug.log",
  "logs/app/run.log",
  "secrets/key.pem",
  "secrets/deep/token",
  "node_modules/left-pad/index.js",
  "assets/a.tmp",
  "assets/old.bak",
];

/** Every path in the image's layers, listed by GNU tar from the OCI layout tug wrote. */
async function layerPaths(layout: string, tag: string): Promise<string[]> {
  const index = JSON.parse(await fs.readFile(join(layout, "index.json"), "utf8")) as {
    manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
  };
  const entry = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag);
  assert.ok(entry, `no ${tag} in ${layout}`);
  const blob = (d: string) => join(layout, "blobs", "sha256", d.slice("sha256:".length));
  const manifest = JSON.parse(await fs.readFile(blob(entry.digest), "utf8")) as {
    layers: Array<{ digest: string }>;
  };
  const out: string[] = [];
  for (const l of manifest.layers) {
    const { stdout } = await promisify(execFile)("tar", ["-tzf", blob(l.digest)], { maxBuffer: 64 << 20 });
    out.push(...stdout.split("\n").filter(Boolean));
  }
  return out.map((p) => p.replace(/^\.?\//, "").replace(/\/$/, ""));
}

async function buildJson(dir: string, cache: string): Promise<ArtifactReport> {
  const out = await runTugJson<BuildJson>(["build"], {
    cwd: dir,
    env: { TUG_CACHE: cache, TUG_REPO: undefined },
  });
  assert.equal(out.artifacts.length, 1);
  return out.artifacts[0]!;
}

async function explainPath(dir: string, target: string, path: string): Promise<string> {
  const r = await runTug(["explain", target, "--path", path], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

test("files image: excluded files are not in the layers, podman sees the kept ones, ignored edits hit the cache", async (t) => {
  const dir = await tempDir(t, "tug-e2e-ignore-files-");
  const cache = await tempDir(t, "tug-e2e-ignore-cache-");
  const busybox = await makeBusyboxBase(join(await tempDir(t, "tug-e2e-busybox-"), "layout"));
  await write(join(dir, "site"), { ...CONTEXT, "index.html": "<h1>hi</h1>\n" });
  await fs.writeFile(
    join(dir, "tug.yaml"),
    `images:
  site:
    builder: files
    context: ./site
    dest: /srv/www
    base: oci-layout:${busybox.layout}:latest
`,
  );
  const first = await buildJson(dir, cache);
  const layout = join(dir, ".tug", "out", "oci");
  const paths = await layerPaths(layout, "site");
  for (const p of EXCLUDED)
    assert.ok(!paths.includes(`srv/www/${p}`), `${p} was shipped: ${paths.join(" ")}`);
  for (const p of [
    "index.html",
    "secrets/public.txt",
    "assets/keep.tmp",
    ".dockerignore",
    "assets/.gitignore",
  ])
    assert.ok(paths.includes(`srv/www/${p}`), `${p} is missing: ${paths.join(" ")}`);
  assert.ok(!paths.includes("srv/www/node_modules"), "an excluded directory is not shipped at all");

  const ls = await podmanRun(`oci:${layout}:site`, ["sh", "-c", "cd /srv/www && find . | sort"]);
  assert.equal(ls.code, 0, ls.stderr);
  const seen = ls.stdout.split("\n").filter(Boolean);
  assert.ok(seen.includes("./secrets/public.txt") && !seen.includes("./.env"), ls.stdout);

  // An edit to excluded files is no change at all; an edit to a kept one is.
  await fs.writeFile(join(dir, "site", ".env"), "API_TOKEN=rotated-and-longer\n");
  await fs.writeFile(join(dir, "site", "secrets", "key.pem"), "another key\n");
  await fs.appendFile(join(dir, "site", "debug.log"), "GET / 200\n");
  const again = await buildJson(dir, cache);
  assert.equal(again.cached, true);
  assert.equal(again.digest, first.digest);
  await fs.writeFile(join(dir, "site", "secrets", "public.txt"), "new public key\n");
  const changed = await buildJson(dir, cache);
  assert.equal(changed.cached, false);
  assert.notEqual(changed.digest, first.digest);

  assert.equal(await explainPath(dir, "site", ".env"), "site  .env: excluded by .dockerignore:3 (.env)");
  assert.equal(
    await explainPath(dir, "site", "secrets/deep/token"),
    // secrets/ is read for its exception; secrets/deep/ is not (Docker's walker skips it too).
    "site  secrets/deep/token: excluded: it is under secrets/deep/, which .dockerignore:4 (secrets) excludes",
  );
  assert.equal(
    await explainPath(dir, "site", "secrets/public.txt"),
    "site  secrets/public.txt: an input: re-included by .dockerignore:5 (!secrets/public.txt)",
  );
  assert.equal(
    await explainPath(dir, "site", "assets/a.tmp"),
    "site  assets/a.tmp: excluded by assets/.gitignore:1 (*.tmp)",
  );
  assert.equal(
    await explainPath(dir, "site", "node_modules/left-pad/index.js"),
    "site  node_modules/left-pad/index.js: excluded: it is under node_modules/, which .gitignore:1 (node_modules/) excludes",
  );
  assert.equal(
    await explainPath(dir, "site", "index.html"),
    "site  index.html: an input: no ignore rule matches it",
  );
});

test("node image: excluded files are neither shipped nor inputs of the bundle", async (t) => {
  const dir = await tempDir(t, "tug-e2e-ignore-node-");
  const cache = await tempDir(t, "tug-e2e-ignore-cache-");
  await fs.cp(join(DEMO, "web"), join(dir, "web"), { recursive: true });
  await write(join(dir, "web"), { ...CONTEXT, "static/index.html": "<h1>hi</h1>\n" });
  await fs.writeFile(
    join(dir, "tug.yaml"),
    "images:\n  web:\n    builder: node\n    context: ./web\n    entry: src/server.ts\n    base: scratch\n    entrypoint_check: false\n",
  );
  const first = await buildJson(dir, cache);
  const paths = await layerPaths(join(dir, ".tug", "out", "oci"), "web");
  // The bundle replaces the entry at its path; kept context files ship beside it.
  for (const kept of ["app/src/server.js", "app/static/index.html", "app/secrets/public.txt"])
    assert.ok(paths.includes(kept), `${kept} in ${paths.join(" ")}`);
  for (const p of paths) assert.ok(!EXCLUDED.some((e) => p.endsWith(`/${e}`)), `${p} was shipped`);

  for (const p of EXCLUDED) await fs.appendFile(join(dir, "web", p), "edited\n");
  const again = await buildJson(dir, cache);
  assert.equal(again.cached, true, "an edit of excluded files keeps every step cached");
  assert.equal(again.digest, first.digest);
  await fs.writeFile(join(dir, "web", "static", "index.html"), "<h1>changed</h1>\n");
  const kept = await buildJson(dir, cache);
  assert.equal(kept.cached, false, "a kept context file is an input of the node image");

  // A source the bundle imports but an ignore file excludes would not key the bundle: refused.
  await write(join(dir, "web"), {
    "src/generated/gen.ts": 'export const gen = "one";\n',
    "src/.gitignore": "generated/\n",
  });
  const server = join(dir, "web", "src", "server.ts");
  await fs.writeFile(
    server,
    `import { gen } from "./generated/gen.ts";\nconsole.log(gen);\n${await fs.readFile(server, "utf8")}`,
  );
  const refused = await runTug(["build"], { cwd: dir, env: { TUG_CACHE: cache, TUG_REPO: undefined } });
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /the bundle reads src\/generated\/gen\.ts, which is not among the target's inputs/,
  );
  await fs.writeFile(join(dir, "web", ".tugignore"), "*.bak\n!src/generated/\n");
  assert.equal((await buildJson(dir, cache)).cached, false);

  const dockerignore = await fs.readFile(join(dir, "web", ".dockerignore"), "utf8");
  await fs.appendFile(join(dir, "web", ".dockerignore"), "src/server.ts\n");
  const noEntry = await runTug(["build"], { cwd: dir, env: { TUG_CACHE: cache, TUG_REPO: undefined } });
  assert.match(noEntry.stderr, /entry src\/server\.ts is excluded by the context's ignore files/);
  await fs.writeFile(join(dir, "web", ".dockerignore"), dockerignore);

  const r = await runTug(["explain", "web", "--path", "debug.log", "--json"], { cwd: dir });
  assert.deepEqual(JSON.parse(r.stdout), {
    target: "web",
    path: "debug.log",
    exists: true,
    input: false,
    reason: "excluded by .dockerignore:2 (**/*.log)",
    rule: { source: ".dockerignore", line: 2, pattern: "**/*.log" },
  });
});

test("tug dev: an edit of an excluded file is no update; a kept one is; an ignore-file edit rebuilds", async (t) => {
  const port = await freePort();
  const dir = await demoWebDevProject(t, "tug-e2e-ignore-dev-", port);
  await write(join(dir, "web"), CONTEXT);
  const reports: UpdateReport[] = [];
  const session = await dev(await loadProject(join(dir, "tug.yaml")), {
    cacheDir: await tempDir(t, "tug-cache-"),
    onReport: (r) => reports.push(r),
    onLog: () => {},
  });
  t.after(() => session.stop());
  try {
    assert.ok(reports[0]?.ok, reports[0]?.error);
    // Excluded files first: when the kept edit's update arrives, theirs would have come before or with it.
    await fs.writeFile(join(dir, "web", ".env"), "API_TOKEN=edited\n");
    await fs.appendFile(join(dir, "web", "debug.log"), "more\n");
    await fs.writeFile(join(dir, "web", "secrets", "key.pem"), "edited\n");
    await fs.writeFile(join(dir, "web", "assets", "a.tmp"), "edited\n");
    await fs.writeFile(
      join(dir, "web", "src", "greeting.ts"),
      'export function greeting(): string {\n  return "kept edit";\n}\n',
    );
    const live = await until("the live update", () => reports.find((r) => r.action === "live-update"));
    await session.idle();
    assert.ok(live.ok, live.error);
    assert.deepEqual(live.files, ["src/greeting.ts"]);
    assert.equal(reports.length, 2, JSON.stringify(reports.map((r) => [r.action, r.files])));
    assert.equal(await httpText(port), "kept edit\n");

    await fs.appendFile(join(dir, "web", ".dockerignore"), "assets\n");
    const rebuild = await until("the rebuild", () => reports.find((r) => r.action === "rebuild"));
    await session.idle();
    assert.ok(rebuild.ok, rebuild.error);
    assert.deepEqual(rebuild.files, [".dockerignore"]);
  } finally {
    await session.stop();
  }
});
