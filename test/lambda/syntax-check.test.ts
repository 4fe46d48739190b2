// The syntax check (src/python/syntax-check.ts) as the real interpreter judges: framed files in,
// one verdict per file out, with file:line, for several files at once, whatever bytes they hold.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmod, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { checkSyntax } from "../../src/python/syntax-check.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";

const file = (shown: string, data: Buffer | string) => {
  const bytes = Buffer.from(data);
  return { shown, data: bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
};

async function hostMinor(): Promise<number> {
  const probe = await runTool("python3", ["-c", "import sys; print(sys.version_info[1])"]);
  return Number(probe.stdout.trim());
}

test("good files of any encoding pass; the first bad one is named with its line", async () => {
  const minor = await hostMinor();
  const latin1 = Buffer.concat([
    Buffer.from("# -*- coding: latin-1 -*-\nNAME = '"),
    Buffer.from([0xe9]),
    Buffer.from("'\n"),
  ]);
  const ok = await checkSyntax(
    [
      file("a.py", "x = 1\n"),
      file("pkg/é.py", "def f():\n    return 'ünïcode'\n"),
      file("latin.py", latin1),
      file("empty.py", ""),
    ],
    minor,
    undefined,
  );
  assert.deepEqual(ok.warnings, []);
  await assert.rejects(
    checkSyntax(
      [file("good.py", "y = 2\n"), file("lib/bad.py", "x = 1\n\ndef (:\n"), file("worse.py", "return 1\n")],
      minor,
      undefined,
    ),
    (e: Error) => {
      assert.match(e.message, /syntax error in lib\/bad\.py:3/);
      assert.match(e.message, /and 1 more file/);
      return true;
    },
  );
  // Outside a function `return` compiles in no Python: the compiler's verdict, not only the grammar's.
  await assert.rejects(
    checkSyntax([file("r.py", "return 1\n")], minor, undefined),
    /r\.py:1.*'return' outside function/,
  );
  // A NUL byte in the source: refused (ValueError or SyntaxError, by version), never a crash.
  await assert.rejects(
    checkSyntax([file("nul.py", "x = 1\0\n")], minor, undefined),
    /syntax error in nul\.py/,
  );
});

test("syntax newer than the target is refused when only a newer python3 is here to judge", async (t) => {
  // A PATH whose only interpreter is python3 (no python3.X of the target): the host's python3
  // judges a target one minor older, so ast.parse's feature_version must refuse the newer syntax.
  const minor = await hostMinor();
  const probe = await runTool("python3", ["-c", "import sys; print(sys.executable)"]);
  const bin = join(await tempDir(t, "tug-py3-only-"), "bin");
  await mkdir(bin);
  await symlink(probe.stdout.trim(), join(bin, "python3"));
  const saved = process.env.PATH;
  process.env.PATH = bin;
  t.after(() => {
    process.env.PATH = saved;
  });
  // Exception groups (3.11) and pattern matching (3.10), each checked for the minor before it.
  const newer =
    minor >= 11 ? "try:\n    pass\nexcept* ValueError:\n    pass\n" : "match x:\n    case 1:\n        pass\n";
  const target = minor >= 11 ? 10 : 9;
  await assert.rejects(
    checkSyntax([file("new.py", newer)], target, undefined),
    /syntax error in new\.py:3?.*only supported in Python 3\.1[01]/,
  );
  const fine = await checkSyntax([file("old.py", "x = [i for i in range(3)]\n")], target, undefined);
  assert.deepEqual(fine.warnings, []);
});

/**
 * A counting python3.MINOR in front of the real interpreter on PATH (for this test): each start
 * records its pid, which is the judge's own (the shim execs the interpreter).
 */
async function countingInterpreter(t: TestContext, prefix: string) {
  const minor = await hostMinor();
  const probe = await runTool("python3", ["-c", "import sys; print(sys.executable)"]);
  const dir = await tempDir(t, prefix);
  const bin = join(dir, "bin");
  await mkdir(bin);
  const counter = join(dir, "count");
  await writeFile(counter, "");
  await writeFile(
    join(bin, `python3.${minor}`),
    `#!/bin/sh\necho $$ >> '${counter}'\nexec '${probe.stdout.trim()}' "$@"\n`,
  );
  await chmod(join(bin, `python3.${minor}`), 0o755);
  const saved = process.env.PATH;
  process.env.PATH = `${bin}:${saved}`;
  t.after(() => {
    process.env.PATH = saved;
  });
  const starts = async () => (await readFile(counter, "utf8")).split("\n").filter(Boolean);
  return { minor, starts };
}

test("a resident process keeps one interpreter for every check, and starts another if it dies", async (t) => {
  const { minor, starts } = await countingInterpreter(t, "tug-judge-");
  const resident = { resident: true };
  assert.deepEqual((await checkSyntax([file("a.py", "a = 1\n")], minor, undefined, resident)).warnings, []);
  assert.deepEqual(
    (await checkSyntax([file("b.py", "b = 2\n"), file("c.py", "c = 3\n")], minor, undefined, resident))
      .warnings,
    [],
  );
  await assert.rejects(
    checkSyntax([file("ok.py", "x = 1\n"), file("bad.py", "x = (\n")], minor, undefined, resident),
    /syntax error in bad\.py:1/,
  );
  // Asked at once: answered in order, each its own verdicts.
  const both = await Promise.allSettled([
    checkSyntax([file("d.py", "def (:\n")], minor, undefined, resident),
    checkSyntax([file("e.py", "e = 5\n")], minor, undefined, resident),
  ]);
  assert.equal(both[0].status, "rejected");
  assert.equal(both[1].status, "fulfilled");
  const kept = await starts();
  assert.equal(kept.length, 1, "one interpreter judged every file");
  // The shim exec'd the interpreter: its pid is the judge's. Killed, the next check starts one.
  process.kill(Number(kept[0]), "SIGKILL");
  await new Promise((r) => setTimeout(r, 200));
  await assert.rejects(checkSyntax([file("f.py", "return\n")], minor, undefined, resident), /f\.py:1/);
  assert.equal((await starts()).length, 2);
});

test("an interpreter started before the files are known is the one that judges them", async (t) => {
  const { minor, starts } = await countingInterpreter(t, "tug-judge-warm-");
  const { warmSyntaxCheck } = await import("../../src/python/syntax-check.ts");
  await warmSyntaxCheck(minor, undefined);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await starts()).length, 1, "started before any file was given");
  await assert.rejects(checkSyntax([file("w.py", "def (:\n")], minor, undefined), /syntax error in w\.py:1/);
  assert.deepEqual((await checkSyntax([file("v.py", "v = 1\n")], minor, undefined)).warnings, []);
  assert.equal((await starts()).length, 1, "both checks were answered by the interpreter started first");
});
