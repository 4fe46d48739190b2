// A python3.X that is a version manager's shim (pyenv's costs ~0.3 s a start) is run once; later
// syntax checks start the interpreter it resolved to, and go back to the shim when that changes.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmod, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { CacheStore } from "../../src/engine/cache-store.ts";
import { checkSyntax } from "../../src/python/syntax-check.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";

/** A PATH whose python3.MINOR is a counting shim in front of a real interpreter of that version. */
async function shimmed(
  t: TestContext,
): Promise<{ minor: number; count: () => Promise<number>; bin: string }> {
  const probe = await runTool("python3", ["-c", "import sys; print(sys.version_info[1], sys.executable)"]);
  const [minorText = "", real = ""] = probe.stdout.trim().split(" ");
  const dir = await tempDir(t, "tug-shim-");
  const counter = join(dir, "count");
  await writeFile(counter, "");
  const bin = join(dir, "bin");
  await mkdir(bin);
  const shim = join(bin, `python3.${minorText}`);
  await writeFile(shim, `#!/bin/sh\necho x >> '${counter}'\nexec '${real}' "$@"\n`);
  await chmod(shim, 0o755);
  const saved = process.env.PATH;
  process.env.PATH = `${bin}:${saved}`;
  t.after(() => {
    process.env.PATH = saved;
  });
  return {
    minor: Number(minorText),
    bin,
    count: async () => (await readFile(counter, "utf8")).split("\n").filter(Boolean).length,
  };
}

const file = (text: string) => {
  const data = Buffer.from(text);
  return { shown: "fn.py", data, sha256: createHash("sha256").update(data).digest("hex") };
};

test("the shim runs once; later checks start the interpreter it resolved to", async (t) => {
  const { minor, count } = await shimmed(t);
  const store = new CacheStore(await tempDir(t, "tug-shim-cache-"));
  await checkSyntax([file("x = 1\n")], minor, store);
  assert.equal(await count(), 1);
  await checkSyntax([file("x = 2\n")], minor, store);
  await assert.rejects(checkSyntax([file("def (:\n")], minor, store), /syntax error in fn\.py:1/);
  assert.equal(await count(), 1, "the remembered interpreter judged both later files");
});

test("a remembered interpreter that is gone, or another PATH, goes through the shim again", async (t) => {
  const { minor, count, bin } = await shimmed(t);
  const root = await tempDir(t, "tug-shim-cache-");
  const store = new CacheStore(root);
  await checkSyntax([file("a = 1\n")], minor, store);
  // Another PATH is another key: the shim is asked again.
  process.env.PATH = `${bin}:/nonexistent:${process.env.PATH}`;
  await checkSyntax([file("a = 2\n")], minor, store);
  assert.equal(await count(), 2);
  // Records naming a file that does not exist are not trusted (every record: one per PATH).
  const records = join(root, "ac", "python-interpreter");
  for (const sub of await readdir(records)) {
    for (const name of await readdir(join(records, sub))) {
      const path = join(records, sub, name);
      const text = (await readFile(path, "utf8")).replace(
        /"executable":"[^"]+"/,
        '"executable":"/nonexistent/python"',
      );
      await rm(path);
      await writeFile(path, text);
    }
  }
  await checkSyntax([file("a = 3\n")], minor, store);
  assert.equal(await count(), 3);
});
