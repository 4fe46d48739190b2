import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdir, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, join } from "node:path";
import { test } from "node:test";
import { sweepDeadTemps, tempPathFor } from "../../src/util/dead-temps.ts";
import { tempDir } from "../support/tmp.ts";

const HOST = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);

test("temp files of killed runs on this host are swept; live, own, foreign-host and other files stay", async (t) => {
  const dir = await tempDir(t);
  // A pid that existed and is gone: a child that has exited.
  const dead = spawnSync("true").pid as number;
  const live = spawn("sleep", ["30"]);
  t.after(() => live.kill("SIGKILL"));
  const mine = basename(tempPathFor(join(dir, "mine.zip")));
  await writeFile(join(dir, `plot.zip.${dead}.${HOST}a1b2c3d4.tmp`), "half");
  await writeFile(join(dir, `.plot.zip.${dead}.${HOST}00ff00ff.tmp`), "half");
  await writeFile(join(dir, `echo.zip.${live.pid}.${HOST}deadbeef.tmp`), "in progress");
  await writeFile(join(dir, `api.zip.${dead}.0badf00d12345678.tmp`), "another host's, maybe live");
  await writeFile(join(dir, mine), "ours");
  await writeFile(join(dir, "plot.zip"), "done");
  await writeFile(join(dir, "notes.tmp"), "not ours");
  await sweepDeadTemps(dir);
  assert.deepEqual(
    (await readdir(dir)).sort(),
    [
      `api.zip.${dead}.0badf00d12345678.tmp`,
      `echo.zip.${live.pid}.${HOST}deadbeef.tmp`,
      mine,
      "notes.tmp",
      "plot.zip",
    ].sort(),
  );
});
