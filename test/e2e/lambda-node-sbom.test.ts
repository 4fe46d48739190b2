// A Node.js lambda zip gets the SBOM and provenance Python zips get: the npm packages esbuild
// inlined (here from a real npm install, lockfile and all), with their package.json licenses and
// the lockfile's versions; the app's own package is not one of them.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileSha256 } from "../lambda/support/wheel-project.ts";
import { runTug } from "../support/cli.ts";
import { copyInstalled, npmInstalled } from "../support/npm-project.ts";
import { tempDir } from "../support/tmp.ts";

const HANDLER = `const express = require("express");
exports.handler = async () => typeof express.Router;
`;

test("a Node lambda zip's SBOM lists the bundled npm packages at the lockfile's versions; --provenance names them", async (t) => {
  const dir = await tempDir(t, "tug-lambda-node-sbom-");
  await copyInstalled(await npmInstalled({ express: "4.21.2" }), dir);
  await writeFile(join(dir, "api.js"), HANDLER);
  await writeFile(
    join(dir, "tug.yaml"),
    "lambdas:\n  api: { runtime: nodejs20.x, handler: api.js:handler }\n",
  );
  const env = { TUG_CACHE: await tempDir(t, "tug-lambda-node-sbom-cache-"), SOURCE_DATE_EPOCH: "1700000000" };
  const r = await runTug(["build", "--provenance"], { cwd: dir, env });
  assert.equal(r.code, 0, r.stderr);
  const out = join(dir, ".tug", "out", "lambdas");
  const meta = JSON.parse(await readFile(join(out, "api.zip.json"), "utf8"));
  assert.equal(meta.sbom, "api.zip.spdx.json");
  assert.equal(meta.provenance, "api.zip.intoto.json");
  const doc = JSON.parse(await readFile(join(out, "api.zip.spdx.json"), "utf8")) as {
    packages: Array<{ name: string; versionInfo?: string; licenseDeclared: string; checksums?: unknown[] }>;
  };
  const zipSha = await fileSha256(join(out, "api.zip"));
  assert.deepEqual(doc.packages[0]?.checksums, [{ algorithm: "SHA256", checksumValue: zipSha }]);
  const npm = doc.packages.slice(1);
  const lock = JSON.parse(await readFile(join(dir, "package-lock.json"), "utf8")) as {
    packages: Record<string, { version?: string }>;
  };
  const locked = Object.entries(lock.packages).map(([path, e]) => [
    path.replace(/^.*node_modules\//, ""),
    e.version,
  ]);
  assert.ok(npm.length > 20, `express and its dependencies: ${npm.map((p) => p.name).join(" ")}`);
  for (const p of npm)
    assert.ok(
      locked.some(([name, version]) => name === p.name && version === p.versionInfo),
      `${p.name}@${p.versionInfo} is what the lockfile locks`,
    );
  assert.equal(npm.find((p) => p.name === "express")?.versionInfo, "4.21.2");
  assert.equal(npm.find((p) => p.name === "express")?.licenseDeclared, "MIT");
  assert.ok(!npm.some((p) => p.name === "app"));

  const statement = JSON.parse(await readFile(join(out, "api.zip.intoto.json"), "utf8"));
  assert.deepEqual(statement.subject, [{ name: "api.zip", digest: { sha256: zipSha } }]);
  const deps = statement.predicate.buildDefinition.resolvedDependencies as Array<{
    name: string;
    uri?: string;
  }>;
  assert.ok(deps.some((d) => d.name === "package-lock.json"));
  assert.ok(deps.some((d) => d.uri === "pkg:npm/express@4.21.2"));

  // A no-op build rewrites nothing; the provenance file is part of what it checks is current.
  const before = await readFile(join(out, "api.zip.intoto.json"));
  const again = await runTug(["build", "--provenance", "--json"], { cwd: dir, env });
  assert.equal(again.code, 0, again.stderr);
  const artifacts = JSON.parse(again.stdout).artifacts as Array<{ target: string; cached: boolean }>;
  assert.equal(artifacts.find((a) => a.target === "api")?.cached, true);
  assert.ok(before.equals(await readFile(join(out, "api.zip.intoto.json"))));
});
