// `tug build --provenance`: an in-toto Statement v1 with an SLSA v1 provenance predicate per
// image, attached like the SBOM (referrers tag in Debian's docker-registry, read by skopeo). The
// git commit is the one `git rev-parse HEAD` names, the lockfile digest the one sha256sum prints;
// with SOURCE_DATE_EPOCH the bytes are the same from a fresh cache and carry no times; without
// it they carry the build's times, and a no-op build attaches the statement it made before.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { runTugJson } from "../support/cli.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool, skopeoInspectRaw } from "../support/tools.ts";

const IN_TOTO = "application/vnd.in-toto+json";

interface Report {
  artifacts: Array<{ digest: string; pushedBytes: number }>;
}

interface Statement {
  _type: string;
  subject: Array<{ name: string; digest: { sha256: string } }>;
  predicateType: string;
  predicate: {
    buildDefinition: {
      buildType: string;
      externalParameters: { target: string; platform: string; config: Record<string, unknown> };
      resolvedDependencies: Array<{ name?: string; uri?: string; digest: Record<string, string> }>;
    };
    runDetails: { builder: { id: string }; metadata?: { startedOn: string; finishedOn: string } };
  };
}

async function gitProject(t: TestContext): Promise<string> {
  const dir = await tempDir(t, "tug-provenance-");
  await mkdir(join(dir, "public"));
  await writeFile(join(dir, "public", "index.html"), "<h1>provenance</h1>\n");
  await writeFile(join(dir, "package-lock.json"), '{"lockfileVersion":3,"packages":{}}\n');
  await writeFile(
    join(dir, "tug.yaml"),
    "images:\n  site: { builder: files, context: ./public, dest: /srv/www }\n",
  );
  const git = (...args: string[]) =>
    runTool("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd: dir });
  await git("init", "-q");
  await git("add", ".");
  await git("commit", "-q", "-m", "init");
  return dir;
}

async function referrers(registry: RunningRegistry, digest: string) {
  const hex = digest.slice("sha256:".length);
  const index = (await skopeoInspectRaw(
    `docker://${registry.repo("demo/site")}:sha256-${hex}`,
  )) as unknown as {
    manifests: Array<{ digest: string; artifactType: string }>;
  };
  return index.manifests;
}

/** The statement an artifact manifest holds, after checking its subject and media type. */
async function statementAt(
  registry: RunningRegistry,
  subject: string,
  manifestDigest: string,
): Promise<Buffer> {
  const manifest = (await skopeoInspectRaw(
    `docker://${registry.repo("demo/site")}@${manifestDigest}`,
  )) as unknown as {
    subject: { digest: string };
    layers: Array<{ mediaType: string; digest: string }>;
  };
  assert.equal(manifest.subject.digest, subject);
  assert.equal(manifest.layers[0]?.mediaType, IN_TOTO);
  const res = await fetch(`${registry.url}/v2/demo/site/blobs/${manifest.layers[0]?.digest}`);
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

test("an image's SLSA provenance names its commit, lockfile and platform; reproducible bytes with SOURCE_DATE_EPOCH", async (t) => {
  const registry = await startRegistry(t);
  const dir = await gitProject(t);
  const head = (await runTool("git", ["rev-parse", "HEAD"], { cwd: dir })).stdout.trim();
  const lockSha = (await runTool("sha256sum", [join(dir, "package-lock.json")])).stdout.split(" ")[0];
  const repo = registry.repo("demo");
  const build = async (cache: string, env: NodeJS.ProcessEnv) =>
    runTugJson<Report>(["build", "--repo", repo, "--provenance"], {
      cwd: dir,
      env: { TUG_CACHE: cache, ...env },
    });

  const pinned = { SOURCE_DATE_EPOCH: "1700000000" };
  const first = await build(await tempDir(t, "tug-prov-cache-"), pinned);
  const digest = first.artifacts[0]?.digest as string;
  const listed = await referrers(registry, digest);
  assert.deepEqual(listed.map((m) => m.artifactType).sort(), ["application/spdx+json", IN_TOTO]);
  const statementDigest = listed.find((m) => m.artifactType === IN_TOTO)?.digest as string;
  const bytes = await statementAt(registry, digest, statementDigest);
  const st = JSON.parse(bytes.toString()) as Statement;
  assert.equal(st._type, "https://in-toto.io/Statement/v1");
  assert.equal(st.predicateType, "https://slsa.dev/provenance/v1");
  assert.deepEqual(
    st.subject.map((s) => s.digest.sha256),
    [digest.slice("sha256:".length)],
  );
  const def = st.predicate.buildDefinition;
  assert.match(def.buildType, /^https:\/\/tug\.dev\/buildtypes\/image\/v1$/);
  assert.equal(def.externalParameters.target, "site");
  assert.match(def.externalParameters.platform, /^linux\//);
  assert.equal(def.externalParameters.config.context, "public");
  assert.equal(def.externalParameters.config.dest, "/srv/www");
  assert.deepEqual(def.resolvedDependencies.find((d) => d.digest.gitCommit)?.digest, { gitCommit: head });
  assert.deepEqual(def.resolvedDependencies.find((d) => d.name === "package-lock.json")?.digest, {
    sha256: lockSha,
  });
  assert.match(st.predicate.runDetails.builder.id, /^https:\/\/tug\.dev\/builder\/tug@/);
  assert.equal(st.predicate.runDetails.metadata, undefined, "no times in reproducible mode");

  // The same inputs from a fresh cache: the same statement bytes, so nothing new is attached.
  const second = await build(await tempDir(t, "tug-prov-cache-"), pinned);
  assert.equal(second.artifacts[0]?.pushedBytes, 0);
  assert.deepEqual(await referrers(registry, digest), listed);

  // Without SOURCE_DATE_EPOCH (another image: mtimes and `created` are the epoch): a statement
  // with this build's times, which a no-op build attaches again instead of a new one.
  const cache = await tempDir(t, "tug-prov-cache-");
  const before = Date.now();
  const unpinned = await build(cache, { SOURCE_DATE_EPOCH: "" });
  const digest2 = unpinned.artifacts[0]?.digest as string;
  assert.notEqual(digest2, digest);
  const withTimed = await referrers(registry, digest2);
  const timedEntry = withTimed.find((m) => m.artifactType === IN_TOTO);
  assert.ok(timedEntry);
  const timed = JSON.parse((await statementAt(registry, digest2, timedEntry.digest)).toString()) as Statement;
  const started = Date.parse(timed.predicate.runDetails.metadata?.startedOn ?? "");
  const finished = Date.parse(timed.predicate.runDetails.metadata?.finishedOn ?? "");
  assert.ok(
    started >= Math.floor(before / 1000) * 1000 - 1000 && finished >= started && finished <= Date.now(),
    JSON.stringify(timed.predicate.runDetails),
  );
  const noop = await build(cache, { SOURCE_DATE_EPOCH: "" });
  assert.equal(noop.artifacts[0]?.pushedBytes, 0);
  assert.deepEqual(await referrers(registry, digest2), withTimed);
});
