import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { promisify } from "node:util";
import { builderFor } from "../../src/builders/index.ts";
import { consoleScripts, launcherScript, rewriteShebang } from "../../src/builders/python-install.ts";
import type { PythonImageTarget } from "../../src/config/types.ts";
import { Engine } from "../../src/engine/engine.ts";
import { cachedLayer, recipeKey } from "../../src/engine/layer-action.ts";
import { isTugError } from "../../src/errors.ts";
import { pythonWheelIndex } from "../lambda/support/python-wheels.ts";
import { tempDir } from "../support/tmp.ts";

const exec = promisify(execFile);

function pythonTarget(ctx: string, indexUrl: string, t: Partial<PythonImageTarget> = {}): PythonImageTarget {
  return {
    name: "svc",
    where: "images.svc (tug.yaml:2)",
    context: ctx,
    base: { kind: "scratch" },
    platforms: [{ os: "linux", architecture: "amd64" }],
    env: {},
    ports: [],
    labels: {},
    annotations: {},
    tags: ["latest"],
    builder: "python",
    requirements: join(ctx, "requirements.txt"),
    module: "app",
    python: [3, 11],
    pythonFullVersion: "3.11.0",
    glibc: "2.28",
    sourceRoots: [],
    indexUrl,
    extraIndexUrls: [],
    ...t,
  };
}

test("console-script launchers run the entry point with the image's python3, as pip's do", async (t) => {
  const scripts = consoleScripts(
    "[console_scripts]\ngreet = greeter.cli:main [color]\nbye=greeter.cli:Tool.bye\n\n[other]\nx = y:z\n",
    "greeter-1.0-py3-none-any.whl",
  );
  assert.deepEqual(scripts, [
    { name: "greet", module: "greeter.cli", attr: "main" },
    { name: "bye", module: "greeter.cli", attr: "Tool.bye" },
  ]);
  const dir = await tempDir(t, "tug-py-launch-");
  await fs.mkdir(join(dir, "greeter"));
  await fs.writeFile(join(dir, "greeter", "__init__.py"), "");
  await fs.writeFile(
    join(dir, "greeter", "cli.py"),
    "import sys\ndef main():\n    print('hello', sys.argv[0].rsplit('/', 1)[-1], sys.argv[1:])\n    return 3\n" +
      "class Tool:\n    @staticmethod\n    def bye():\n        print('bye')\n",
  );
  for (const s of scripts) await fs.writeFile(join(dir, s.name), launcherScript(s), { mode: 0o755 });
  const env = { ...process.env, PYTHONPATH: dir };
  const greet = await exec(join(dir, "greet"), ["a"], { env }).then(
    () => assert.fail("main() returned 3: the launcher must exit 3"),
    (e: { code: number; stdout: string }) => e,
  );
  assert.equal(greet.code, 3);
  assert.equal(greet.stdout, "hello greet ['a']\n");
  assert.equal((await exec(join(dir, "bye"), [], { env })).stdout, "bye\n");
  assert.equal(
    Buffer.from(rewriteShebang(Buffer.from("#!python\nprint(1)\n"))).toString(),
    "#!/usr/bin/env python3\nprint(1)\n",
  );
  assert.equal(Buffer.from(rewriteShebang(Buffer.from("#!/bin/sh\n"))).toString(), "#!/bin/sh\n");
});

test("an entry point whose name is no plain file name is refused, naming the wheel", () => {
  assert.throws(
    () => consoleScripts("[console_scripts]\n../../etc/evil = m:f\n", "bad-1.0-py3-none-any.whl"),
    (e: unknown) => isTugError(e) && /bad-1\.0-py3-none-any\.whl/.test(e.message),
  );
  assert.throws(() => consoleScripts("[console_scripts]\nok = not a target\n", "bad.whl"), isTugError);
});

async function fixture(t: TestContext) {
  const root = await tempDir(t, "tug-py-idx-");
  const url = await pythonWheelIndex(root, [
    {
      name: "greeter",
      version: "1.0",
      files: {
        "greeter/__init__.py": "VALUE = 'one'\n",
        "greeter-1.0.data/scripts/greet-sh": "#!python\nimport greeter\nprint(greeter.VALUE)\n",
      },
      distInfo: { "entry_points.txt": "[console_scripts]\ngreet = greeter:main\n" },
    },
    { name: "greeter", version: "2.0", files: { "greeter/__init__.py": "VALUE = 'two'\n" } },
    { name: "native", version: "1.0", tag: "cp311-cp311-manylinux_2_17_x86_64", files: { "native.py": "" } },
    {
      name: "helper",
      version: "1.0",
      files: { "helper/__init__.py": "H = 1\n", "shared/conf.py": "X = 1\n" },
    },
    { name: "clash", version: "1.0", files: { "shared/conf.py": "X = 2\n" } },
  ]);
  const ctx = await tempDir(t, "tug-py-ctx-");
  await fs.writeFile(join(ctx, "app.py"), "import greeter\n");
  await fs.writeFile(join(ctx, "requirements.txt"), "greeter==1.0\n");
  const engine = await Engine.open({ cacheDir: await tempDir(t, "tug-cache-"), scope: ctx });
  return { url, ctx, engine };
}

test("python plan: deps layer laid out as pip --target, keyed by wheels; app layer by sources", async (t) => {
  const { url, ctx, engine } = await fixture(t);
  const target = pythonTarget(ctx, url);
  const plan = () => builderFor(target).plan({ engine, target, platform: target.platforms[0]! });
  const first = await plan();
  assert.deepEqual(first.config, {
    entrypoint: ["python3", "-m", "app"],
    workdir: "/app",
    env: { PYTHONPATH: "/app/site-packages:/app", PYTHONUNBUFFERED: "1" },
  });
  const [deps, app] = first.layers;
  assert.ok(deps && app);
  const entries = (await deps.produce()).entries;
  const byPath = new Map(entries.map((e) => [e.path, e]));
  assert.deepEqual(
    [...byPath.keys()].filter((p) => !p.includes("dist-info/")),
    ["app/bin/greet", "app/bin/greet-sh", "app/site-packages/greeter/__init__.py"],
  );
  assert.ok(byPath.has("app/site-packages/greeter-1.0.dist-info/METADATA"), "dist-info is kept");
  assert.equal(byPath.get("app/bin/greet-sh")?.mode, 0o755);
  assert.match(
    Buffer.from(byPath.get("app/bin/greet-sh")?.data ?? []).toString(),
    /^#!\/usr\/bin\/env python3\n/,
  );
  assert.match(Buffer.from(byPath.get("app/bin/greet")?.data ?? []).toString(), /from greeter import main/);
  assert.deepEqual(
    (await app.produce()).entries.map((e) => e.path),
    ["app/app.py", "app/requirements.txt"],
  );

  await fs.writeFile(join(ctx, "app.py"), "import greeter  # edited\n");
  const edited = await plan();
  assert.equal(recipeKey(edited.layers[0]!), recipeKey(deps), "a source edit keeps the deps key");
  assert.notEqual(recipeKey(edited.layers[1]!), recipeKey(app), "and changes the app key");

  await fs.writeFile(join(ctx, "requirements.txt"), "greeter==2.0\n");
  const bumped = await plan();
  assert.notEqual(recipeKey(bumped.layers[0]!), recipeKey(deps), "a new resolution rebuilds deps");
});

test("no wheel for the platform: a pip-style error naming the requirement, versions and tags", async (t) => {
  const { url, ctx, engine } = await fixture(t);
  await fs.writeFile(join(ctx, "requirements.txt"), "native>=1\n");
  const target = pythonTarget(ctx, url, { platforms: [{ os: "linux", architecture: "arm64" }] });
  await assert.rejects(
    builderFor(target).plan({ engine, target, platform: target.platforms[0]! }),
    (e: unknown) => {
      assert.ok(isTugError(e));
      assert.match(e.message, /no wheel of native >=1 fits python3\.11 on aarch64 \(glibc ≤ 2\.28/);
      assert.match(e.message, /looked at 1\.0 \(cp311-cp311-manylinux_2_17_x86_64\)/);
      return true;
    },
  );
});

test("an --index-url line in the requirements file is the index, as with pip", async (t) => {
  const { url, ctx, engine } = await fixture(t);
  await fs.writeFile(join(ctx, "requirements.txt"), `--index-url ${url}\ngreeter==2.0\n`);
  const { indexUrl: _, ...target } = pythonTarget(ctx, url);
  const plan = await builderFor(target).plan({ engine, target, platform: target.platforms[0]! });
  const wheels = plan.layers[0]?.params.wheels;
  assert.ok(Array.isArray(wheels) && wheels.length === 1);
  assert.match(wheels[0] ?? "", /^[0-9a-f]{64} greeter-2\.0-py3-none-any\.whl$/);
});

test("a deps layer assembled from cached wheel parts is the layer a fresh cache builds; a file two wheels write differently is refused", async (t) => {
  const { url, ctx, engine } = await fixture(t);
  const target = pythonTarget(ctx, url);
  const gz = { kind: "gzip", level: 1 } as const;
  const depsLayer = async (e: Engine) => {
    const plan = await builderFor(target).plan({ engine: e, target, platform: target.platforms[0]! });
    const built = await cachedLayer(e, plan.layers[0]!, gz);
    return { digest: await built.layer.digest(), diffId: await built.layer.diffId() };
  };
  await depsLayer(engine); // greeter alone: its part is now cached
  await fs.writeFile(join(ctx, "requirements.txt"), "greeter==1.0\nhelper==1.0\n");
  const reused = await depsLayer(engine);
  const fresh = await depsLayer(
    await Engine.open({ cacheDir: await tempDir(t, "tug-cache-fresh-"), scope: ctx }),
  );
  assert.deepEqual(reused, fresh);

  await fs.writeFile(join(ctx, "requirements.txt"), "helper==1.0\nclash==1.0\n");
  await assert.rejects(
    depsLayer(engine),
    /wheels \S+ and \S+ both install \/app\/site-packages\/shared\/conf\.py with different content/,
  );
});
