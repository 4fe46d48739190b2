// tug dev of a target built on another target (`base: tug://assets`) with a kodata-style
// `layers:` entry, in podman: the dev image stands on the base target (built in-process), and
// an edit under the layer's `from` is synced to the layer's `to` in the running container.
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { loadProject } from "../../src/config/index.ts";
import { hostPlatform } from "../../src/config/platform.ts";
import { containerRuntime } from "../../src/dev/container-runtime.ts";
import { dev } from "../../src/dev/dev.ts";
import { devImageDeployer } from "../../src/dev/dev-image.ts";
import type { UpdateReport } from "../../src/dev/report.ts";
import { makeNodeBase } from "../support/bases.ts";
import { writeTree } from "../support/go-monorepo.ts";
import { httpText, until } from "../support/http.ts";
import { tempDir } from "../support/tmp.ts";
import { freePort, podmanStore } from "../support/tools.ts";

const SERVER = `import { readFileSync } from "node:fs";
import { createServer } from "node:http";

const read = (path: string) => readFileSync(path, "utf8").trim();
createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/plain" });
  res.end(\`\${read("/srv/assets/a.txt")}|\${read(\`\${process.env.KO_DATA_PATH}/greeting.txt\`)}\\n\`);
}).listen(Number(process.env.PORT), () => console.log("listening"));
`;

test("podman dev of a tug:// dependent: runs on its base target; a kodata edit is live-synced", async (t) => {
  const store = await podmanStore(t);
  const base = await makeNodeBase();
  const port = await freePort();
  const dir = await tempDir(t, "tug-devgraph-");
  await writeTree(dir, {
    "tug.yaml": `images:
  web:
    builder: node
    context: ./web
    entry: src/server.ts
    base: tug://assets
    layers: [{ from: kodata, to: /var/run/ko }]
    env: { PORT: "${port}" }
    dev:
      runtime: podman
      port: ${port}
  assets:
    builder: files
    context: ./assets
    dest: /srv/assets
    base: oci-layout:${base.layout}:${base.tag}
`,
    "assets/a.txt": "assets v1\n",
    "web/package.json": '{"name":"web","private":true}\n',
    "web/src/server.ts": SERVER,
    "web/kodata/greeting.txt": "hello v1\n",
  });
  const reports: UpdateReport[] = [];
  const session = await dev(await loadProject(join(dir, "tug.yaml")), {
    targets: ["web"],
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
    assert.equal(await httpText(port), "assets v1|hello v1\n");

    await fs.writeFile(join(dir, "web", "kodata", "greeting.txt"), "hello v2\n");
    const live = await until("the live update", () => reports.find((r) => r.action === "live-update"));
    await session.idle();
    assert.ok(live.ok, live.error);
    assert.equal(live.id, start.id, "same container: a sync, not a redeploy");
    assert.equal(await httpText(port), "assets v1|hello v2\n");
  } finally {
    await session.stop();
  }
});
