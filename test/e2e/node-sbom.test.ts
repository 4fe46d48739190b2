// A Node image's SBOM lists the npm packages it ships: those esbuild inlined into the bundle and
// those installed in its node_modules layer, at the versions the project's package-lock.json
// (written by the real npm from the npm registry) locks, with that lockfile's integrity as a
// SHA-512 checksum for installed packages and each package.json's license. The app's own
// package is not listed.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { build, loadProject } from "../../src/index.ts";
import { makeNodeBase } from "../support/bases.ts";
import { layoutReferrers } from "../support/layout-referrers.ts";
import { startNginxDav } from "../support/nginx-dav.ts";
import { copyInstalled, npmInstalled } from "../support/npm-project.ts";
import { tempDir } from "../support/tmp.ts";

interface SpdxPackage {
  name: string;
  versionInfo?: string;
  licenseDeclared: string;
  checksums?: Array<{ algorithm: string; checksumValue: string }>;
  externalRefs?: Array<{ referenceLocator: string }>;
}

interface LockEntry {
  version?: string;
  integrity?: string;
  dev?: boolean;
}

const SERVER = `const express = require("express");
const app = express();
app.get("/", (_q, r) => r.send("hi"));
app.listen(Number(process.env.PORT));
`;

async function nodeImageSbom(
  t: TestContext,
  fields: string,
  opts: { remoteCache?: { url: string; mode: "readwrite" }; cacheDir?: string } = {},
) {
  const base = await makeNodeBase();
  const dir = await tempDir(t, "tug-node-sbom-");
  await copyInstalled(await npmInstalled({ express: "4.21.2" }), dir);
  await writeFile(join(dir, "server.js"), SERVER);
  await writeFile(
    join(dir, "tug.yaml"),
    `images:\n  web:\n    builder: node\n    context: .\n    entry: server.js\n    base: oci-layout:${base.layout}:latest\n${fields}`,
  );
  const out = join(dir, "out");
  const buildOpts = {
    out,
    cacheDir: opts.cacheDir ?? (await tempDir(t, "tug-node-sbom-cache-")),
    ...(opts.remoteCache ? { remoteCache: opts.remoteCache } : {}),
  };
  const [web] = (await build(await loadProject(join(dir, "tug.yaml")), buildOpts)).artifacts;
  const sboms = (await layoutReferrers(join(out, "oci"), web?.digest as string)).filter(
    (r) => r.artifactType === "application/spdx+json",
  );
  assert.equal(sboms.length, 1, "one SPDX referrer");
  const doc = JSON.parse(sboms[0]!.document.toString()) as { packages: SpdxPackage[] };
  const npm = doc.packages.filter((p) =>
    p.externalRefs?.some((r) => r.referenceLocator.startsWith("pkg:npm/")),
  );
  const lock = JSON.parse(await readFile(join(dir, "package-lock.json"), "utf8")) as {
    packages: Record<string, LockEntry>;
  };
  return { npm, lock: lock.packages, digest: web?.digest };
}

const nameOf = (path: string) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
const sha512Hex = (integrity: string | undefined) =>
  Buffer.from((integrity ?? "").replace(/^sha512-/, ""), "base64").toString("hex");
const row = (npm: SpdxPackage[], name: string, version: string) =>
  npm.find((p) => p.name === name && p.versionInfo === version);

test("a bundled Node image: packages esbuild inlined and the external ones installed, at the lockfile's versions", async (t) => {
  const { npm, lock } = await nodeImageSbom(t, "    external: [debug]\n");
  const locked = Object.entries(lock).filter(([path]) => path.startsWith("node_modules/"));
  // Every row is a package the lockfile locks at exactly that version; the app is not one.
  for (const p of npm)
    assert.ok(
      locked.some(([path, e]) => nameOf(path) === p.name && e.version === p.versionInfo),
      `${p.name}@${p.versionInfo} is locked`,
    );
  assert.ok(!npm.some((p) => p.name === "app"), "the app's own package is not listed");
  // Bundled: express and every dependency it declares (each requires() them all), at the version
  // npm resolved for express (nested first, as Node's resolution finds it).
  const express = row(npm, "express", "4.21.2");
  assert.ok(express, "express is listed");
  assert.equal(express.licenseDeclared, "MIT");
  const expressPkg = JSON.parse(
    await readFile(
      join(await npmInstalled({ express: "4.21.2" }), "node_modules/express/package.json"),
      "utf8",
    ),
  ) as { dependencies: Record<string, string> };
  for (const dep of Object.keys(expressPkg.dependencies)) {
    const version = (lock[`node_modules/express/node_modules/${dep}`] ?? lock[`node_modules/${dep}`])
      ?.version;
    assert.ok(version && row(npm, dep, version), `${dep}@${version} is listed`);
  }
  // Installed in the deps layer (external: debug and what it needs): with the lockfile integrity.
  for (const name of ["debug", "ms"]) {
    const e = lock[`node_modules/${name}`] as LockEntry;
    const p = row(npm, name, e.version as string);
    assert.deepEqual(p?.checksums, [{ algorithm: "SHA512", checksumValue: sha512Hex(e.integrity) }], name);
  }
});

test("bundle: false: exactly the lockfile's production packages, with integrity and licenses", async (t) => {
  const { npm, lock } = await nodeImageSbom(t, "    bundle: false\n");
  const production = Object.entries(lock).filter(([path, e]) => path.startsWith("node_modules/") && !e.dev);
  const expected = [...new Set(production.map(([path, e]) => `${nameOf(path)}@${e.version}`))].sort();
  assert.deepEqual([...new Set(npm.map((p) => `${p.name}@${p.versionInfo}`))].sort(), expected);
  for (const [path, e] of production) {
    const p = row(npm, nameOf(path), e.version as string);
    assert.ok(
      p?.checksums?.some((c) => c.algorithm === "SHA512" && c.checksumValue === sha512Hex(e.integrity)),
      `${path}: the lockfile's integrity`,
    );
  }
  // Each license is what the installed package.json declares.
  for (const p of npm) {
    const installed = production.find(([path, e]) => nameOf(path) === p.name && e.version === p.versionInfo);
    const pkg = JSON.parse(
      await readFile(join(await npmInstalled({ express: "4.21.2" }), installed![0], "package.json"), "utf8"),
    ) as { license?: string };
    assert.equal(p.licenseDeclared, pkg.license ?? "NOASSERTION", p.name);
  }
});

test("a bundle layer that came from the shared cache still lists the packages it inlined", async (t) => {
  const dav = await startNginxDav(t);
  const remoteCache = { url: dav.url, mode: "readwrite" as const };
  const first = await nodeImageSbom(t, "", { remoteCache });
  assert.ok(row(first.npm, "express", "4.21.2"), "express is listed by the machine that bundled");
  // Another machine: an empty local cache, the same shared cache; the bundle layer is not made again.
  const second = await nodeImageSbom(t, "", { remoteCache });
  assert.equal(second.digest, first.digest);
  const names = (npm: SpdxPackage[]) => npm.map((p) => `${p.name}@${p.versionInfo}`).sort();
  assert.deepEqual(names(second.npm), names(first.npm));
});
