// The supervisor `npm run build` ships (scripts/build-supervisor.mjs): with it present, a dev
// image gets it on a machine without Go; a binary that no longer matches its sha256 is refused.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { buildSupervisors } from "../../scripts/build-supervisor.mjs";
import { loadProject } from "../../src/config/index.ts";
import { hostPlatform } from "../../src/config/platform.ts";
import type { ImageTarget } from "../../src/config/types.ts";
import { devImageDeployer } from "../../src/dev/dev-image.ts";
import { prebuiltSupervisor } from "../../src/dev/supervisor.ts";
import { Engine } from "../../src/engine/engine.ts";
import { tempDir } from "../support/tmp.ts";
import { umociUnpack } from "../support/tools.ts";

const arch = hostPlatform().architecture;
const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

test("prebuilt supervisor: put in the dev image without go on PATH; a tampered one is refused", async (t) => {
  const out = await tempDir(t, "tug-prebuilt-");
  assert.equal(buildSupervisors(out, { log: () => {} }), true);
  const manifest = JSON.parse(await fs.readFile(join(out, "manifest.json"), "utf8")) as {
    binaries: Record<string, { file: string; sha256: string }>;
  };
  assert.deepEqual(Object.keys(manifest.binaries).sort(), ["linux/amd64", "linux/arm64"]);
  const mine = manifest.binaries[`linux/${arch}`]!;
  assert.equal(hex(await fs.readFile(join(out, mine.file))), mine.sha256);

  // A dev image of a small project, built with PATH holding no go (nor anything else).
  const dir = await tempDir(t, "tug-prebuilt-proj-");
  await fs.mkdir(join(dir, "site"));
  await fs.writeFile(join(dir, "site", "run"), "#!/tug/supervisor\n", { mode: 0o755 });
  await fs.writeFile(
    join(dir, "tug.yaml"),
    "images:\n  site:\n    builder: files\n    context: ./site\n    dest: /srv\n    base: scratch\n    entrypoint: [/srv/run]\n    dev: { runtime: podman }\n",
  );
  const project = await loadProject(join(dir, "tug.yaml"));
  const target = project.targets[0] as ImageTarget;
  const engine = await Engine.open({ cacheDir: await tempDir(t, "tug-cache-"), scope: dir });
  const saved = { PATH: process.env.PATH, TUG_SUPERVISOR_DIR: process.env.TUG_SUPERVISOR_DIR };
  process.env.PATH = await tempDir(t, "tug-empty-path-");
  process.env.TUG_SUPERVISOR_DIR = out;
  try {
    await devImageDeployer(engine, target, project, hostPlatform()).deploy();
  } finally {
    process.env.PATH = saved.PATH;
    if (saved.TUG_SUPERVISOR_DIR === undefined) delete process.env.TUG_SUPERVISOR_DIR;
    else process.env.TUG_SUPERVISOR_DIR = saved.TUG_SUPERVISOR_DIR;
    await engine.close();
  }
  // umoci, not tug, reads the image back.
  const rootfs = await umociUnpack(join(dir, ".tug", "dev", "oci"), "site", join(dir, "bundle"));
  assert.equal(hex(await fs.readFile(join(rootfs, "tug", "supervisor"))), mine.sha256);

  // One flipped byte: refused, and the error names the file.
  const bin = join(out, mine.file);
  const bytes = await fs.readFile(bin);
  bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
  await fs.writeFile(bin, bytes);
  await assert.rejects(prebuiltSupervisor(hostPlatform(), [out]), (e: Error & { what?: string }) => {
    assert.ok((e.what ?? e.message).includes(bin), e.message);
    return true;
  });
  // Missing: no prebuilt (tug compiles it with go then).
  await fs.rm(bin);
  assert.equal(await prebuiltSupervisor(hostPlatform(), [out]), undefined);
});
