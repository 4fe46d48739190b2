// A builder is one set of modules and a registration line: these tests check that every
// registered builder is complete, and that loading tug.yaml does not load any builder's plan.
import assert from "node:assert/strict";
import { test } from "node:test";
import { build } from "esbuild";
import { registeredBuilders } from "../../src/builders/index.ts";
import { BUILDER_SCHEMAS } from "../../src/builders/schemas.ts";
import { BUILDERS, ImageTargetSchema } from "../../src/config/schema.ts";

test("every registered builder has a schema fragment, a normaliser, a plan and dev hooks", () => {
  const registered = registeredBuilders();
  assert.deepEqual(
    registered.map((b) => b.name),
    BUILDER_SCHEMAS.map((b) => b.name),
    "index.ts and schemas.ts list the same builders, in the same order",
  );
  for (const [i, { name, builder }] of registered.entries()) {
    const fragment = BUILDER_SCHEMAS[i]!;
    assert.equal(typeof fragment.normalise, "function", `${name}: normalise`);
    assert.equal(typeof builder.plan, "function", `${name}: plan`);
    assert.equal(typeof builder.dev, "object", `${name}: dev hooks`);
    // The default ignore rules are stated twice (config normalises with one, a hand-made target
    // is read with the other): they must agree.
    assert.deepEqual(builder.defaultIgnore, fragment.defaultIgnore, `${name}: default ignore rules`);
    // The fragment's `builder` key is its own name and nothing else.
    assert.equal(fragment.schema.shape.builder.safeParse(name).success, true);
    assert.equal(fragment.schema.shape.builder.safeParse(`${name}x`).success, false);
    assert.equal(BUILDERS[name], fragment.schema);
  }
  // tug.yaml's image schema is exactly the registered fragments.
  assert.deepEqual(
    ImageTargetSchema.options.map((o) => o.shape.builder.value),
    BUILDER_SCHEMAS.map((b) => b.name),
  );
});

/** What loading `entry` loads: esbuild's own parser reads the graph, static imports only. */
async function staticClosure(entry: string): Promise<{ files: string[]; packages: string[] }> {
  const { metafile } = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    platform: "node",
    format: "esm",
    packages: "external",
    logLevel: "silent",
  });
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (path: string) => {
    if (files.has(path)) return;
    files.add(path);
    for (const i of metafile.inputs[path]?.imports ?? []) {
      if (i.kind !== "import-statement") continue;
      if (i.external) packages.add(i.path);
      else visit(i.path);
    }
  };
  visit(entry);
  return { files: [...files], packages: [...packages] };
}

test("loading tug.yaml reaches every builder's fragment and no builder's plan or dev code", async () => {
  // The plan modules load through dynamic imports when a build needs them.
  const { files } = await staticClosure("src/config/index.ts");
  const builders = files.filter((p) => p.startsWith("src/builders/")).sort();
  assert.deepEqual(builders, [
    "src/builders/builder-schema.ts",
    ...BUILDER_SCHEMAS.map((b) => `src/builders/${b.name}-schema.ts`).sort(),
    "src/builders/schemas.ts",
  ]);
});

test("building images loads no schema fragment and no zod (a warm build's project is cached)", async () => {
  for (const entry of ["src/builders/index.ts", "src/image/build-images.ts"]) {
    const { files, packages } = await staticClosure(entry);
    assert.deepEqual(
      files.filter((p) => p.endsWith("-schema.ts") || p.startsWith("src/config/schema")),
      [],
      entry,
    );
    assert.ok(!packages.includes("zod"), `${entry} loads zod`);
  }
});
