// The quest table reduced (bench/quest.ts): in the local setting, one edit of examples/quest
// through each of basic (buildah bud, no cache), the talk's live update, tug build + redeploy,
// and tug dev (local and podman runtimes). Every row must deploy, take the edit and serve the
// new line; how long that takes is the bench's business, not the test's.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { getText, pollFor } from "../../bench/support/quest-dev.ts";
import {
  type Deployment,
  measureEdit,
  rowProject,
  SEED_ROWS,
  TUG_ROWS,
} from "../../bench/support/quest-rows.ts";
import { openSetting, type QuestSetting } from "../../bench/support/quest-setting.ts";
import { REPO_ROOT } from "../support/cli.ts";

const EXAMPLE = fileURLToPath(new URL("../../examples/quest/", import.meta.url));
// tsx from this package, so a child started in a temp directory still finds it.
const TUG = [
  process.execPath,
  "--import",
  import.meta.resolve("tsx"),
  join(REPO_ROOT, "src", "cli", "main.ts"),
];
const ROWS = ["basic", "live-update", "tug-build", "tug-dev-local", "tug-dev-podman"];

// One setting (registry, podman store, buildah store, Go image, warm GOCACHE) for the file.
let dir: string;
let setting: QuestSetting | undefined;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "tug-quest-"));
  setting = await openSetting("local", join(dir, "local"));
});
after(async () => {
  await setting?.dispose();
  await rm(dir, { recursive: true, force: true });
});

test("the reduced table has the rows it names", () => {
  const ids = [...SEED_ROWS, ...TUG_ROWS].map((r) => r.id);
  for (const id of ROWS) assert.ok(ids.includes(id), id);
});

for (const row of [...SEED_ROWS, ...TUG_ROWS].filter((r) => ROWS.includes(r.id))) {
  test(`quest row "${row.name}": deploys examples/quest, takes one edit, serves the new line`, async () => {
    assert.ok(setting, "the setting opened");
    const ctx = { setting, dir: await rowProject(EXAMPLE, join(dir, "rows", row.id)), tug: TUG };
    let d: Deployment | undefined;
    try {
      d = await row.start(ctx);
      await pollFor(d.port, "quest says hello\n", 120_000);
      await measureEdit(ctx, d, `${row.id} test`);
      assert.match((await getText(d.port)) ?? "", new RegExp(`^quest ${row.id} test [0-9a-f]{6}\\n$`));
      const stopping = d;
      d = undefined;
      await stopping.stop();
    } finally {
      await d?.stop().catch(() => undefined);
    }
  });
}
