// The README's shared-cache cost claim, counted at the wire as bench/remote-cache.ts counts it
// (requests by method and area, /ac or /cas): "requests grow with the number of layers, never
// with the number of files". A writer clone fills nginx WebDAV through a counting proxy; a
// reader clone elsewhere with an empty local cache builds the same commit.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { runTugJson } from "../support/cli.ts";
import { type RecordedRequest, startCountingProxy } from "../support/counting-proxy.ts";
import { startNginxDav } from "../support/nginx-dav.ts";
import { tempDir } from "../support/tmp.ts";

interface Report {
  artifacts: Array<{ target: string; digest: string; cached: boolean }>;
}

type Counts = Record<string, number>;

/** "GET /ac" → n, as the bench's table groups them (the instance prefix dropped). */
function countByArea(reqs: RecordedRequest[]): Counts {
  const out: Counts = {};
  for (const r of reqs) {
    const area = /\/(ac|cas)\//.exec(r.path)?.[1] ?? "other";
    const k = `${r.method} /${area}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

const scaled = (c: Counts, n: number): Counts =>
  Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v * n]));

/** `targets` files images of `files` files each (spread over nested directories). */
async function checkout(t: TestContext, targets: number, files: number): Promise<string> {
  const dir = await tempDir(t, "tug-rc-clone-");
  let yaml = "images:\n";
  for (let i = 0; i < targets; i++) {
    const name = `site${i}`;
    for (let f = 0; f < files; f++) {
      const sub = join(dir, name, `d${f % 7}`, `e${f % 3}`);
      await mkdir(sub, { recursive: true });
      await writeFile(join(sub, `f${f}.txt`), `target ${i} file ${f}\n`);
    }
    yaml += `  ${name}: { builder: files, context: ./${name}, dest: /srv/www }\n`;
  }
  await writeFile(join(dir, "tug.yaml"), yaml);
  return dir;
}

/** Writer then reader for one repo shape; the requests each made, by area. */
async function writerThenReader(t: TestContext, targets: number, files: number) {
  const dav = await startNginxDav(t);
  const proxy = await startCountingProxy(t, dav.url);
  const remote = `http://${proxy.host}/team`;
  const build = async (dir: string) =>
    runTugJson<Report>(["build", "--out", join(dir, ".tug", "out")], {
      cwd: dir,
      env: { TUG_CACHE: await tempDir(t, "tug-rc-cache-"), TUG_REMOTE_CACHE: remote, TUG_REPO: undefined },
    });
  const written = await build(await checkout(t, targets, files));
  assert.ok(written.artifacts.every((a) => !a.cached));
  const writer = proxy.requests();
  proxy.reset();
  const read = await build(await checkout(t, targets, files));
  assert.ok(
    read.artifacts.every((a) => a.cached),
    "the reader built nothing",
  );
  assert.deepEqual(
    read.artifacts.map((a) => a.digest),
    written.artifacts.map((a) => a.digest),
  );
  return { writer: countByArea(writer), reader: countByArea(proxy.requests()) };
}

test("shared cache: the same requests for 5 files or 300, twice as many for two targets", async (t) => {
  const few = await writerThenReader(t, 1, 5);
  const many = await writerThenReader(t, 1, 300);
  const two = await writerThenReader(t, 2, 5);
  const shown = JSON.stringify({ few, many, two }, null, 1);
  t.diagnostic(JSON.stringify({ few, many, two }));
  // The bench prints these counts; one files target is one layer: a record, a descriptor, a blob.
  assert.ok((few.reader["GET /ac"] ?? 0) >= 1 && (few.reader["GET /cas"] ?? 0) >= 1, shown);
  assert.ok((few.writer["PUT /ac"] ?? 0) >= 1 && (few.writer["PUT /cas"] ?? 0) >= 1, shown);
  assert.deepEqual(many.writer, few.writer, `files do not add writes:\n${shown}`);
  assert.deepEqual(many.reader, few.reader, `files do not add reads:\n${shown}`);
  assert.deepEqual(two.writer, scaled(few.writer, 2), `a target adds its own:\n${shown}`);
  assert.deepEqual(two.reader, scaled(few.reader, 2), `a target adds its own:\n${shown}`);
});
