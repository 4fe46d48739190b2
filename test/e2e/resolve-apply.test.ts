// Issue 13 "Conventions" 3 and 4: `-f FILE|DIR|-` for resolve and apply, build's --platform,
// --tag, --image-label, --local/--push=false and --base, and `tug apply` driving a real kubectl
// (pointed at a closed loopback port: its flags parse and its error is "connection refused").
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { makeBusyboxBase } from "../support/bases.ts";
import { runTug } from "../support/cli.ts";
import { startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import { freePort, runTool, skopeoInspectConfig, skopeoInspectRaw } from "../support/tools.ts";

async function siteProject(t: TestContext): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = await tempDir(t, "tug-resolve-apply-");
  await mkdir(join(dir, "site"));
  await writeFile(join(dir, "site", "index.html"), "<p>site</p>\n");
  await writeFile(
    join(dir, "tug.yaml"),
    "images:\n  site:\n    builder: files\n    context: ./site\n    dest: /srv/www\n",
  );
  return {
    dir,
    env: { TUG_CACHE: await tempDir(t, "tug-resolve-cache-"), TUG_REPO: undefined, CI: undefined },
  };
}

const deployment = (comment: string) =>
  `# ${comment}\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: site\nspec:\n  template:\n    spec:\n      containers:\n        - name: site\n          image: tug://site\n`;

async function manifestDir(dir: string): Promise<string> {
  const k8s = join(dir, "k8s");
  await mkdir(k8s);
  await writeFile(join(k8s, "b.yml"), deployment("from b.yml"));
  await writeFile(
    join(k8s, "a.yaml"),
    "# from a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
  );
  await writeFile(join(k8s, "notes.txt"), "not a manifest: image: tug://nothing\n");
  return k8s;
}

test("tug resolve -f DIR -f -: a directory's *.yaml/*.yml in name order, then stdin, all resolved", async (t) => {
  const registry = await startRegistry(t);
  const p = await siteProject(t);
  await manifestDir(p.dir);
  const r = await runTug(["resolve", "-f", "k8s", "-f", "-", "--repo", registry.repo("demo"), "-q"], {
    cwd: p.dir,
    env: p.env,
    input: deployment("from stdin"),
  });
  assert.equal(r.code, 0, r.stderr);
  const docs = r.stdout.split(/^---\n/m);
  assert.deepEqual(
    docs.map((d) => d.split("\n")[0]),
    ["# from a.yaml", "# from b.yml", "# from stdin"],
  );
  assert.doesNotMatch(r.stdout, /tug:\/\//);
  const refs = [...r.stdout.matchAll(/image: (\S+)/g)].map((m) => m[1]!);
  assert.equal(refs.length, 2);
  assert.equal(refs[0], refs[1]);
  const m = await skopeoInspectRaw(`docker://${refs[0]}`);
  assert.equal(m.layers?.length, 1);
  // `-f -` twice is refused: stdin can be read once.
  const twice = await runTug(["resolve", "-f", "-", "-f", "-", "--repo", registry.repo("demo")], {
    cwd: p.dir,
    env: p.env,
    input: "",
  });
  assert.notEqual(twice.code, 0);
  assert.match(twice.stderr, /stdin\) is given twice/);
});

test("tug build --platform, -t/--tag, --image-label; --local and --push=false keep a repo's images local", async (t) => {
  const registry = await startRegistry(t);
  const p = await siteProject(t);
  const repo = registry.repo("flags");
  const r = await runTug(
    [
      "build",
      "--repo",
      repo,
      "--platform",
      "linux/amd64,linux/arm64",
      "-t",
      "v1",
      "--tag",
      "v2",
      "--image-label",
      "org.example.team=web",
      "-q",
    ],
    { cwd: p.dir, env: p.env },
  );
  assert.equal(r.code, 0, r.stderr);
  const tags = JSON.parse(
    (await runTool("skopeo", ["list-tags", "--tls-verify=false", `docker://${repo}/site`])).stdout,
  ) as {
    Tags: string[];
  };
  // sha256-… tags are the SBOMs' referrers fallback (Debian's registry has no referrers API).
  assert.deepEqual(tags.Tags.filter((x) => !x.startsWith("sha256-")).sort(), ["latest", "v1", "v2"]);
  const index = await skopeoInspectRaw(`docker://${repo}/site:v1`);
  assert.deepEqual(index.manifests?.map((d) => `${d.platform?.os}/${d.platform?.architecture}`).sort(), [
    "linux/amd64",
    "linux/arm64",
  ]);
  const config = await skopeoInspectConfig(`docker://${repo}/site:v2`);
  assert.equal(config.config?.Labels?.["org.example.team"], "web");

  // A repo from the environment, yet local outputs only: nothing reaches the registry.
  const env = { ...p.env, TUG_REPO: registry.repo("local") };
  for (const flag of ["--local", "--push=false"]) {
    const l = await runTug(["build", flag, "-q", "--json"], { cwd: p.dir, env });
    assert.equal(l.code, 0, l.stderr);
    const [a] = (JSON.parse(l.stdout) as { artifacts: Array<{ ref: string }> }).artifacts;
    assert.match(a?.ref ?? "", /^oci:.*\.tug\/out\/oci:site$/);
  }
  const listed = await runTool(
    "skopeo",
    ["list-tags", "--tls-verify=false", `docker://${registry.repo("local")}/site`],
    {
      allowFailure: true,
    },
  );
  assert.notEqual(listed.code, 0, listed.stdout);
  const bad = await runTug(["build", "--platform", "linux/x86_64"], { cwd: p.dir, env: p.env });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /unknown architecture "x86_64".*\n {2}where: --platform/);
});

test("tug build ./DIR --base REF: a zero-config image on the named base", async (t) => {
  const root = await tempDir(t, "tug-zero-base-");
  await mkdir(join(root, "static"));
  await writeFile(join(root, "static", "index.html"), "<p>zero</p>\n");
  const base = await makeBusyboxBase(join(root, "busybox"));
  const env = { TUG_CACHE: await tempDir(t, "tug-zero-base-cache-"), TUG_REPO: undefined };
  const r = await runTug(["build", "./static", "--base", `oci-layout:${base.layout}`, "-q"], {
    cwd: root,
    env,
  });
  assert.equal(r.code, 0, r.stderr);
  const baseLayers = (await skopeoInspectRaw(base.ref)).layers ?? [];
  const built = await skopeoInspectRaw(`oci:${join(root, "static", ".tug", "out", "oci")}:static`);
  assert.equal(built.layers?.length, baseLayers.length + 1);
  assert.equal(built.layers?.[0]?.digest, baseLayers[0]?.digest);
  // With a tug.yaml, the base is tug.yaml's business.
  await writeFile(
    join(root, "tug.yaml"),
    "images:\n  s:\n    builder: files\n    context: ./static\n    dest: /app\n",
  );
  const named = await runTug(["build", "--base", "scratch"], { cwd: root, env });
  assert.notEqual(named.code, 0);
  assert.match(named.stderr, /--base is for zero-config builds/);
});

test("tug apply -f: resolves, then a real kubectl gets the YAML with --kubeconfig, --context, -n, --dry-run", async (t) => {
  const registry = await startRegistry(t);
  const p = await siteProject(t);
  await manifestDir(p.dir);
  // A kubeconfig whose API server is a loopback port nobody listens on.
  const closed = await freePort();
  const kubeconfig = join(p.dir, "kubeconfig");
  await writeFile(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: { server: "https://127.0.0.1:${closed}" }\nusers:\n- name: u\n  user: { token: test }\ncontexts:\n- name: here\n  context: { cluster: c, user: u }\ncurrent-context: here\n`,
  );
  for (const dryRun of ["client", "server"]) {
    const r = await runTug(
      [
        "apply",
        "-f",
        "k8s",
        "--repo",
        registry.repo("apply"),
        "--kubeconfig",
        kubeconfig,
        "--context",
        "here",
        "-n",
        "dev",
        `--dry-run=${dryRun}`,
        "-q",
      ],
      { cwd: p.dir, env: p.env },
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${closed}.*connection refused`));
    assert.doesNotMatch(r.stderr, /unknown (flag|option|shorthand)/);
    assert.match(r.stderr, /^error: kubectl apply failed \(exit 1\)$/m);
  }
  // The images were pushed before kubectl ran.
  const m = await skopeoInspectRaw(`docker://${registry.repo("apply")}/site:latest`);
  assert.equal(m.layers?.length, 1);
  const missing = await runTug(
    ["apply", "-f", "k8s", "--repo", registry.repo("apply"), "--kubectl", join(p.dir, "no-kubectl")],
    {
      cwd: p.dir,
      env: p.env,
    },
  );
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /cannot run .*no-kubectl: ENOENT/);
  const badDry = await runTug(["apply", "-f", "k8s", "--dry-run=maybe"], { cwd: p.dir, env: p.env });
  assert.notEqual(badDry.code, 0);
  assert.match(badDry.stderr, /'maybe' is invalid.*client, server/);
});
