import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadProject } from "../../src/config/index.ts";
import { hostPlatform } from "../../src/config/platform.ts";
import { containerRuntime } from "../../src/dev/container-runtime.ts";
import { dev } from "../../src/dev/dev.ts";
import { devImageDeployer } from "../../src/dev/dev-image.ts";
import { formatReport, type UpdateReport } from "../../src/dev/report.ts";
import { makeNodeBase } from "../support/bases.ts";
import { httpText, until } from "../support/http.ts";
import { tempDir } from "../support/tmp.ts";
import { freePort, podmanStore, runTool } from "../support/tools.ts";

const DEMO = fileURLToPath(new URL("../../examples/demo/", import.meta.url));

test("podman runtime: a live update reaches the same container, which serves the new code", async (t) => {
  const store = await podmanStore(t);
  const base = await makeNodeBase();
  const port = await freePort();
  const dir = await tempDir(t, "tug-devpm-");
  await fs.cp(join(DEMO, "web"), join(dir, "web"), { recursive: true });
  await fs.writeFile(
    join(dir, "tug.yaml"),
    `images:
  web:
    builder: node
    context: ./web
    entry: src/server.ts
    base: oci-layout:${base.layout}:${base.tag}
    env: { PORT: "${port}" }
    dev:
      runtime: podman
      port: ${port}
`,
  );
  const reports: UpdateReport[] = [];
  const session = await dev(await loadProject(join(dir, "tug.yaml")), {
    cacheDir: await tempDir(t, "tug-cache-"),
    onReport: (r) => reports.push(r),
    onLog: () => {},
    imageRuntime: async (target, engine, project) => ({
      runtime: containerRuntime({ cli: "podman", globalArgs: store.args, env: store.env }),
      deployer: devImageDeployer(engine, target, project, hostPlatform()),
    }),
  });
  try {
    const start = reports[0]!;
    assert.ok(start.ok, start.error);
    assert.ok(start.id, "the container id is reported");
    assert.equal(await httpText(port), "hello from web\n");
    const startedAt = async () =>
      (
        await runTool("podman", [...store.args, "inspect", "--format", "{{.State.StartedAt}}", start.id!], {
          env: store.env,
        })
      ).stdout.trim();
    const before = await startedAt();

    await fs.writeFile(
      join(dir, "web/src/greeting.ts"),
      'export function greeting(): string {\n  return "live in podman";\n}\n',
    );
    const live = await until("the live update", () => reports.find((r) => r.action === "live-update"));
    await session.idle();
    assert.ok(live.ok, live.error);
    t.diagnostic(formatReport(live));
    assert.equal(live.id, start.id, "same container: not recreated");
    assert.equal(await startedAt(), before, "the container was not restarted either; only its process");
    assert.equal(await httpText(port), "live in podman\n");
  } finally {
    await session.stop();
  }
  const ps = await runTool("podman", [...store.args, "ps", "-aq"], { env: store.env });
  assert.equal(ps.stdout.trim(), "", "stop removed the container");
});
