// Lambdas on a shared cache: a CI runner with an empty local cache builds the same zips from a
// teammate's resolution locks and wheels in an nginx WebDAV store, without asking the index.
import assert from "node:assert/strict";
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import test from "node:test";
import { buildFixtureIndex, serveFixtureIndex } from "../lambda/support/fixture-index.ts";
import { runTugJson } from "../support/cli.ts";
import { startCountingProxy } from "../support/counting-proxy.ts";
import { startNginxDav } from "../support/nginx-dav.ts";
import { tempDir } from "../support/tmp.ts";

interface Lambda {
  target: string;
  digest: string;
  cached: boolean;
}

test("a clone with an empty cache builds the lambdas from the shared cache's locks and wheels, no index request", async (t) => {
  const root = await tempDir(t, "tug-lambda-remote-");
  const index = await buildFixtureIndex(join(root, "index"), [
    { name: "fakeb", version: "1.0", tag: "py3-none-any" },
    { name: "fakea", version: "2.0", tag: "py3-none-any", requiresDist: ["fakeb"] },
  ]);
  const served = await serveFixtureIndex(t, index.root);
  const dav = await startNginxDav(t);
  const a = join(root, "clone-a");
  await mkdir(join(a, "fns"), { recursive: true });
  await writeFile(
    join(a, "tug.yaml"),
    `python:\n  index_url: ${served.simpleUrl}\nlambdas:\n  fn: { runtime: python3.12, handler: fns/fn.py:handler }\n`,
  );
  await writeFile(join(a, "requirements.txt"), "fakea\n");
  await writeFile(join(a, "fns", "fn.py"), "import fakea\n\n\ndef handler(event, context):\n    return 1\n");
  const env = (cache: string) => ({
    TUG_CACHE: cache,
    TUG_REMOTE_CACHE: `${dav.url}/ci`,
    TUG_REMOTE_CACHE_TIMEOUT_MS: "2000",
    PIP_CONFIG_FILE: "/dev/null",
    TUG_INDEX_URL: "",
  });

  const first = await runTugJson<{ artifacts: Lambda[] }>(["build"], {
    cwd: a,
    env: env(join(root, "cache-a")),
  });
  assert.ok(served.log.length > 0, "clone A resolved from the index");

  const b = join(root, "clone-b");
  await cp(a, b, { recursive: true, filter: (src) => !src.includes(".tug") });
  served.log.length = 0;
  const second = await runTugJson<{ artifacts: Lambda[] }>(["build"], {
    cwd: b,
    env: env(join(root, "cache-b")),
  });
  assert.deepEqual(
    served.log,
    [],
    "clone B asked the index nothing: lock and wheels came from the shared cache",
  );
  assert.equal(second.artifacts[0]?.cached, false);
  assert.equal(second.artifacts[0]?.digest, first.artifacts[0]?.digest);
});

test("a lock resolved through an index URL with credentials is never PUT to the shared cache (nginx)", async (t) => {
  const root = await tempDir(t, "tug-lock-cred-");
  const index = await buildFixtureIndex(join(root, "index"), [
    { name: "fakea", version: "1.0", tag: "py3-none-any" },
  ]);
  const served = await serveFixtureIndex(t, index.root);
  const dav = await startNginxDav(t);
  const proxy = await startCountingProxy(t, dav.url);

  /** Builds one lambda through `indexUrl`, the shared cache behind the proxy; what it PUT there. */
  async function build(name: string, indexUrl: string): Promise<{ blobs: number; records: string[] }> {
    const dir = join(root, name);
    await mkdir(join(dir, "fns"), { recursive: true });
    await writeFile(
      join(dir, "tug.yaml"),
      `python:\n  index_url: ${indexUrl}\nlambdas:\n  fn: { runtime: python3.12, handler: fns/fn.py:handler }\n`,
    );
    await writeFile(join(dir, "requirements.txt"), "fakea\n");
    await writeFile(
      join(dir, "fns", "fn.py"),
      "import fakea\n\n\ndef handler(event, context):\n    return 1\n",
    );
    proxy.reset();
    await runTugJson(["build"], {
      cwd: dir,
      env: {
        TUG_CACHE: join(root, `cache-${name}`),
        TUG_REMOTE_CACHE: `http://${proxy.host}/ci`,
        PIP_CONFIG_FILE: "/dev/null",
        TUG_INDEX_URL: "",
      },
    });
    const puts = proxy.requests().filter((r) => r.method === "PUT");
    assert.ok(
      puts.every((r) => r.status === 201),
      JSON.stringify(puts),
    );
    const records = puts.filter((r) => r.path.startsWith("/ci/ac/"));
    return {
      blobs: puts.filter((r) => r.path.startsWith("/ci/cas/")).length,
      records: await Promise.all(records.map((r) => readFile(join(dav.root, r.path), "utf8"))),
    };
  }

  const withCredentials = await build("creds", served.simpleUrl.replace("http://", "http://ci:s3cret@"));
  assert.equal(withCredentials.blobs, 1, "the shared cache was in use: the wheel went up");
  assert.deepEqual(
    withCredentials.records,
    [],
    "no record PUT: the build's only record is the credential lock",
  );
  for (const r of proxy.requests()) assert.doesNotMatch(r.path, /s3cret/);

  // Control: the same lambda through the plain URL does share its lock, a record naming the
  // wheel, so the check above would see one.
  const plain = await build("plain", served.simpleUrl);
  assert.equal(plain.records.length, 1, plain.records.join("\n"));
  assert.match(plain.records[0] ?? "", /fakea-1\.0-py3-none-any\.whl/);
});
