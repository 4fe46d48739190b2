// The project, CLI run and assertions the hostile-registry tests share: a files image on a base
// from a hostile registry, with its own cache and docker config under one temp root.
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { TestContext } from "node:test";
import { type CliResult, runTug } from "./cli.ts";
import { tempDir } from "./tmp.ts";

export const ESCAPE = "canary-escape";
export const TRAVERSAL = `sha256:../../../../../${ESCAPE}`;
export const PASSWORD = "hunter2-registry-secret-7f3a";

export interface Fixture {
  root: string;
  dir: string;
  cache: string;
  dockerConfig: string;
}

export async function fixture(t: TestContext, base: string): Promise<Fixture> {
  const root = await tempDir(t, "tug-hostile-reg-");
  const dir = join(root, "project");
  const cache = join(root, "cache");
  const dockerConfig = join(root, "docker");
  await mkdir(dir);
  await mkdir(dockerConfig);
  await writeFile(join(dockerConfig, "config.json"), "{}");
  await writeFile(join(dir, "hello.txt"), "hello\n");
  await writeFile(
    join(dir, "tug.yaml"),
    `images:\n  app:\n    builder: files\n    context: .\n    dest: /srv\n    base: "${base}"\n`,
  );
  return { root, dir, cache, dockerConfig };
}

/** Stores `user:PASSWORD` for `registry` in the fixture's docker config. */
export async function login(f: Fixture, registry: string): Promise<void> {
  const auth = Buffer.from(`tug-user:${PASSWORD}`).toString("base64");
  await writeFile(join(f.dockerConfig, "config.json"), JSON.stringify({ auths: { [registry]: { auth } } }));
}

export function tug(f: Fixture, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runTug(["build", ...args], {
    cwd: f.dir,
    env: {
      TUG_CACHE: f.cache,
      DOCKER_CONFIG: f.dockerConfig,
      XDG_CONFIG_HOME: f.dockerConfig,
      XDG_RUNTIME_DIR: f.dockerConfig,
      REGISTRY_AUTH_FILE: "",
      TUG_REPO: "",
      ...env,
    },
  });
}

export function assertOneError(t: TestContext, r: CliResult, what: RegExp): void {
  t.diagnostic(r.stderr.trimEnd());
  const ctx = `exit ${r.code}\nstderr:\n${r.stderr}`;
  assert.notEqual(r.code, 0, ctx);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("error: "));
  assert.equal(errors.length, 1, ctx);
  assert.match(r.stderr, what, ctx);
  assert.doesNotMatch(r.stderr, /^\s+at .+[:(]/m, `stack trace printed\n${ctx}`);
  assert.doesNotMatch(r.stderr, /internal error/, ctx);
}

export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(p);
    }
  };
  await walk(dir);
  return out;
}

/** No file named by a traversal digest, anywhere a blob path could have led, and none under root. */
export async function assertNothingEscaped(f: Fixture): Promise<void> {
  const blobDirs = [join(f.cache, "blobs", "sha256"), join(f.dir, ".tug", "out", "oci", "blobs", "sha256")];
  for (const d of blobDirs) {
    const target = resolve(d, TRAVERSAL.slice("sha256:".length));
    await assert.rejects(stat(target), { code: "ENOENT" }, `${target} was written`);
  }
  const named = (await filesUnder(f.root)).filter((p) => p.includes(ESCAPE));
  assert.deepEqual(named, []);
}

/** The password appears in no output and no file under the cache, the project or the docker config's siblings. */
export async function assertNoSecret(f: Fixture, r: CliResult): Promise<void> {
  assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD), "password printed");
  const b64 = Buffer.from(`tug-user:${PASSWORD}`).toString("base64");
  for (const file of [...(await filesUnder(f.cache)), ...(await filesUnder(f.dir))]) {
    const text = await readFile(file, "latin1");
    assert.ok(!text.includes(PASSWORD) && !text.includes(b64), `secret written to ${file}`);
  }
}
