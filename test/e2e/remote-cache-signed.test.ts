// TUG_REMOTE_CACHE_KEY end to end: every record tug stores on the shared cache (nginx WebDAV)
// carries an HMAC-SHA256 that openssl — not tug — computes to the same value, over the format the
// README and src/engine/record-signature.ts give; a reader with the key reuses them, a reader
// with another key builds on its own after one warning.
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { runTug } from "../support/cli.ts";
import { startNginxDav } from "../support/nginx-dav.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";

interface Report {
  artifacts: Array<{ target: string; digest: string; cached: boolean }>;
}

const KEY = "team-signing-secret";

async function checkout(t: TestContext): Promise<string> {
  const dir = await tempDir(t, "tug-signed-");
  await mkdir(join(dir, "site"));
  await writeFile(join(dir, "site", "index.html"), "signed\n");
  await writeFile(
    join(dir, "tug.yaml"),
    "images:\n  site: { builder: files, context: ./site, dest: /srv/www }\n",
  );
  return dir;
}

/** HMAC-SHA256(key, "tug-record-sig-v1\0" + name + "\0" + envelope) by `openssl dgst`. */
async function opensslHmac(t: TestContext, key: string, message: Buffer): Promise<string> {
  const file = join(await tempDir(t, "tug-hmac-"), "msg");
  await writeFile(file, message);
  const { stdout } = await runTool("openssl", [
    "dgst",
    "-sha256",
    "-mac",
    "HMAC",
    "-macopt",
    `key:${key}`,
    "-r",
    file,
  ]);
  return stdout.split(/\s/)[0] ?? "";
}

test("signed shared-cache records: openssl computes the same HMAC; only the key's holders reuse them", async (t) => {
  const dav = await startNginxDav(t);
  const remote = `${dav.url}/team`;
  const build = async (key: string) => {
    const dir = await checkout(t);
    return runTug(["build", "--out", join(dir, ".tug", "out"), "--json"], {
      cwd: dir,
      env: {
        TUG_CACHE: await tempDir(t, "tug-signed-cache-"),
        TUG_REMOTE_CACHE: remote,
        TUG_REMOTE_CACHE_KEY: key,
      },
    });
  };
  const written = await build(KEY);
  assert.equal(written.code, 0, written.stderr);

  const acDir = join(dav.root, "team", "ac");
  const names = await readdir(acDir);
  assert.ok(names.length >= 1, "records were written");
  for (const name of names) {
    const body = await readFile(join(acDir, name));
    const nl = body.indexOf(0x0a);
    const m = /^tug-hmac-sha256 ([0-9a-f]{64})$/.exec(body.subarray(0, nl).toString("latin1"));
    assert.ok(m, `${name} starts with its signature line`);
    const envelope = body.subarray(nl + 1);
    assert.equal((JSON.parse(envelope.toString("utf8")) as { v: number }).v, 1);
    const message = Buffer.concat([Buffer.from(`tug-record-sig-v1\0${name}\0`), envelope]);
    assert.equal(m[1], await opensslHmac(t, KEY, message), `${name}: openssl agrees`);
    assert.ok(!body.includes(KEY), "the key itself is not stored");
  }

  const same = await build(KEY);
  assert.equal(same.code, 0, same.stderr);
  assert.ok(
    (JSON.parse(same.stdout) as Report).artifacts.every((a) => a.cached),
    "the key's holder reuses",
  );
  assert.ok(!same.stderr.includes("remote cache"), same.stderr);

  const other = await build("another-key");
  assert.equal(other.code, 0, other.stderr);
  const report = JSON.parse(other.stdout) as Report;
  assert.deepEqual(
    report.artifacts.map((a) => a.digest),
    (JSON.parse(written.stdout) as Report).artifacts.map((a) => a.digest),
  );
  assert.ok(
    report.artifacts.every((a) => !a.cached),
    "records signed with another key are not used",
  );
  assert.equal(other.stderr.split("\n").filter((l) => /remote cache/.test(l)).length, 1, other.stderr);
});
