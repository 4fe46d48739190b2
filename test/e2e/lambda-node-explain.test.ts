// `tug explain` covers Node lambdas (issue 12): they keep the same output record as Python ones,
// so explain reads why a zip is current or would be rebuilt without bundling anything.
import assert from "node:assert/strict";
import { appendFile, cp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT, runTug } from "../support/cli.ts";
import { tempDir } from "../support/tmp.ts";

interface Explained {
  target: string;
  steps: Array<{ step: string; status: string; reasons: string[] }>;
}

test("tug explain NODE_LAMBDA: up to date after a build, names the edited input after an edit", async (t) => {
  const dir = await tempDir(t, "tug-node-explain-");
  await cp(join(REPO_ROOT, "examples", "lambdas", "src"), join(dir, "src"), { recursive: true });
  await writeFile(
    join(dir, "tug.yaml"),
    "lambdas:\n  api: { runtime: nodejs20.x, architecture: arm64, handler: src/api.ts:handler }\n",
  );
  const env = { TUG_CACHE: await tempDir(t, "tug-node-explain-cache-") };
  const explain = async (): Promise<Explained> => {
    const r = await runTug(["explain", "api", "--json"], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Explained;
  };

  assert.equal((await explain()).steps[0]?.status, "missing");
  const built = await runTug(["build", "-q"], { cwd: dir, env });
  assert.equal(built.code, 0, built.stderr);
  const current = await explain();
  assert.deepEqual(
    current.steps.map((s) => [s.step, s.status, s.reasons]),
    [["zip", "up-to-date", []]],
  );

  await appendFile(join(dir, "src", "api.ts"), "// edited\n");
  const edited = await explain();
  assert.deepEqual(
    edited.steps.map((s) => [s.step, s.status, s.reasons]),
    [["zip", "rebuild", ["src/api.ts changed"]]],
  );
  // The build agrees with explain: it rebuilds, and says why.
  const rebuilt = await runTug(["build", "--json"], { cwd: dir, env });
  assert.equal(rebuilt.code, 0, rebuilt.stderr);
  const api = (JSON.parse(rebuilt.stdout) as { artifacts: Array<{ cached: boolean; reason?: string }> })
    .artifacts[0];
  assert.equal(api?.cached, false);
  assert.equal(api?.reason, "src/api.ts changed");
});
