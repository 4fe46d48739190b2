import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { builderFor } from "../../src/builders/index.ts";
import type { CommandTarget } from "../../src/config/types.ts";
import { Engine } from "../../src/engine/engine.ts";
import { cachedLayer, recipeKey } from "../../src/engine/layer-action.ts";
import { readTar } from "../dev/read-tar.ts";
import { tempDir } from "../support/tmp.ts";

/** A command target in `ctx` on scratch for linux/amd64, with the fields a test cares about. */
function commandTarget(
  ctx: string,
  t: Pick<CommandTarget, "name" | "where" | "run" | "output" | "dest" | "inputs">,
): CommandTarget {
  return {
    context: ctx,
    base: { kind: "scratch" },
    platforms: [{ os: "linux", architecture: "amd64" }],
    env: {},
    ports: [],
    labels: {},
    annotations: {},
    tags: ["latest"],
    builder: "command",
    ...t,
  };
}

test("command builder: only declared inputs key the action; the output dir never does", async (t) => {
  const ctx = await tempDir(t, "tug-cmd-");
  await fs.mkdir(join(ctx, "src"));
  await fs.writeFile(join(ctx, "src", "in.txt"), "one");
  await fs.writeFile(join(ctx, "README"), "docs");
  const engine = await Engine.open({ cacheDir: await tempDir(t, "tug-cache-"), scope: ctx });
  const target = commandTarget(ctx, {
    name: "gen",
    where: "images.gen",
    run: ["sh", "-c", 'mkdir -p out && cp src/in.txt out/copied.txt && echo "$TUG_ARCH" > out/arch'],
    output: join(ctx, "out"),
    dest: "/data",
    inputs: ["src"],
  });
  const key = async () => {
    const plan = await builderFor(target).plan({ engine, target, platform: target.platforms[0]! });
    return { key: recipeKey(plan.layers[0]!), recipe: plan.layers[0]! };
  };
  const first = await key();
  const built = await cachedLayer(engine, first.recipe, { kind: "none" });
  assert.equal(built.cached, false);
  assert.equal(await fs.readFile(join(ctx, "out", "copied.txt"), "utf8"), "one");
  assert.equal((await fs.readFile(join(ctx, "out", "arch"), "utf8")).trim(), "amd64");

  await fs.writeFile(join(ctx, "README"), "more docs");
  assert.equal((await key()).key, first.key, "a file outside the inputs does not count");
  assert.equal(
    (await cachedLayer(engine, (await key()).recipe, { kind: "none" })).cached,
    true,
    "and its output is not an input",
  );

  await fs.writeFile(join(ctx, "src", "in.txt"), "two");
  assert.notEqual((await key()).key, first.key);
  await engine.close();
});

test("command builder: a failing command is one clear error with its output", async (t) => {
  const ctx = await tempDir(t, "tug-cmd-");
  const engine = await Engine.open({ cacheDir: await tempDir(t, "tug-cache-"), scope: ctx });
  const target = commandTarget(ctx, {
    name: "bad",
    where: "images.bad (tug.yaml:3)",
    run: ["sh", "-c", "echo compiling; echo 'boom: no such thing' >&2; exit 3"],
    output: join(ctx, "out"),
    dest: "/",
    inputs: ["."],
  });
  const plan = await builderFor(target).plan({ engine, target, platform: target.platforms[0]! });
  await assert.rejects(
    cachedLayer(engine, plan.layers[0]!, { kind: "none" }),
    (e: Error & { where?: string; hint?: string }) => {
      assert.match(e.message, /failed \(exit 3\)/);
      assert.equal(e.where, "images.bad (tug.yaml:3)");
      assert.match(e.hint ?? "", /boom: no such thing/);
      return true;
    },
  );
  await engine.close();
});

test("command builder: output must be a subdirectory, never the context itself", async (t) => {
  const ctx = await tempDir(t, "tug-cmd-");
  await fs.writeFile(join(ctx, "precious.txt"), "keep me");
  const engine = await Engine.open({ cacheDir: await tempDir(t, "tug-cache-"), scope: ctx });
  const target = commandTarget(ctx, {
    name: "gen",
    where: "images.gen",
    run: ["true"],
    output: ctx,
    dest: "/",
    inputs: ["."],
  });
  await assert.rejects(
    builderFor(target).plan({ engine, target, platform: target.platforms[0]! }),
    /not a directory inside the context/,
  );
  assert.equal(await fs.readFile(join(ctx, "precious.txt"), "utf8"), "keep me");
  await engine.close();
});

test("command builder: .dockerignore'd files do not key the command; git-ignored ones still do", async (t) => {
  const ctx = await tempDir(t, "tug-cmd-ignore-");
  await fs.writeFile(join(ctx, "in.txt"), "one");
  await fs.writeFile(join(ctx, ".dockerignore"), "scratch.txt\n");
  await fs.writeFile(join(ctx, ".gitignore"), ".env.local\n");
  await fs.writeFile(join(ctx, "scratch.txt"), "a");
  await fs.writeFile(join(ctx, ".env.local"), "VITE_API=one");
  const engine = await Engine.open({ cacheDir: await tempDir(t, "tug-cache-"), scope: ctx });
  t.after(() => engine.close());
  const target = commandTarget(ctx, {
    name: "gen",
    where: "images.gen",
    run: ["sh", "-c", "mkdir -p out && cat in.txt .env.local > out/all"],
    output: join(ctx, "out"),
    dest: "/data",
    inputs: ["."],
  });
  const key = async () =>
    recipeKey((await builderFor(target).plan({ engine, target, platform: target.platforms[0]! })).layers[0]!);
  const first = await key();
  await fs.writeFile(join(ctx, "scratch.txt"), "b");
  assert.equal(await key(), first, "a .dockerignore'd file is no input");
  await fs.writeFile(join(ctx, ".env.local"), "VITE_API=two");
  assert.notEqual(await key(), first, "the command reads git-ignored files: they key it");
});

test("command builder: two platforms building at once never see each other's output", async (t) => {
  const ctx = await tempDir(t, "tug-cmd-plat-");
  const engine = await Engine.open({ cacheDir: await tempDir(t, "tug-cache-"), scope: ctx });
  // The command clears nothing itself and writes its platform twice, 200 ms apart: run together,
  // the second platform's rm + writes would land between the first one's writes and its tar.
  const target = commandTarget(ctx, {
    name: "gen",
    where: "images.gen",
    run: ["sh", "-c", 'mkdir -p out && echo "$TUG_ARCH" > out/a && sleep 0.2 && echo "$TUG_ARCH" > out/b'],
    output: join(ctx, "out"),
    dest: "/data",
    inputs: [],
  });
  const platforms = [
    { os: "linux", architecture: "amd64" },
    { os: "linux", architecture: "arm64" },
  ];
  const layers = await Promise.all(
    platforms.map(async (platform) => {
      const plan = await builderFor(target).plan({ engine, target: { ...target, platforms }, platform });
      return cachedLayer(engine, plan.layers[0]!, { kind: "none" });
    }),
  );
  for (const [i, { layer }] of layers.entries()) {
    const files = new Map((await readTar(await layer.compressed())).map((e) => [e.name, e.data]));
    const arch = platforms[i]!.architecture;
    assert.equal(files.get("data/a"), `${arch}\n`, `platform ${arch}: out/a`);
    assert.equal(files.get("data/b"), `${arch}\n`, `platform ${arch}: out/b`);
  }
  await engine.close();
});
