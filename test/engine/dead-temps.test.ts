import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { sweepDeadTemps } from "../../src/engine/dead-temps.ts";
import { tempDir } from "../support/tmp.ts";

test("temp files of killed runs are swept; those of live processes and other files stay", async (t) => {
  const dir = await tempDir(t);
  // A pid that existed and is gone: a child that has exited.
  const dead = spawnSync("true").pid as number;
  const live = spawn("sleep", ["30"]);
  t.after(() => live.kill("SIGKILL"));
  await writeFile(join(dir, `plot.zip.${dead}.a1b2c3d4.tmp`), "half");
  await writeFile(join(dir, `.plot.zip.${dead}.a1b2c3d4.tmp.${dead}.00ff00ff00ff.tmp`), "half");
  await writeFile(join(dir, `echo.zip.${live.pid}.deadbeef.tmp`), "in progress");
  await writeFile(join(dir, `mine.zip.${process.pid}.cafe.tmp`), "ours");
  await writeFile(join(dir, "plot.zip"), "done");
  await writeFile(join(dir, "notes.tmp"), "not ours");
  await sweepDeadTemps(dir);
  assert.deepEqual((await readdir(dir)).sort(), [
    `echo.zip.${live.pid}.deadbeef.tmp`,
    `mine.zip.${process.pid}.cafe.tmp`,
    "notes.tmp",
    "plot.zip",
  ]);
});
