import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runTug, runTugJson } from "../support/cli.ts";
import { startCountingProxy } from "../support/counting-proxy.ts";
import { startNginxDav } from "../support/nginx-dav.ts";
import { startRegistry } from "../support/registry.ts";
import { S3RVER_CREDENTIALS, startS3rver } from "../support/s3rver.ts";
import { tempDir } from "../support/tmp.ts";

const DEMO = fileURLToPath(new URL("../../examples/demo/", import.meta.url));

interface Report {
  ms: number;
  artifacts: Array<{ target: string; digest: string; cached: boolean }>;
}

/**
 * A checkout of a small repo: the demo's Go, Node and files images plus a `command` image whose
 * command counts its runs in a file outside the checkout (a builder execution leaves a mark).
 */
async function checkout(t: TestContext, counter: string): Promise<string> {
  const dir = await tempDir(t, "tug-clone-");
  for (const d of ["hello", "web", "public"]) await fs.cp(join(DEMO, d), join(dir, d), { recursive: true });
  await fs.mkdir(join(dir, "gen"));
  await fs.writeFile(join(dir, "gen", "input.txt"), "generated from input\n");
  await fs.writeFile(
    join(dir, "tug.yaml"),
    `images:
  hello: { builder: go, context: ./hello }
  web: { builder: node, context: ./web, entry: src/server.ts, base: scratch, entrypoint_check: false }
  site: { builder: files, context: ./public, dest: /srv/www }
  gen:
    builder: command
    context: ./gen
    run: "echo run >> ${counter} && mkdir -p out && cp input.txt out/"
    output: out
    inputs: [input.txt]
`,
  );
  return dir;
}

async function build(
  dir: string,
  cache: string,
  remote: string,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = {},
) {
  return runTugJson<Report>(["build", "--out", join(dir, ".tug", "out"), ...extra], {
    cwd: dir,
    env: { TUG_CACHE: cache, TUG_REMOTE_CACHE: remote, TUG_REMOTE_CACHE_TIMEOUT_MS: "1000", ...env },
  });
}

const digests = (r: Report) => Object.fromEntries(r.artifacts.map((a) => [a.target, a.digest]));

/** Clone A fills the shared cache; clone B, elsewhere with an empty local cache, runs no builder. */
async function teammateReuse(t: TestContext, remote: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const counter = join(await tempDir(t, "tug-count-"), "runs");
  const a = await checkout(t, counter);
  const first = await build(a, await tempDir(t, "tug-cache-a-"), remote, [], env);
  assert.ok(first.artifacts.every((x) => !x.cached));
  assert.equal((await fs.readFile(counter, "utf8")).trim().split("\n").length, 1);

  const b = await checkout(t, counter); // another directory, as another machine would have
  const second = await build(b, await tempDir(t, "tug-cache-b-"), remote, [], env);
  assert.deepEqual(digests(second), digests(first), "same commit, same digests");
  assert.ok(
    second.artifacts.every((x) => x.cached),
    JSON.stringify(second.artifacts),
  );
  assert.equal(
    (await fs.readFile(counter, "utf8")).trim().split("\n").length,
    1,
    "no builder ran in clone B",
  );
}

test("a clone with an empty local cache reuses a teammate's work from an nginx WebDAV cache (Bazel HTTP)", async (t) => {
  const dav = await startNginxDav(t);
  await teammateReuse(t, `${dav.url}/team-a`);
  const files = await fs.readdir(join(dav.root, "team-a", "cas"));
  assert.ok(files.length >= 4, "layer blobs are in the shared store, under the instance prefix");
});

test("the same through S3 (s3rver)", async (t) => {
  const s3 = await startS3rver(t, { buckets: ["tug-cache"] });
  await teammateReuse(t, "s3://tug-cache/ci", {
    AWS_ENDPOINT_URL: s3.url,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: "us-east-1",
  });
});

test("the same through the team's own OCI registry (docker-registry)", async (t) => {
  const registry = await startRegistry(t);
  await teammateReuse(t, `oci://${registry.host}:${registry.port}/tug/cache`, {
    DOCKER_CONFIG: await tempDir(t, "tug-docker-"),
  });
});

/** A tiny HTTP server for faults: always 500, or a stall, or wrong bytes for blobs. */
async function faultServer(
  t: TestContext,
  mode: "500" | "stall" | "wrong-body",
  upstream?: string,
): Promise<string> {
  const server: Server = createServer((req, res) => {
    if (mode === "500") {
      res.writeHead(500).end("boom");
      return;
    }
    if (mode === "stall") return; // never answers
    // wrong-body: proxy to the real cache, but replace blob bodies with other bytes.
    const target = new URL(req.url ?? "/", upstream);
    const up = request(target, { method: req.method, headers: req.headers }, (r) => {
      if (req.method === "GET" && req.url?.includes("/cas/") && r.statusCode === 200) {
        r.resume();
        res.writeHead(200, { "content-length": "11" }).end("not the one");
        return;
      }
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test("faults in the remote cache: the build still succeeds with correct output and says so once", async (t) => {
  const dav = await startNginxDav(t);
  const counter = join(await tempDir(t, "tug-count-"), "runs");
  const reference = await build(await checkout(t, counter), await tempDir(t, "tug-cache-"), dav.url);
  const closed = "http://127.0.0.1:9"; // discard port: nothing listens
  const cases: Array<[string, string]> = [
    ["down", closed],
    ["500", await faultServer(t, "500")],
    ["stall", await faultServer(t, "stall")],
    ["wrong body", await faultServer(t, "wrong-body", dav.url)],
  ];
  for (const [name, url] of cases) {
    const dir = await checkout(t, counter);
    const r = await runTug(["build", "--out", join(dir, ".tug", "out"), "--json"], {
      cwd: dir,
      env: {
        TUG_CACHE: await tempDir(t, "tug-cache-"),
        TUG_REMOTE_CACHE: url,
        TUG_REMOTE_CACHE_TIMEOUT_MS: "1000",
      },
    });
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.deepEqual(digests(JSON.parse(r.stdout) as Report), digests(reference), `${name}: correct output`);
    const warnings = r.stderr.split("\n").filter((l) => l.includes("remote cache"));
    assert.equal(warnings.length, 1, `${name}: one warning, got:\n${r.stderr}`);
  }
});

test("--remote-cache=read: hits what a teammate pushed, writes nothing; off never talks to the server", async (t) => {
  const dav = await startNginxDav(t);
  const proxy = await startCountingProxy(t, dav.url);
  const remote = `http://${proxy.host}`;
  const counter = join(await tempDir(t, "tug-count-"), "runs");
  // The cheap targets only: `gen` marks each builder run in the counter file.
  const targets = ["site", "gen"];
  const first = await build(await checkout(t, counter), await tempDir(t, "tug-cache-"), remote, targets);
  assert.ok(first.artifacts.every((x) => !x.cached));
  const filled = proxy.requests().filter((r) => r.method === "PUT").length;
  assert.ok(filled > 0, "the first clone filled the shared cache");

  proxy.reset();
  const read = await build(await checkout(t, counter), await tempDir(t, "tug-cache-"), remote, [
    ...targets,
    "--remote-cache",
    "read",
  ]);
  assert.deepEqual(digests(read), digests(first));
  assert.ok(
    read.artifacts.every((x) => x.cached),
    `every target a hit from the shared cache: ${JSON.stringify(read.artifacts)}`,
  );
  assert.equal((await fs.readFile(counter, "utf8")).trim().split("\n").length, 1, "no builder ran again");
  const methods = new Set(proxy.requests().map((r) => r.method));
  assert.ok(methods.has("GET"), "read mode read from the server");
  assert.deepEqual(
    [...methods].filter((m) => m !== "GET" && m !== "HEAD"),
    [],
    "read mode sent no writes",
  );

  const dir = await checkout(t, counter);
  const r = await runTug(["build", ...targets, "--remote-cache", "off", "--out", join(dir, ".tug", "out")], {
    cwd: dir,
    env: { TUG_CACHE: await tempDir(t, "tug-cache-"), TUG_REMOTE_CACHE: "http://127.0.0.1:9" },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stderr.includes("remote cache"), r.stderr);
});
