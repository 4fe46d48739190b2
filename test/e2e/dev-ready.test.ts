// "Ready" means OUR process listens: another program already on the port is not readiness, and
// the app's own failure (EADDRINUSE) is what `tug dev` reports; an app that stops after it was
// ready is reported at once with its exit code and last log lines.
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { loadProject } from "../../src/config/index.ts";
import { dev } from "../../src/dev/dev.ts";
import { treeListensOn } from "../../src/dev/port-owner.ts";
import type { UpdateReport } from "../../src/dev/report.ts";
import { demoWebDevProject } from "../support/dev-session.ts";
import { httpGet, httpText, until } from "../support/http.ts";
import { tempDir } from "../support/tmp.ts";
import { freePort } from "../support/tools.ts";

const QUITTER = `import { createServer } from "node:http";
import { greeting } from "./greeting.ts";

const port = Number(process.env.PORT ?? 8080);
const server = createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain" });
  res.end(\`\${greeting()}\\n\`);
  if (req.url === "/quit") {
    console.error("quitting on request");
    server.close();
    process.exitCode = 3;
  }
}).listen(port, () => console.log(\`listening on \${port}\`));
`;

async function project(t: TestContext, port: number, server?: string): Promise<string> {
  const dir = await demoWebDevProject(t, "tug-devready-", port);
  if (server) await fs.writeFile(join(dir, "web/src/server.ts"), server);
  return dir;
}

async function startDev(t: TestContext, dir: string) {
  const reports: UpdateReport[] = [];
  const session = await dev(await loadProject(join(dir, "tug.yaml")), {
    cacheDir: await tempDir(t, "tug-cache-"),
    onReport: (r) => reports.push(r),
    onLog: () => {},
  });
  t.after(() => session.stop());
  return { session, reports };
}

test("a port another program holds is not ready: the app's EADDRINUSE exit is reported", async (t) => {
  const port = await freePort();
  const squatter = createServer((_q, s) => s.end("someone else\n"));
  await new Promise<void>((r) => squatter.listen(port, r));
  t.after(() => new Promise((r) => squatter.close(r)));
  assert.equal(await treeListensOn(process.pid, port), true, "the test process owns its own listener");
  const dir = await project(t, port);
  const { reports } = await startDev(t, dir);
  const start = reports[0]!;
  assert.equal(start.action, "start");
  assert.equal(start.ok, false, "not ready: the answer came from another program");
  assert.match(start.error ?? "", /exited before it was ready \(code 1\)/);
  assert.ok(
    start.logs?.some((l) => l.includes("EADDRINUSE")),
    `the log tail shows why: ${JSON.stringify(start.logs)}`,
  );
  assert.equal(await httpText(port), "someone else\n");
});

test("an app that exits after it was ready is reported at once, with exit code and log tail", async (t) => {
  const port = await freePort();
  const dir = await project(t, port, QUITTER);
  const { reports } = await startDev(t, dir);
  const start = reports[0]!;
  assert.ok(start.ok, start.error);
  assert.equal(await treeListensOn(Number(start.id), port), true, "the reported process owns the port");
  assert.equal((await httpGet(port, "/quit")).status, 200);
  const exited = await until("the exit report", () => reports.find((r) => r.action === "exited"));
  assert.equal(exited.ok, false);
  assert.match(exited.error ?? "", /exited after it was ready \(code 3\)/);
  assert.ok(exited.logs?.includes("quitting on request"), JSON.stringify(exited.logs));
  assert.equal(exited.id, start.id);
});
