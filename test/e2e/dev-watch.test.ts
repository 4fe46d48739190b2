// The README's watcher claims, end to end through `tug dev` on a `files` target served by a real
// HTTP server from the local runtime's staging directory: new directories are watched as they
// appear, deletions sync as deletions, an editor's rename-on-save is one change of the saved
// file, and a nested .gitignore keeps its files out of the image and out of every update.
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { loadProject } from "../../src/config/index.ts";
import { dev } from "../../src/dev/dev.ts";
import type { UpdateReport } from "../../src/dev/report.ts";
import { httpGet, until } from "../support/http.ts";
import { tempDir } from "../support/tmp.ts";
import { freePort } from "../support/tools.ts";

async function siteProject(t: TestContext, port: number): Promise<string> {
  const dir = await tempDir(t, "tug-dev-watch-");
  const site = join(dir, "site");
  await fs.mkdir(join(site, "sub"), { recursive: true });
  await fs.writeFile(join(site, "index.html"), "v1\n");
  await fs.writeFile(join(site, "old.html"), "old\n");
  await fs.writeFile(join(site, "sub", ".gitignore"), "*.secret\n");
  await fs.writeFile(
    join(dir, "tug.yaml"),
    `images:
  site:
    builder: files
    context: ./site
    dest: /srv/www
    entrypoint: [python3, -m, http.server, "${port}", --bind, 127.0.0.1, --directory, /srv/www]
    dev:
      runtime: local
      port: ${port}
`,
  );
  return dir;
}

test("tug dev watcher: new directories, deletions, rename-on-save, nested .gitignore", async (t) => {
  const port = await freePort();
  const dir = await siteProject(t, port);
  const site = join(dir, "site");
  const reports: UpdateReport[] = [];
  const session = await dev(await loadProject(join(dir, "tug.yaml")), {
    cacheDir: await tempDir(t, "tug-dev-watch-cache-"),
    onReport: (r) => reports.push(r),
    onLog: () => {},
  });
  t.after(() => session.stop());
  const get = (path: string) => httpGet(port, path);
  /** Waits for the next update naming `file`, then for the session to settle. */
  const updated = async (file: string): Promise<UpdateReport> => {
    const from = reports.length;
    const r = await until(`an update naming ${file}`, () =>
      reports.slice(from).find((x) => x.files.includes(file)),
    );
    await session.idle();
    assert.ok(r.ok, r.error);
    return r;
  };
  assert.equal(reports[0]?.action, "start");
  assert.ok(reports[0]?.ok, reports[0]?.error);
  assert.equal((await get("/index.html")).body, "v1\n");

  // A directory made after the start (two levels at once) is watched, and its file ships.
  let next = updated("docs/api/v1.html");
  await fs.mkdir(join(site, "docs", "api"), { recursive: true });
  await fs.writeFile(join(site, "docs", "api", "v1.html"), "api v1\n");
  await next;
  assert.equal((await get("/docs/api/v1.html")).body, "api v1\n");
  // …and a later edit inside it is seen too (the new directory has its own watch).
  next = updated("docs/api/v1.html");
  await fs.writeFile(join(site, "docs", "api", "v1.html"), "api v1.1\n");
  await next;
  assert.equal((await get("/docs/api/v1.html")).body, "api v1.1\n");

  // Deletions sync as deletions.
  next = updated("old.html");
  await fs.rm(join(site, "old.html"));
  await next;
  assert.equal((await get("/old.html")).status, 404);

  // Rename-on-save (vim's backupcopy=no, most atomic writers): write a temp, rename over.
  next = updated("index.html");
  await fs.writeFile(join(site, ".index.html.swp"), "v2\n");
  await fs.rename(join(site, ".index.html.swp"), join(site, "index.html"));
  await next;
  assert.equal((await get("/index.html")).body, "v2\n");
  assert.equal((await get("/.index.html.swp")).status, 404, "the temp name does not survive");

  // The nested .gitignore: sub/key.secret is never an update nor in the image; sub/page.html is.
  const before = reports.length;
  next = updated("sub/page.html");
  await fs.writeFile(join(site, "sub", "key.secret"), "hunter2\n");
  await fs.writeFile(join(site, "sub", "page.html"), "page\n");
  await next;
  assert.equal((await get("/sub/page.html")).body, "page\n");
  assert.equal((await get("/sub/key.secret")).status, 404);
  const later = reports.slice(before);
  assert.ok(!later.some((r) => r.files.includes("sub/key.secret")), JSON.stringify(later));

  // A whole directory removed: its files are gone from what is served.
  next = updated("docs/api/v1.html");
  await fs.rm(join(site, "docs"), { recursive: true });
  await next;
  assert.equal((await get("/docs/api/v1.html")).status, 404);
  assert.ok(
    reports.every((r) => r.ok),
    JSON.stringify(reports),
  );
});
