// tug against the failures real machines produce: concurrent builds on one cache, kill -9 in the
// middle of a layer write, a damaged cache, and a registry behind a network that resets,
// errors and stalls. Real components throughout: the CLI from source, docker-registry, skopeo.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { loadProject } from "../../src/config/index.ts";
import { TugError } from "../../src/errors.ts";
import { build } from "../../src/image/build.ts";
import { registryAccess } from "../../src/image/registry-sink.ts";
import { RegistryClient } from "../../src/oci/registry/client.ts";
import { makeBusyboxBase } from "../support/bases.ts";
import { auditCache, auditLayout, hashFile } from "../support/cache-audit.ts";
import { startChaosProxy } from "../support/chaos-proxy.ts";
import { runTug } from "../support/cli.ts";
import { noise } from "../support/memory-image.ts";
import { startRegistry } from "../support/registry.ts";
import { brokenTags, registryTags } from "../support/registry-audit.ts";
import { tempDir } from "../support/tmp.ts";
import { skopeoCopy, skopeoInspectRaw } from "../support/tools.ts";

interface Artifact {
  target: string;
  digest: string;
  ref: string;
}

/** `tug build --json` with its own cache; the digests by target, or the failure with stderr. */
async function tugBuild(
  dir: string,
  cache: string,
  args: string[] = [],
): Promise<{ code: number | null; stderr: string; digests: Record<string, string> }> {
  const r = await runTug(["build", "--json", ...args], { cwd: dir, env: { TUG_CACHE: cache, TUG_REPO: "" } });
  const digests: Record<string, string> = {};
  if (r.code === 0) {
    for (const a of (JSON.parse(r.stdout) as { artifacts: Artifact[] }).artifacts)
      digests[a.target] = a.digest;
  }
  return { code: r.code, stderr: r.stderr, digests };
}

async function okBuild(dir: string, cache: string, args: string[] = []): Promise<Record<string, string>> {
  const r = await tugBuild(dir, cache, args);
  assert.equal(r.code, 0, `tug build in ${dir} failed:\n${r.stderr}`);
  return r.digests;
}

/** A project: a files target on a busybox base (oci-layout) plus whatever `extra` declares. */
async function project(
  t: TestContext,
  opts: { files?: Record<string, string | Buffer>; extra?: string } = {},
): Promise<string> {
  const dir = await tempDir(t, "tug-robust-");
  const base = await makeBusyboxBase(join(dir, "busybox"));
  await mkdir(join(dir, "site"));
  for (const [name, data] of Object.entries(opts.files ?? { "index.html": "<p>hi</p>\n" })) {
    await writeFile(join(dir, "site", name), data);
  }
  const yaml = [
    "images:",
    "  site:",
    "    builder: files",
    "    context: ./site",
    "    dest: /srv/www",
    `    base: oci-layout:${base.layout}:latest`,
    opts.extra ?? "",
  ].join("\n");
  await writeFile(join(dir, "tug.yaml"), yaml);
  return dir;
}

async function assertSound(cache: string, outDir?: string): Promise<void> {
  assert.deepEqual(await auditCache(cache), [], "cache audit");
  if (outDir) assert.deepEqual(await auditLayout(join(outDir, ".tug", "out", "oci")), [], "layout audit");
}

const COMMAND_TARGET = [
  "  gen:",
  "    builder: command",
  "    context: ./gen",
  "    run: 'mkdir -p out && echo generated > out/file.txt'",
  "    output: out",
  "    dest: /opt/gen",
].join("\n");

test("concurrent builds on one cache: same project, then two projects", async (t) => {
  await t.test("the same project twice at once: both succeed with identical digests", async (t) => {
    const dir = await project(t, { extra: COMMAND_TARGET });
    await mkdir(join(dir, "gen"));
    await writeFile(join(dir, "gen", "input.txt"), "x\n");
    const cache = join(await tempDir(t), "cache");
    const [a, b] = await Promise.all([okBuild(dir, cache), okBuild(dir, cache)]);
    assert.deepEqual(a, b);
    assert.deepEqual(Object.keys(a).sort(), ["gen", "site"]);
    // The layout both wrote is whole and names the one digest.
    await skopeoCopy(
      `oci:${join(dir, ".tug", "out", "oci")}:site`,
      `oci:${join(await tempDir(t), "copy")}:site`,
    );
    const index = JSON.parse(await readFile(join(dir, ".tug", "out", "oci", "index.json"), "utf8")) as {
      manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
    };
    for (const name of ["site", "gen"]) {
      const tagged = index.manifests.filter(
        (m) => m.annotations?.["org.opencontainers.image.ref.name"] === name,
      );
      assert.deepEqual(
        tagged.map((m) => m.digest),
        [a[name]],
      );
    }
    for (const name of ["site", "gen"]) {
      const tarDigest = (await readFile(join(dir, ".tug", "out", `${name}.tar.digest`), "utf8")).trim();
      assert.equal(tarDigest, a[name]);
    }
    await assertSound(cache, dir);
    // And a build in a fresh cache agrees: concurrency changed nothing.
    assert.deepEqual(await okBuild(dir, join(await tempDir(t), "fresh")), a);
  });

  await t.test("two projects sharing the cache and a layer at once", async (t) => {
    const shared = { "shared.txt": "the same bytes in both projects\n" };
    const one = await project(t, { files: { ...shared, "one.txt": "one\n" } });
    const two = await project(t, { files: { ...shared, "two.txt": "two\n" } });
    for (const dir of [one, two]) {
      await writeFile(
        join(dir, "tug.yaml"),
        `${await readFile(join(dir, "tug.yaml"), "utf8")}\n  common:\n    builder: files\n    context: ./common\n    dest: /c\n`,
      );
      await mkdir(join(dir, "common"));
      await writeFile(join(dir, "common", "c.txt"), "common layer\n");
    }
    const cache = join(await tempDir(t), "cache");
    const [a, b] = await Promise.all([okBuild(one, cache), okBuild(two, cache)]);
    assert.notEqual(a.site, b.site);
    assert.equal(a.common, b.common, "identical targets in two projects give one digest");
    await assertSound(cache, one);
    await assertSound(cache, two);
    const fresh = join(await tempDir(t), "fresh");
    assert.deepEqual(await okBuild(one, fresh), a);
    assert.deepEqual(await okBuild(two, fresh), b);
  });
});

/** Path and size of the largest file in `dir`, if any. */
async function largestFile(dir: string): Promise<{ path: string; size: number } | undefined> {
  let best: { path: string; size: number } | undefined;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const s = await stat(join(dir, name)).catch(() => undefined);
    if (s?.isFile() && (!best || s.size > best.size)) best = { path: join(dir, name), size: s.size };
  }
  return best;
}

test("kill -9 while a layer is written, then rebuild: same digests as a clean build", async (t) => {
  const dir = await project(t, { files: {} });
  // 160 MB that gzip cannot shrink, so the layer write is still running when the kill comes.
  for (let i = 0; i < 4; i++) {
    const fh = await open(join(dir, "site", `blob-${i}.bin`), "w");
    for (let j = 0; j < 10; j++) await fh.write(randomBytes(4 << 20));
    await fh.close();
  }
  const cache = join(await tempDir(t), "cache");
  let killedAt = -1;
  const r = await runTug(["build"], {
    cwd: dir,
    env: { TUG_CACHE: cache, TUG_REPO: "" },
    onSpawn: (child) => {
      const poll = setInterval(async () => {
        // The layer is being written to a temp file in the cache: kill once 8 MB of it exist.
        const f = await largestFile(join(cache, "tmp"));
        if (f && f.size > 8 << 20 && child.exitCode === null && killedAt < 0) {
          killedAt = f.size;
          child.kill("SIGKILL");
        }
      }, 5);
      child.once("exit", () => clearInterval(poll));
    },
  });
  assert.equal(r.signal, "SIGKILL", `the build finished before it could be killed:\n${r.stderr}`);
  assert.ok(killedAt > 0);
  // What the killed process left: its lock (owner dead) and maybe its temp file; no record, no blob.
  const locks = await readdir(join(cache, "locks")).catch(() => [] as string[]);
  assert.ok(locks.length > 0, "the killed build held no lock: the takeover path was not exercised");
  assert.ok((await readdir(join(cache, "tmp"))).length > 0, "the killed build left no temp file");

  const rebuilt = await okBuild(dir, cache);
  const clean = await okBuild(dir, join(await tempDir(t), "fresh"));
  assert.deepEqual(rebuilt, clean);
  // The next run reclaimed the dead writer's temp file and lock: the cache is as a clean run leaves it.
  assert.deepEqual(await auditCache(cache), []);
  assert.deepEqual(await auditLayout(join(dir, ".tug", "out", "oci")), []);
});

test("a corrupt cached layer blob is detected, rebuilt and replaced", async (t) => {
  const dir = await project(t, { files: { "data.bin": noise(2 << 20, "corrupt-cache"), "a.txt": "a\n" } });
  const cache = join(await tempDir(t), "cache");
  const first = await okBuild(dir, cache);
  const layout = join(dir, ".tug", "out", "oci");
  const manifest = await skopeoInspectRaw(`oci:${layout}:site`);
  const layer = manifest.layers!.at(-1)!.digest;
  const blob = join(cache, "blobs", "sha256", layer.slice(7));
  const size = (await stat(blob)).size;
  // Garbage of the same size, written in place (the inode .tug/out shares), then no outputs.
  await writeFile(blob, noise(size, "garbage"));
  await rm(join(dir, ".tug"), { recursive: true, force: true });

  const second = await okBuild(dir, cache);
  assert.deepEqual(second, first);
  assert.equal(await hashFile(blob), layer, "the corrupt blob was not replaced");
  await assertSound(cache, dir);
  await skopeoCopy(`oci:${layout}:site`, `oci:${join(await tempDir(t), "copy")}:site`);
});

test("truncated and edited action records are dropped and rebuilt", async (t) => {
  const dir = await project(t, { files: { "a.txt": "a\n", "b.txt": "b\n" } });
  const cache = join(await tempDir(t), "cache");
  const first = await okBuild(dir, cache);
  const records = async (kind: string) => {
    const out: string[] = [];
    for (const sub of await readdir(join(cache, "ac", kind)).catch(() => [] as string[]))
      for (const f of await readdir(join(cache, "ac", kind, sub))) out.push(join(cache, "ac", kind, sub, f));
    return out;
  };
  const layerRecords = await records("layer");
  const descRecords = await records("desc");
  assert.ok(layerRecords.length > 0 && descRecords.length > 0);
  // What tug wrote: records hold digests and sizes only, so a rebuild writes the same bytes.
  const written = new Map<string, string>();
  for (const f of [...layerRecords, ...descRecords]) written.set(f, await readFile(f, "utf8"));
  for (const f of layerRecords) {
    const text = await readFile(f, "utf8");
    await writeFile(f, text.slice(0, Math.floor(text.length / 2))); // truncated
  }
  for (const f of descRecords) {
    // Still valid JSON, but the size was edited: its checksum no longer matches.
    const env = JSON.parse(await readFile(f, "utf8")) as { value: { size: number } };
    env.value.size += 1;
    await writeFile(f, JSON.stringify(env));
  }
  await rm(join(dir, ".tug"), { recursive: true, force: true });
  const second = await okBuild(dir, cache);
  assert.deepEqual(second, first);
  for (const [f, text] of written) {
    assert.equal(await readFile(f, "utf8"), text, `${f} is not the record tug wrote before it was damaged`);
  }
  await assertSound(cache, dir);
});

test("pushes through a network that resets, errors and stalls: all or nothing", async (t) => {
  const registry = await startRegistry(t);
  const seed = 20261122;
  const proxy = await startChaosProxy(t, { upstream: `${registry.host}:${registry.port}`, seed, rate: 0.25 });
  const dir = await project(t, { files: { "data.bin": noise(1536 << 10, "chaos"), "i.txt": "i\n" } });
  const cache = join(await tempDir(t), "cache");
  const scratch = await tempDir(t, "tug-chaos-copy-");
  let jitter = seed;
  const client = new RegistryClient({
    // Short limits so a stall costs a second, not minutes; enough retries to ride out bad luck.
    timeouts: { headersMs: 1000, bodyIdleMs: 1000, uploadIdleMs: 1000, connectMs: 1000 },
    retry: {
      retries: 6,
      baseMs: 20,
      maxMs: 200,
      random: () => {
        jitter = (jitter * 1103515245 + 12345) % 2 ** 31;
        return jitter / 2 ** 31;
      },
    },
    // Small blobs go in one PUT, the 1.5 MB one through PATCH + PUT: both paths meet faults.
    monolithicMaxBytes: 512 << 10,
  });
  // A second client that gives up quickly, so that some pushes fail half-way.
  const fragile = new RegistryClient({
    timeouts: client.transport.timeouts,
    retry: { ...client.retryPolicy, retries: 1 },
    monolithicMaxBytes: 512 << 10,
  });
  t.after(() => client.close());
  t.after(() => fragile.close());
  const p = await loadProject(join(dir, "tug.yaml"));
  const outcomes: string[] = [];
  for (let i = 0; i < 10; i++) {
    const name = `chaos${i}`;
    const last = i >= 6;
    proxy.setRate(last ? 0.5 : 0.25);
    try {
      const res = await build(p, {
        repo: proxy.repo(name),
        cacheDir: cache,
        registry: registryAccess({ client: last ? fragile : client }),
      });
      const digest = res.artifacts[0]!.digest;
      // Read back through the real registry, with another client.
      const real = `docker://${registry.host}:${registry.port}/${name}/site:latest`;
      const raw = await skopeoInspectRaw(real);
      assert.ok((raw.layers?.length ?? 0) >= 2);
      await skopeoCopy(real, `oci:${join(scratch, name)}:site`);
      const index = JSON.parse(await readFile(join(scratch, name, "index.json"), "utf8")) as {
        manifests: Array<{ digest: string }>;
      };
      assert.equal(index.manifests[0]!.digest, digest);
      outcomes.push(`${name}: pushed ${digest}`);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.ok(e instanceof TugError, `push ${i} (seed ${seed}) failed without a TugError: ${String(e)}`);
      assert.doesNotMatch(e.format(), /\n\s+at /);
      outcomes.push(`${name}: failed: ${e.what}`);
    }
  }
  t.diagnostic(outcomes.join("\n"));
  const faults = proxy.log.filter((l) => l.fault !== "pass");
  t.diagnostic(
    `${proxy.log.length} requests, ${faults.length} faults: ${faults.map((f) => f.fault).join(" ")}`,
  );
  assert.ok(faults.length > 0, "the proxy injected no fault");
  assert.ok(
    outcomes.some((o) => o.includes("pushed")),
    `no push got through:\n${outcomes.join("\n")}`,
  );
  // Whatever happened, every tag the registry holds is complete.
  assert.deepEqual(await brokenTags(registry, scratch), []);
  await assertSound(cache);
});

test("CLI push through a registry that only answers 503: one clear error", async (t) => {
  const registry = await startRegistry(t);
  const proxy = await startChaosProxy(t, {
    upstream: `${registry.host}:${registry.port}`,
    seed: 1,
    rate: 1,
    faults: ["503"],
  });
  const dir = await project(t);
  const cache = join(await tempDir(t), "cache");
  const r = await runTug(["build", "--repo", proxy.repo("x")], {
    cwd: dir,
    env: { TUG_CACHE: cache, TUG_REPO: "" },
  });
  assert.notEqual(r.code, 0);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("error: "));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0]!, /503/, r.stderr);
  assert.match(r.stderr, /^ {2}hint: /m, r.stderr);
  assert.doesNotMatch(r.stderr, /^\s+at .+[:(]/m, r.stderr);
  assert.deepEqual(await registryTags(registry), []);
  await assertSound(cache);
});
