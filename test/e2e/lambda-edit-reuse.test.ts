// An edit to a handler reuses the last zip's wheel part (src/lambda/third-party-memo.ts): the
// result must be byte for byte what a clean build of the edited project gives, and anything that
// can change the wheel part (a new import, a requirements edit) must not reuse it.
import assert from "node:assert/strict";
import { cp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import type { PyWheel } from "../lambda/support/python-wheels.ts";
import {
  buildWheelProject,
  cleanBuild,
  fileSha256,
  type WheelProject,
  wheelProject,
} from "../lambda/support/wheel-project.ts";
import { runTug } from "../support/cli.ts";

const WHEELS: PyWheel[] = [
  { name: "alpha", version: "1.0", files: { "alpha/__init__.py": "VALUE = 'alpha'\n" }, topLevel: ["alpha"] },
  { name: "beta", version: "2.0", files: { "beta/__init__.py": "VALUE = 'beta'\n" } },
];

const handler = (note: string, imports = "import alpha") =>
  `${imports}\n\n\ndef handler(event, context):\n    return {"note": ${JSON.stringify(note)}, "alpha": alpha.VALUE}\n`;

async function project(t: TestContext): Promise<WheelProject> {
  return wheelProject(t, "tug-edit-reuse-", {
    wheels: WHEELS,
    files: { "requirements.txt": "alpha\nbeta\n", "fn.py": handler("one") },
    lambdas: { fn: "{ runtime: python3.11, handler: fn.py:handler }" },
    python: "  requirements: requirements.txt\n",
  });
}

const sha = fileSha256;

/** The zip a clean cache and output dir give for the project as it is now. */
async function cleanBuildDigest(t: TestContext, p: WheelProject): Promise<string> {
  return sha(join(await cleanBuild(t, p), "fn.zip"));
}

test("a handler edit reuses the wheel part without the index or the wheels, and gives a clean build's bytes", async (t) => {
  const p = await project(t);
  const first = (await buildWheelProject(p)).get("fn");
  assert.deepEqual(
    first?.distributions.map((d) => d.name),
    ["alpha"],
  );
  await writeFile(join(p.dir, "fn.py"), handler("two"));
  const expected = await cleanBuildDigest(t, p);
  // Nothing third-party may be needed now: the index and every cached wheel and lock are gone.
  const index = join(p.dir, "..", "index");
  await cp(index, `${index}.kept`, { recursive: true });
  await rm(index, { recursive: true });
  const cache = p.env.TUG_CACHE as string;
  await rm(join(cache, "blobs"), { recursive: true, force: true });
  await rm(join(cache, "ac", "python-lock-local"), { recursive: true, force: true });
  await rm(join(cache, "ac", "wheel-table"), { recursive: true, force: true });
  const second = (await buildWheelProject(p)).get("fn");
  assert.equal(await sha(second?.path as string), expected);
  // The digest tug reports carries the sha256 of the reused part (kept, not read again).
  const meta = JSON.parse(await readFile(`${second?.path}.json`, "utf8")) as { digest: string };
  assert.equal(meta.digest, `sha256:${expected}`);
  assert.deepEqual(second?.distributions, first?.distributions);
  const out = await runTug(["invoke", "fn", "--event", "{}"], { cwd: p.dir, env: p.env });
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), { note: "two", alpha: "alpha" });
  await cp(`${index}.kept`, index, { recursive: true });
});

test("a new third-party import or a requirements edit builds the wheel part again", async (t) => {
  const p = await project(t);
  await buildWheelProject(p);
  // A new import: beta must come in, exactly as a clean build has it.
  await writeFile(join(p.dir, "fn.py"), handler("three", "import alpha\nimport beta"));
  const withBeta = (await buildWheelProject(p)).get("fn");
  assert.deepEqual(
    withBeta?.distributions.map((d) => d.name),
    ["alpha", "beta"],
  );
  assert.equal(await sha(withBeta?.path as string), await cleanBuildDigest(t, p));
  // A requirements edit that changes nothing the handler imports still re-plans (same bytes).
  await writeFile(join(p.dir, "requirements.txt"), "alpha==1.0\nbeta\n");
  const pinned = (await buildWheelProject(p)).get("fn");
  assert.equal(await sha(pinned?.path as string), await cleanBuildDigest(t, p));
  // Removing the distribution the handler imports must fail, not reuse the old wheel part.
  await writeFile(join(p.dir, "requirements.txt"), "beta\n");
  const r = await runTug(["build", "--json"], { cwd: p.dir, env: p.env });
  const built =
    r.code === 0 ? (JSON.parse(r.stdout) as { artifacts: Array<{ distributions: unknown[] }> }) : undefined;
  assert.ok(
    r.code !== 0 || !JSON.stringify(built?.artifacts[0]?.distributions).includes("alpha"),
    "alpha is no longer a requirement: the zip must not keep it",
  );
});

test("an edit after the zip was replaced by hand does not trust the note", async (t) => {
  const p = await project(t);
  const first = (await buildWheelProject(p)).get("fn");
  const zip = first?.path as string;
  // Same size, other bytes: the stamp check must refuse the old zip as a source of entries.
  const bytes = await readFile(zip);
  bytes[40] = (bytes[40] ?? 0) ^ 0xff;
  await writeFile(zip, bytes);
  await writeFile(join(p.dir, "fn.py"), handler("four"));
  const again = (await buildWheelProject(p)).get("fn");
  assert.equal(await sha(again?.path as string), await cleanBuildDigest(t, p));
});

test("kill -9 while an edit's zip is written: the next build gives a clean build's bytes, and no temp is left", async (t) => {
  const { randomBytes } = await import("node:crypto");
  const { readdir } = await import("node:fs/promises");
  // 32 MB that deflate cannot shrink: copying the kept wheel part takes long enough to be caught.
  const p = await wheelProject(t, "tug-edit-kill-", {
    wheels: [
      {
        name: "alpha",
        version: "1.0",
        files: { "alpha/__init__.py": "VALUE = 'alpha'\n", "alpha/blob.bin": randomBytes(32 << 20) },
        topLevel: ["alpha"],
      },
    ],
    files: { "requirements.txt": "alpha\n", "fn.py": handler("one") },
    lambdas: { fn: "{ runtime: python3.11, handler: fn.py:handler }" },
    python: "  requirements: requirements.txt\n",
  });
  const zip = (await buildWheelProject(p)).get("fn")?.path as string;
  await writeFile(join(p.dir, "fn.py"), handler("killed"));
  const out = join(p.dir, ".tug", "out", "lambdas");
  const killed = await runTug(["build"], {
    cwd: p.dir,
    env: p.env,
    onSpawn: (child) => {
      // Kill as soon as the copy of the kept part (a temp file beside the zip) exists.
      const poll = setInterval(async () => {
        const names = await readdir(out).catch(() => [] as string[]);
        if (names.some((n) => n.endsWith(".tmp")) && child.exitCode === null) child.kill("SIGKILL");
      }, 1);
      child.once("exit", () => clearInterval(poll));
    },
  });
  assert.equal(killed.signal, "SIGKILL", `the build finished before it could be killed:\n${killed.stderr}`);
  assert.ok(
    (await readdir(out)).some((n) => n.endsWith(".tmp")),
    "the killed build left its temp file",
  );
  const again = (await buildWheelProject(p)).get("fn");
  assert.equal(await sha(again?.path as string), await cleanBuildDigest(t, p));
  assert.equal(again?.path, zip);
  assert.deepEqual(
    (await readdir(out)).filter((n) => n.endsWith(".tmp")),
    [],
    "the dead build's temp files are gone",
  );
  // And the record written then is a good one: nothing changed, nothing is built.
  const noop = await runTug(["build", "--json"], { cwd: p.dir, env: p.env });
  assert.equal(JSON.parse(noop.stdout).artifacts[0].cached, true);
});
