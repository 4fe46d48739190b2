// Issue 13 "Conventions" 2: `tug init` detects the projects below the working directory, writes a
// commented tug.yaml with the JSON Schema modeline that tug's own loader accepts, refuses to
// overwrite one, and `tug build` builds what it wrote.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { loadProject } from "../../src/config/index.ts";
import { runTug } from "../support/cli.ts";
import { tempDir } from "../support/tmp.ts";

async function write(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

test("tug init: go, node, python lambda and python service found; the tug.yaml loads and builds", async (t) => {
  const root = await tempDir(t, "tug-init-");
  await write(root, {
    "services/hello/go.mod": "module example.com/hello\n\ngo 1.19\n",
    "services/hello/main.go": 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hi") }\n',
    // The entry comes from scripts.start: no main, no index.js.
    "api/package.json": '{"name":"api","scripts":{"start":"node src/server.js"}}\n',
    "api/src/server.js": "console.log('api');\n",
    "fn/requirements.txt": "",
    "fn/echo.py": "import json\n\n\ndef handler(event, context):\n    return {'echo': event}\n",
    "worker/pyproject.toml": '[project]\nname = "worker"\nversion = "0"\n',
    "worker/worker/__init__.py": "",
    "worker/worker/__main__.py": "print('work')\n",
    // Never projects: dependencies, VCS data, ignored directories.
    "node_modules/dep/package.json": '{"main":"index.js"}\n',
    "node_modules/dep/index.js": "",
    ".git/x/go.mod": "module x\n",
    "scratch/go.mod": "module scratch\n",
    ".gitignore": "scratch/\n",
  });
  const env = { TUG_CACHE: await tempDir(t, "tug-init-cache-"), TUG_REPO: undefined, CI: undefined };
  const r = await runTug(["init"], { cwd: root, env });
  assert.equal(r.code, 0, r.stderr);
  const text = await readFile(join(root, "tug.yaml"), "utf8");
  const modeline = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text.split("\n")[0] ?? "");
  assert.ok(modeline, text);
  const schema = resolve(root, modeline[1]!);
  assert.ok(existsSync(schema), schema);
  assert.equal((JSON.parse(await readFile(schema, "utf8")) as { type: string }).type, "object");
  assert.match(text, /^# .*tug build/m);

  const project = await loadProject(join(root, "tug.yaml"));
  const images = Object.fromEntries(project.targets.map((x) => [x.name, x]));
  assert.deepEqual(Object.keys(images).sort(), ["api", "hello", "worker"]);
  assert.equal(images.hello?.builder, "go");
  assert.equal(images.hello?.context, join(root, "services", "hello"));
  const api = images.api;
  assert.ok(api?.builder === "node");
  assert.equal(api.entry, "src/server.js");
  const worker = images.worker;
  assert.ok(worker?.builder === "python");
  assert.equal(worker.module, "worker");
  assert.deepEqual(
    project.lambdas?.map((l) => [l.name, l.runtime.runtime]),
    [["fn", "python3.12"]],
  );

  // What init wrote builds (the python service needs its registry base, so it is not built here).
  const b = await runTug(["build", "hello", "api", "fn", "-q", "--json"], { cwd: root, env });
  assert.equal(b.code, 0, b.stderr);
  const built = JSON.parse(b.stdout) as { artifacts: Array<{ target: string }> };
  assert.deepEqual(built.artifacts.map((a) => a.target).sort(), ["api", "fn", "hello"]);

  // An existing tug.yaml is kept unless --force.
  await writeFile(join(root, "tug.yaml"), "# mine\nimages: {}\n");
  const again = await runTug(["init"], { cwd: root, env });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error: tug.yaml already exists$/m);
  assert.match(again.stderr, /--force/);
  assert.equal(await readFile(join(root, "tug.yaml"), "utf8"), "# mine\nimages: {}\n");
  const forced = await runTug(["init", "--force"], { cwd: root, env });
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(await readFile(join(root, "tug.yaml"), "utf8"), text);
});

test("tug init in a directory of plain files: one files image that builds", async (t) => {
  const root = await tempDir(t, "tug-init-files-");
  await write(root, { "index.html": "<p>plain</p>\n", "css/site.css": "p{}\n" });
  const env = { TUG_CACHE: await tempDir(t, "tug-init-files-cache-"), TUG_REPO: undefined, CI: undefined };
  const r = await runTug(["init"], { cwd: root, env });
  assert.equal(r.code, 0, r.stderr);
  const project = await loadProject(join(root, "tug.yaml"));
  assert.deepEqual(
    project.targets.map((x) => [x.builder, x.context]),
    [["files", root]],
  );
  const b = await runTug(["build", "-q"], { cwd: root, env });
  assert.equal(b.code, 0, b.stderr);
});
