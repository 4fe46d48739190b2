// The folder map's "must not know about" column, for the folders below the engine: src/oci and
// src/zip never import src/engine, and src/util imports nothing of tug but errors.ts. A new
// import that breaks it fails here, naming the file and the line.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** `file:line → the src-relative module` for every static or dynamic import and re-export. */
async function imports(folder: string): Promise<Array<{ at: string; module: string }>> {
  const found: Array<{ at: string; module: string }> = [];
  for (const file of await sources(join(SRC, folder))) {
    const lines = (await readFile(file, "utf8")).split("\n");
    lines.forEach((line, i) => {
      for (const m of line.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)"(\.[^"]+)"/g)) {
        const module = relative(SRC, resolve(dirname(file), m[1] as string));
        found.push({ at: `src/${relative(SRC, file)}:${i + 1}`, module });
      }
    });
  }
  return found;
}

test("src/oci and src/zip import nothing from src/engine", async () => {
  for (const folder of ["oci", "zip"]) {
    const bad = (await imports(folder)).filter((x) => x.module.startsWith("engine/"));
    assert.deepEqual(bad, [], `${folder} must not know about the engine`);
  }
});

test("src/util imports nothing of tug but errors.ts", async () => {
  const bad = (await imports("util")).filter(
    (x) => !x.module.startsWith("util/") && x.module !== "errors.ts",
  );
  assert.deepEqual(bad, []);
});

test("the scan sees imports: src/engine imports src/util", async () => {
  assert.ok((await imports("engine")).some((x) => x.module.startsWith("util/")));
});
