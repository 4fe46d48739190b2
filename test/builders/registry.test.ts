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
  for (const [i, b] of registered.entries()) {
    const fragment = BUILDER_SCHEMAS[i]!;
    assert.equal(b.schema, fragment.schema, `${b.name}: one schema, shared by config and registry`);
    assert.equal(typeof fragment.normalise, "function", `${b.name}: normalise`);
    assert.equal(typeof b.plan, "function", `${b.name}: plan`);
    assert.equal(typeof b.dev, "object", `${b.name}: dev hooks`);
    // The fragment's `builder` key is its own name and nothing else.
    assert.equal(fragment.schema.shape.builder.safeParse(b.name).success, true);
    assert.equal(fragment.schema.shape.builder.safeParse(`${b.name}x`).success, false);
    assert.equal(BUILDERS[b.name as keyof typeof BUILDERS], fragment.schema);
  }
  // tug.yaml's image schema is exactly the registered fragments.
  assert.deepEqual(
    ImageTargetSchema.options.map((o) => o.shape.builder.value),
    BUILDER_SCHEMAS.map((b) => b.name),
  );
});

test("loading tug.yaml reaches every builder's fragment and no builder's plan or dev code", async () => {
  // esbuild's own parser reads the import graph; only static imports are followed (the plan
  // modules load through dynamic imports when a build needs them).
  const { metafile } = await build({
    entryPoints: ["src/config/index.ts"],
    bundle: true,
    write: false,
    metafile: true,
    platform: "node",
    format: "esm",
    packages: "external",
    logLevel: "silent",
  });
  const reached = new Set<string>();
  const visit = (path: string) => {
    if (reached.has(path)) return;
    reached.add(path);
    for (const i of metafile.inputs[path]?.imports ?? []) if (i.kind === "import-statement") visit(i.path);
  };
  visit("src/config/index.ts");
  const builders = [...reached].filter((p) => p.startsWith("src/builders/")).sort();
  assert.deepEqual(builders, [
    "src/builders/builder-schema.ts",
    ...BUILDER_SCHEMAS.map((b) => `src/builders/${b.name}-schema.ts`).sort(),
    "src/builders/schemas.ts",
  ]);
});
