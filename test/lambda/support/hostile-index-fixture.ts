// Shared by the hostile-index tests: one real wheel (goodpkg 1.0), a cache and a canary
// directory the attacks aim at, and small answers an index on 127.0.0.1 gives.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { TugError } from "../../../src/errors.ts";
import { simpleIndex } from "../../../src/python/index-client.ts";
import { parseRequirement } from "../../../src/python/requirement.ts";
import { parseRuntime } from "../../../src/python/runtime.ts";
import { setHttpTimeoutSeconds } from "../../../src/util/http-timeout.ts";
import { sendBytes, sendJson } from "../../support/hostile-index-server.ts";
import { tempDir } from "../../support/tmp.ts";
import { buildFixtureIndex } from "./fixture-index.ts";

export const py312 = parseRuntime("python3.12", { arch: "x86_64" });
export const WHEEL = "goodpkg-1.0-py3-none-any.whl";
export const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

export interface Setup {
  root: string;
  cacheDir: string;
  wheelDir: string;
  /** A directory the attacks aim at: it must stay empty. */
  canary: string;
  wheel: Buffer;
  wheelSha: string;
}

export async function setup(t: TestContext): Promise<Setup> {
  const root = await tempDir(t, "tug-hostile-index-");
  const built = await buildFixtureIndex(join(root, "built"), [
    { name: "goodpkg", version: "1.0", tag: "py3-none-any" },
  ]);
  const wheel = await readFile(built.wheels.get(WHEEL) ?? "");
  const cacheDir = join(root, "cache");
  return {
    root,
    cacheDir,
    wheelDir: join(cacheDir, "blobs", "sha256"),
    canary: join(root, "canary"),
    wheel,
    wheelSha: sha(wheel),
  };
}

export function clientFor(s: Setup, urls: string[], env: NodeJS.ProcessEnv = {}) {
  return simpleIndex({ urls, cacheDir: join(s.cacheDir, "python"), wheelDir: s.wheelDir, env });
}

export const goodpkg = () => [parseRequirement("goodpkg", "requirements.txt:1")];

export async function rejection(p: Promise<unknown>): Promise<TugError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TugError, `expected a TugError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected an error");
}

export async function assertAbsent(path: string): Promise<void> {
  await assert.rejects(stat(path), "nothing may be written outside the cache");
}

export function page(files: object[]) {
  return { meta: { "api-version": "1.1" }, name: "goodpkg", files };
}

export function withShortTimeout(t: TestContext, seconds: number): void {
  setHttpTimeoutSeconds(seconds);
  t.after(() => setHttpTimeoutSeconds(undefined));
}

/** Serves goodpkg honestly to requests carrying `authorization`, 401 to any other. */
export function authorizedIndex(s: Setup, authorization: string) {
  return (req: { headers: { authorization?: string } }, res: ServerResponse, path: string) => {
    if (req.headers.authorization !== authorization) return void res.writeHead(401).end();
    if (path === "/simple/goodpkg/") {
      return sendJson(
        res,
        page([{ filename: WHEEL, url: `/files/${WHEEL}`, hashes: { sha256: s.wheelSha } }]),
      );
    }
    if (path.startsWith("/simple/")) return void res.writeHead(404).end();
    sendBytes(res, s.wheel);
  };
}
