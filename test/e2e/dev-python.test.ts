// tug dev on a python service in podman: a source edit is synced into /app and the process
// restarted in the same container (no deps layer rebuilt); a requirements change rebuilds.
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { pythonWheelIndex } from "../lambda/support/python-wheels.ts";
import { makePythonBase } from "../support/bases.ts";
import { startDev } from "../support/dev-session.ts";
import { httpText, untilReply } from "../support/http.ts";
import { tempDir } from "../support/tmp.ts";
import { freePort, podmanStore, runTool } from "../support/tools.ts";

const SERVER = (reply: string) => `import http.server, os
import greeting

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{greeting.VALUE} ${reply}\\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
`;

test("tug dev, python service in podman: an edit restarts the process in the same container; requirements rebuild", async (t) => {
  const store = await podmanStore(t);
  const base = await makePythonBase();
  const port = await freePort();
  const index = await pythonWheelIndex(await tempDir(t, "tug-devpy-idx-"), [
    { name: "greeting", version: "1.0", files: { "greeting/__init__.py": 'VALUE = "wheel-one"\n' } },
    { name: "greeting", version: "2.0", files: { "greeting/__init__.py": 'VALUE = "wheel-two"\n' } },
  ]);
  const dir = await tempDir(t, "tug-devpy-");
  await fs.mkdir(join(dir, "src"));
  await fs.writeFile(join(dir, "src", "server.py"), SERVER("v1"));
  await fs.writeFile(join(dir, "requirements.txt"), "greeting==1.0\n");
  await fs.writeFile(
    join(dir, "tug.yaml"),
    `images:
  svc:
    builder: python
    base: oci-layout:${base.layout}:${base.tag}
    module: server
    index_url: ${index}
    source_roots: [src]
    env: { PORT: "${port}" }
    dev:
      runtime: podman
      port: ${port}
`,
  );
  const { session, reports, next } = await startDev(t, join(dir, "tug.yaml"), { podman: store });
  try {
    const start = reports[0]!;
    assert.ok(start.ok, start.error);
    assert.equal(await httpText(port), "wheel-one v1\n");

    await fs.writeFile(join(dir, "src", "server.py"), SERVER("v2"));
    const live = await next("live-update");
    await session.idle();
    assert.ok(live.ok, live.error);
    assert.equal(live.id, start.id, "same container: synced and restarted, not rebuilt");
    await untilReply(port, "wheel-one v2\n");

    await fs.writeFile(join(dir, "requirements.txt"), "greeting==2.0\n");
    const rebuilt = await next("rebuild");
    await session.idle();
    assert.ok(rebuilt.ok, rebuilt.error);
    await untilReply(port, "wheel-two v2\n");
  } finally {
    await session.stop();
  }
  const ps = await runTool("podman", [...store.args, "ps", "-aq"], { env: store.env });
  assert.equal(ps.stdout.trim(), "", "stop removed the container");
});
