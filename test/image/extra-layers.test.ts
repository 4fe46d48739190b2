// `layers:` entries: which files each layer holds and where, read through the context's ignore
// files, and the errors for sources that cannot be a layer.
import assert from "node:assert/strict";
import { symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { loadProject } from "../../src/config/index.ts";
import { Engine } from "../../src/engine/engine.ts";
import { recipeKey } from "../../src/engine/layer-action.ts";
import { TugError } from "../../src/errors.ts";
import { extraLayerEnv, extraLayerRecipes } from "../../src/image/extra-layers.ts";
import { fixture } from "../config/fixture.ts";

async function plan(t: TestContext, layers: string, tree: Record<string, string>, link?: [string, string]) {
  const dir = await fixture(t, {
    ...tree,
    "tug.yaml": `images:\n  app:\n    builder: files\n    context: ./ctx\n    dest: /srv\n    layers: ${layers}\n`,
  });
  if (link) await symlink(link[1], join(dir, "ctx", link[0]));
  const project = await loadProject(join(dir, "tug.yaml"));
  const engine = await Engine.open({ cacheDir: await fixture(t, {}), scope: dir });
  t.after(() => engine.close());
  const target = project.targets[0]!;
  return { dir, target, recipes: () => extraLayerRecipes(engine, target) };
}

const paths = async (recipe: { produce(): Promise<{ entries: Array<{ path: string }> }> }) =>
  (await recipe.produce()).entries.map((e) => e.path);

test("a directory lands under to, a single file at to; the context's ignore files apply", async (t) => {
  const p = await plan(
    t,
    "[{ from: kodata, to: /var/run/ko }, { from: conf/app.json, to: /etc/app/app.json }]",
    {
      "ctx/kodata/a.txt": "a",
      "ctx/kodata/sub/b.txt": "b",
      "ctx/kodata/secret.env": "no",
      "ctx/kodata/sub/.gitignore": "*.tmp\n",
      "ctx/kodata/sub/c.tmp": "no",
      "ctx/.dockerignore": "**/*.env\n",
      "ctx/conf/app.json": "{}",
      "ctx/other.txt": "not in a layer",
    },
  );
  const [dirLayer, fileLayer] = await p.recipes();
  assert.deepEqual(await paths(dirLayer!), [
    "var/run/ko",
    "var/run/ko/a.txt",
    "var/run/ko/sub",
    "var/run/ko/sub/.gitignore",
    "var/run/ko/sub/b.txt",
  ]);
  assert.deepEqual(await paths(fileLayer!), ["etc/app/app.json"]);
  assert.equal(dirLayer!.step, "layer /var/run/ko");
  assert.deepEqual(extraLayerEnv(p.target), { KO_DATA_PATH: "/var/run/ko" });
});

test("the layer key follows its files: an edit under from changes it, one elsewhere does not", async (t) => {
  const p = await plan(t, "[{ from: kodata, to: /data }]", { "ctx/kodata/a.txt": "a", "ctx/main.txt": "m" });
  const key = async () => recipeKey((await p.recipes())[0]!);
  const before = await key();
  await writeFile(join(p.dir, "ctx", "main.txt"), "changed");
  assert.equal(await key(), before);
  await writeFile(join(p.dir, "ctx", "kodata", "a.txt"), "changed");
  assert.notEqual(await key(), before);
  assert.deepEqual(extraLayerEnv(p.target), {}, "KO_DATA_PATH only for ko's path");
});

async function refusal(recipes: () => Promise<unknown>): Promise<TugError> {
  const e = await recipes().then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.ok(e instanceof TugError, `expected a TugError, got ${String(e)}`);
  return e;
}

test("refused: an ignored from, a symlink from, a file copied to /", async (t) => {
  const ignored = await plan(t, "[{ from: kodata, to: /data }]", {
    "ctx/kodata/a.txt": "a",
    "ctx/.dockerignore": "kodata\n",
  });
  const e1 = await refusal(ignored.recipes);
  assert.match(e1.what, /layers\[0\]\.from kodata is excluded by the context's ignore files/);
  assert.match(e1.hint ?? "", /tug explain app --path kodata/);

  const linked = await plan(t, "[{ from: data, to: /data }]", { "ctx/real/a.txt": "a" }, ["data", "real"]);
  const e2 = await refusal(linked.recipes);
  assert.match(e2.what, /layers\[0\]\.from data is a symlink/);
  assert.match(e2.hint ?? "", /\(real\)/);

  const toRoot = await plan(t, "[{ from: a.txt, to: / }]", { "ctx/a.txt": "a" });
  const e3 = await refusal(toRoot.recipes);
  assert.match(e3.what, /the file a\.txt cannot be copied to \//);
});
