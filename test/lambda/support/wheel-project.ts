// A Python lambda project over a file:// index of wheels written by python3's zipfile, built
// with the CLI: the shape the end-to-end fidelity tests share.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { TestContext } from "node:test";
import { runTug, runTugJson } from "../../support/cli.ts";
import { tempDir } from "../../support/tmp.ts";
import { type PyWheel, pythonWheelIndex } from "./python-wheels.ts";

export interface BuiltLambda {
  target: string;
  path: string;
  distributions: Array<{ name: string; version: string; wheel: string }>;
}

export interface WheelProject {
  dir: string;
  env: NodeJS.ProcessEnv;
}

export interface WheelProjectSpec {
  wheels: PyWheel[];
  files: Record<string, string>;
  /** name → the lambda's YAML flow mapping, e.g. `{ runtime: python3.11, handler: fn.py:handler }`. */
  lambdas: Record<string, string>;
  /** Extra lines of the `python:` section, each indented by two spaces and ending in "\n". */
  python?: string;
}

export async function wheelProject(
  t: TestContext,
  prefix: string,
  spec: WheelProjectSpec,
): Promise<WheelProject> {
  const root = await tempDir(t, prefix);
  const url = await pythonWheelIndex(join(root, "index"), spec.wheels);
  const dir = join(root, "project");
  const lambdas = Object.entries(spec.lambdas).map(([name, flow]) => `  ${name}: ${flow}\n`);
  const yaml = `python:\n  index_url: ${url}\n  extra_index_urls: []\n${spec.python ?? ""}lambdas:\n${lambdas.join("")}`;
  for (const [path, text] of Object.entries({ "tug.yaml": yaml, ...spec.files })) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  // A per-test cache; PIP_CONFIG_FILE and an empty TUG_INDEX_URL keep the machine's mirror out.
  return { dir, env: { TUG_CACHE: join(root, "cache"), PIP_CONFIG_FILE: "/dev/null", TUG_INDEX_URL: "" } };
}

/** `tug build --json` in the project: its artifacts by target name. */
export async function buildWheelProject(p: WheelProject): Promise<Map<string, BuiltLambda>> {
  const out = await runTugJson<{ artifacts: BuiltLambda[] }>(["build"], { cwd: p.dir, env: p.env });
  return new Map(out.artifacts.map((a) => [a.target, a]));
}

/** `tug build` into a fresh cache and output directory (nothing of the project's own reused): the lambdas directory. */
export async function cleanBuild(
  t: TestContext,
  p: WheelProject,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<string> {
  const other = await tempDir(t, "tug-clean-build-");
  const r = await runTug(["build", "--out", join(other, "out"), ...args], {
    cwd: p.dir,
    env: { ...p.env, TUG_CACHE: join(other, "cache"), ...env },
  });
  assert.equal(r.code, 0, r.stderr);
  return join(other, "out", "lambdas");
}

/** Hex sha256 of a file's bytes. */
export async function fileSha256(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

/** `tug invoke NAME --event {}` in the project: the handler's JSON result (a failure fails the test). */
export async function invokeWheelProject(p: WheelProject, name: string): Promise<unknown> {
  const r = await runTug(["invoke", name, "--event", "{}"], { cwd: p.dir, env: p.env });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}
