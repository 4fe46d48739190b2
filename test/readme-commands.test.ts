// The README's ```sh runnable blocks, run as written: in a temp copy of examples/, with `tug` on
// PATH (this checkout's CLI from source), a real registry at $REGISTRY and a private cache. A
// README command that stops working fails here, so the README cannot rot.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { REPO_ROOT } from "./support/cli.ts";
import { startRegistry } from "./support/registry.ts";
import { tempDir } from "./support/tmp.ts";

const TSX = fileURLToPath(import.meta.resolve("tsx"));
const MAIN = join(REPO_ROOT, "src", "cli", "main.ts");

/** The bodies of the README's ```sh runnable fences, in order. */
export function runnableBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh runnable\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? "");
}

function bash(
  script: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-euo", "pipefail", "-c", script], {
      cwd,
      env: { ...process.env, FORCE_COLOR: undefined, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

test("README: every ```sh runnable block runs as written", async (t) => {
  const blocks = runnableBlocks(await readFile(join(REPO_ROOT, "README.md"), "utf8"));
  assert.ok(blocks.length >= 4, `${blocks.length} runnable blocks`);
  // README commands 1 and 2 install packages: never marked runnable.
  for (const b of blocks) assert.doesNotMatch(b, /ci-deps|npm ci|apt-get/);
  const root = await tempDir(t, "tug-readme-");
  await cp(join(REPO_ROOT, "examples"), join(root, "examples"), {
    recursive: true,
    filter: (src) => !src.includes(`${"/"}.tug`),
  });
  const bin = join(root, "bin");
  await mkdir(bin);
  await writeFile(
    join(bin, "tug"),
    `#!/bin/sh\nexec "${process.execPath}" --import "${TSX}" "${MAIN}" "$@"\n`,
  );
  await chmod(join(bin, "tug"), 0o755);
  const registry = await startRegistry(t);
  const env = {
    PATH: `${bin}:${process.env.PATH ?? ""}`,
    REGISTRY: `${registry.host}:${registry.port}`,
    TUG_CACHE: await tempDir(t, "tug-readme-cache-"),
    TUG_REPO: undefined,
    CI: undefined,
  };
  for (const [i, block] of blocks.entries()) {
    const r = await bash(block, root, env);
    assert.equal(r.code, 0, `README runnable block ${i + 1} failed:\n${block}\n--- output:\n${r.out}`);
  }
});
