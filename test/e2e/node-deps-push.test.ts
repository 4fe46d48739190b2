// The Node builder's deps layer (packages it cannot bundle: native addons, `external:`) is its own
// layer, keyed by the lockfile: a source edit pushes the app layer and the config, nothing else.
// Counted at a proxy in front of Debian's docker-registry.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { makeNodeBase } from "../support/bases.ts";
import { runTugJson } from "../support/cli.ts";
import { startCountingProxy } from "../support/counting-proxy.ts";
import { copyInstalled, npmInstalled } from "../support/npm-project.ts";
import { startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import { skopeoInspectRaw } from "../support/tools.ts";

const server = (text: string) => `const ms = require("ms");
require("node:http")
  .createServer((_q, r) => r.end("${text} " + ms(60000)))
  .listen(Number(process.env.PORT));
`;

test("node: an external package sits in its own layer; a source edit pushes only the app layer and the config", async (t) => {
  const base = await makeNodeBase();
  const registry = await startRegistry(t);
  const proxy = await startCountingProxy(t, registry.url);
  const dir = await tempDir(t, "tug-node-deps-");
  await copyInstalled(await npmInstalled({ ms: "2.1.3" }), dir);
  await writeFile(join(dir, "server.js"), server("one"));
  await writeFile(
    join(dir, "tug.yaml"),
    `images:\n  web:\n    builder: node\n    context: .\n    entry: server.js\n    external: [ms]\n    base: oci-layout:${base.layout}:latest\n    env: { PORT: "8080" }\n`,
  );
  const opts = {
    cwd: dir,
    env: { TUG_CACHE: await tempDir(t, "tug-node-deps-cache-"), TUG_REPO: undefined },
  };
  const build = () =>
    runTugJson<{ artifacts: Array<{ digest: string }> }>(
      // The image's own blobs only: an SBOM would add one upload per new image (image-sbom tests).
      ["build", "--repo", proxy.repo("demo"), "--sbom", "none"],
      opts,
    );
  const layersOf = async () =>
    ((await skopeoInspectRaw(`docker://${proxy.repo("demo/web:latest")}`)).layers ?? []).map((l) => l.digest);

  await build();
  const before = await layersOf();
  await writeFile(join(dir, "server.js"), server("two"));
  proxy.reset();
  await build();
  const uploads = proxy
    .requests()
    .filter((r) => r.method === "PUT" && r.path.includes("/blobs/uploads/"))
    .map((r) => r.path);
  const after = await layersOf();
  const changed = after.filter((d) => !before.includes(d));
  assert.equal(changed.length, 1, "one layer differs: the bundle");
  assert.equal(after.length, before.length);
  // Above the base: the node_modules layer (external: ms), kept as the same blob, and the bundle.
  const baseLayers = ((await skopeoInspectRaw(`oci:${base.layout}:latest`)).layers ?? []).map(
    (l) => l.digest,
  );
  const own = before.filter((d) => !baseLayers.includes(d));
  assert.ok(own.length >= 2, `a deps layer besides the app layer: ${own.join(" ")}`);
  assert.ok(
    own.some((d) => after.includes(d)),
    "a layer of this image's own is kept across the edit: the deps layer",
  );
  assert.equal(uploads.length, 2, `the app layer and the config only:\n${uploads.join("\n")}`);
  assert.ok(
    uploads.some((u) => u.includes(encodeURIComponent(changed[0]!)) || u.includes(changed[0]!)),
    "the changed layer is one of them",
  );
});
