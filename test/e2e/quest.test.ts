// The quest table reduced (bench/quest.ts): in the local setting, one edit of examples/quest
// through each of basic (buildah bud, no cache), the talk's live update, tug build + redeploy,
// and tug dev (local and podman runtimes). Every row must deploy, take the edit and serve the
// new line; how long that takes is the bench's business, not the test's.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import { getText, pollFor } from "../../bench/support/quest-dev.ts";
import {
  type Deployment,
  measureEdit,
  type Row,
  rowProject,
  SEED_ROWS,
  TUG_ROWS,
} from "../../bench/support/quest-rows.ts";
import { openSetting, type QuestSetting } from "../../bench/support/quest-setting.ts";
import { REPO_ROOT } from "../support/cli.ts";
import { tempDir } from "../support/tmp.ts";

const EXAMPLE = fileURLToPath(new URL("../../examples/quest/", import.meta.url));
const MAIN = join(REPO_ROOT, "src", "cli", "main.ts");
// tsx from this package, so a child started in a temp directory still finds it.
const TUG = [process.execPath, "--import", import.meta.resolve("tsx"), MAIN];
const ROWS = ["basic", "live-update", "tug-build", "tug-dev-local", "tug-dev-podman"];

test("quest rows: each deploys examples/quest, takes one edit and serves the new line", async (t) => {
  const dir = await tempDir(t, "tug-quest-");
  const setting = await openSetting("local", join(dir, "local"));
  try {
    await eachRow(t, setting, dir);
  } finally {
    await setting.dispose();
  }
});

async function eachRow(t: TestContext, setting: QuestSetting, dir: string): Promise<void> {
  const rows = [...SEED_ROWS, ...TUG_ROWS].filter((r: Row) => ROWS.includes(r.id));
  assert.deepEqual(
    rows.map((r) => r.id),
    ROWS,
  );
  for (const row of rows) {
    await t.test(row.name, async () => {
      const ctx = { setting, dir: await rowProject(EXAMPLE, join(dir, "rows", row.id)), tug: TUG };
      let d: Deployment | undefined;
      try {
        d = await row.start(ctx);
        await pollFor(d.port, "quest says hello\n", 120_000);
        const ms = await measureEdit(ctx, d, `${row.id} test`);
        assert.ok(ms > 0);
        const served = await getText(d.port);
        assert.match(served ?? "", new RegExp(`^quest ${row.id} test [0-9a-f]{6}\\n$`));
        const stopping = d;
        d = undefined;
        await stopping.stop();
      } finally {
        await d?.stop().catch(() => undefined);
      }
    });
  }
}
