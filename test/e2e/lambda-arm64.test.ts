// An arm64 Python lambda run for real: tug builds it (picking the aarch64 wheel) and `tug invoke`
// runs the handler with Debian's arm64 CPython under qemu-user-static, found first on PATH.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import test from "node:test";
import { buildFixtureIndex, type FixtureWheel } from "../lambda/support/fixture-index.ts";
import { runTug } from "../support/cli.ts";
import { arm64Python } from "../support/emulation.ts";
import { tempDir } from "../support/tmp.ts";

/** A wheel per machine whose module says which one it is (pure Python, so no cross compiler). */
function machineWheel(tag: string, machine: string): FixtureWheel {
  return {
    name: "fakemachine",
    version: "1.0",
    tag: `${tag}-${tag}-manylinux_2_17_${machine}`,
    initPy: `WHEEL_MACHINE = "${machine}"\n`,
  };
}

// e_machine of the running interpreter, read from its own ELF header: what qemu is executing.
const HANDLER = `import platform
import sys

import fakemachine


def handler(event, context):
    with open(sys.executable, "rb") as f:
        header = f.read(20)
    return {
        "machine": platform.machine(),
        "e_machine": int.from_bytes(header[18:20], "little"),
        "wheel": fakemachine.WHEEL_MACHINE,
        "echo": event,
    }
`;

test("an arm64 lambda's handler runs on arm64 CPython under qemu, with the aarch64 wheel", async (t) => {
  const py = await arm64Python(t);
  const tag = `cp${py.version.replace(".", "")}`;
  const root = await tempDir(t, "tug-arm64-lambda-");
  const index = await buildFixtureIndex(join(root, "index"), [
    machineWheel(tag, "x86_64"),
    machineWheel(tag, "aarch64"),
  ]);
  const dir = join(root, "project");
  await mkdir(join(dir, "fns"), { recursive: true });
  await writeFile(
    join(dir, "tug.yaml"),
    `python:\n  index_url: ${index.simpleUrl}\nlambdas:\n  fn: { runtime: python${py.version}, architecture: arm64, handler: fns/fn.py:handler }\n`,
  );
  await writeFile(join(dir, "requirements.txt"), "fakemachine\n");
  await writeFile(join(dir, "fns", "fn.py"), HANDLER);

  const r = await runTug(["invoke", "fn", "--event", '{"n": 7}'], {
    cwd: dir,
    env: {
      TUG_CACHE: join(root, "cache"),
      PIP_CONFIG_FILE: "/dev/null",
      TUG_INDEX_URL: "",
      PATH: `${py.binDir}:${process.env.PATH}`,
    },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    machine: "aarch64",
    e_machine: 183,
    wheel: "aarch64",
    echo: { n: 7 },
  });
  assert.doesNotMatch(r.stderr, /not on PATH/, "the runtime's own python3.X ran");
});
