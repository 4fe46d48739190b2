// elfNeeds against readelf (binutils) on objects gcc builds here and on the host's own libraries.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import test from "node:test";
import { promisify } from "node:util";
import { elfNeeds } from "../../src/oci/elf-needs.ts";
import { tempDir } from "../support/tmp.ts";

const exec = promisify(execFile);

/** What `readelf -d` says: NEEDED names and the RUNPATH, else RPATH, directories. */
async function readelf(path: string): Promise<{ needed: string[]; runpath: string[] }> {
  const { stdout } = await exec("readelf", ["-d", "-W", path]);
  const pick = (tag: string) =>
    [...stdout.matchAll(new RegExp(`\\(${tag}\\)\\s+.*?\\[(.*)\\]`, "g"))].map((m) => m[1]!);
  const runpath = pick("RUNPATH");
  return {
    needed: pick("NEEDED"),
    runpath: (runpath.length > 0 ? runpath : pick("RPATH")).flatMap((p) => p.split(":")).filter(Boolean),
  };
}

test("DT_NEEDED and RUNPATH/RPATH are what readelf reads, for gcc's objects and the host's libraries", async (t) => {
  const dir = await tempDir(t, "tug-elf-");
  await writeFile(join(dir, "helper.c"), "int helper(void) { return 7; }\n");
  await writeFile(
    join(dir, "ext.c"),
    "#include <math.h>\nint helper(void);\ndouble f(double x) { return sqrt(x) + helper(); }\n",
  );
  await exec("gcc", [
    "-shared",
    "-fPIC",
    "-Wl,-soname,libhelper-1a2b.so",
    join(dir, "helper.c"),
    "-o",
    join(dir, "libhelper-1a2b.so"),
  ]);
  const objects: string[] = [];
  for (const dtags of ["--enable-new-dtags", "--disable-new-dtags"]) {
    const out = join(dir, `ext${dtags.slice(2, 5)}.so`);
    await exec("gcc", [
      "-shared",
      "-fPIC",
      join(dir, "ext.c"),
      "-o",
      out,
      `-L${dir}`,
      "-l:libhelper-1a2b.so",
      "-lm",
      `-Wl,${dtags},-rpath,$ORIGIN/../pkg.libs:/opt/other`,
    ]);
    objects.push(out);
  }
  const { stdout } = await exec("python3", ["-c", "import sys, os; print(os.path.realpath(sys.executable))"]);
  objects.push(stdout.trim());
  for (const path of objects) {
    const got = elfNeeds(await readFile(path));
    assert.deepEqual(got, await readelf(path), path);
  }
  const ext = elfNeeds(await readFile(objects[0]!));
  assert.ok(ext?.needed.includes("libhelper-1a2b.so") && ext.needed.includes("libm.so.6"));
  assert.deepEqual(ext?.runpath, ["$ORIGIN/../pkg.libs", "/opt/other"]);
});

test("bytes that are no dynamic ELF give undefined or nothing needed, never an exception", async (t) => {
  const dir = await tempDir(t, "tug-elf-bad-");
  await writeFile(join(dir, "a.c"), "int a(void) { return 1; }\n");
  await exec("gcc", ["-shared", "-fPIC", join(dir, "a.c"), "-o", join(dir, "a.so"), "-lm"]);
  const good = await readFile(join(dir, "a.so"));
  assert.equal(elfNeeds(Buffer.from("not an elf")), undefined);
  assert.equal(elfNeeds(Buffer.alloc(0)), undefined);
  for (let n = 0; n < good.length; n += 61) {
    const cut = good.subarray(0, n);
    const r = elfNeeds(cut);
    assert.ok(r === undefined || Array.isArray(r.needed), `cut at ${n}`);
  }
  // Offsets pointing past the end (a hostile program header table) are refused, not followed.
  const evil = Buffer.from(good);
  evil.writeBigUInt64LE(BigInt(good.length * 4), 0x20);
  assert.equal(elfNeeds(evil), undefined);
});
