import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";
import { pyInspect } from "./tools.ts";

const SRC = resolve(fileURLToPath(import.meta.url), "../../../src");

// Creates the files in a fresh process with its own TZ, umask, creation order and host mtimes,
// then zips them with the entries listed in that order: none of it may reach the bytes.
const CHILD = `
import { chmod, mkdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createZip } from ${JSON.stringify(join(SRC, "zip/zip-writer.ts"))};
const [dir, out, order, mtime] = process.argv.slice(2);
const files = [
  ["lib/a.py", "import b\\n".repeat(50), 0o666],
  ["lib/b.py", "x = 1\\n", 0o600],
  ["bin/tool", "#!/bin/sh\\nexit 0\\n", 0o777],
  ["big/data.bin", "0123456789abcdef".repeat(100000), 0o644],
  ["ünïcødé/名前.txt", "name\\n", 0o640],
];
if (order === "reverse") files.reverse();
const entries = [];
for (const [name, content, mode] of files) {
  const path = join(dir, name);
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, content, { mode });
  await chmod(path, mode & ~process.umask());
  await utimes(path, Number(mtime), Number(mtime));
  entries.push({ name, source: path, mode: mode & ~process.umask() });
}
entries.push({ name: "bin/", dir: true }, { name: "inline.txt", data: new Uint8Array([1, 2, 3]) });
if (order === "reverse") entries.reverse();
console.log(JSON.stringify(await createZip(entries, out, { inMemoryLimit: 1 << 18 })));
`;

test("same entries give the same bytes whatever TZ, umask, mtimes or input order", async (t) => {
  const dir = await tempDir(t);
  const script = join(dir, "child.mts");
  await writeFile(script, CHILD);
  const run = async (name: string, tz: string, umask: string, order: string, mtime: number) => {
    const out = join(dir, `${name}.zip`);
    const args = [script, join(dir, name), out, order, String(mtime)];
    const { stdout } = await runTool(
      "sh",
      ["-c", `umask ${umask} && exec "$0" --import tsx "$@"`, process.execPath, ...args],
      { env: { ...process.env, TZ: tz }, cwd: resolve(SRC, "..") },
    );
    return { res: JSON.parse(stdout) as { sha256: string; bytes: number }, out };
  };
  const a = await run("a", "UTC", "022", "forward", 1_000_000_000);
  const b = await run("b", "Pacific/Kiritimati", "077", "reverse", 1_700_000_000);
  assert.equal(a.res.sha256, b.res.sha256);
  assert.deepEqual(await readFile(a.out), await readFile(b.out));

  const infos = await pyInspect(a.out);
  assert.deepEqual(
    infos.map((i) => [i.name, i.st_mode.toString(8), i.date_time.join("-")]),
    [
      ["big/data.bin", "100644", "1980-1-1-0-0-0"],
      ["bin/", "40755", "1980-1-1-0-0-0"],
      ["bin/tool", "100755", "1980-1-1-0-0-0"],
      ["inline.txt", "100644", "1980-1-1-0-0-0"],
      ["lib/a.py", "100644", "1980-1-1-0-0-0"],
      ["lib/b.py", "100644", "1980-1-1-0-0-0"],
      ["ünïcødé/名前.txt", "100644", "1980-1-1-0-0-0"],
    ],
  );
});
