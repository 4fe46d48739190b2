// Every Python zip gets an SBOM beside it (src/sbom/*): the zip as the root, one package per wheel
// with the wheel file's sha256, in SPDX 2.3 JSON (default) or CycloneDX 1.5 JSON, and the same
// bytes from the same inputs, whether the wheel part was laid out again or reused after an edit.
import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import type { PyWheel } from "../lambda/support/python-wheels.ts";
import { cleanBuild, fileSha256, type WheelProject, wheelProject } from "../lambda/support/wheel-project.ts";
import { runTug } from "../support/cli.ts";

const WHEELS: PyWheel[] = [
  {
    name: "alpha",
    version: "1.0",
    files: { "alpha/__init__.py": "VALUE = 'alpha'\n" },
    metadata: ["License-Expression: MIT OR Apache-2.0", "Classifier: License :: OSI Approved :: MIT License"],
  },
  {
    name: "beta_pkg",
    version: "2.0.1",
    files: { "beta_pkg/__init__.py": "VALUE = 'beta'\n" },
    metadata: [
      "License: Copyright 2020 Beta, all rights reserved",
      "Classifier: License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)",
    ],
  },
  { name: "unused", version: "3.0", files: { "unused/__init__.py": "" } },
];

const handler = (note: string) =>
  `import alpha\nimport beta_pkg\n\n\ndef handler(event, context):\n    return ${JSON.stringify(note)}\n`;

async function project(t: TestContext): Promise<WheelProject> {
  return wheelProject(t, "tug-sbom-", {
    wheels: WHEELS,
    files: { "requirements.txt": "alpha\nbeta_pkg\nunused\n", "fn.py": handler("one") },
    lambdas: { fn: "{ runtime: python3.11, handler: fn.py:handler }" },
    python: "  requirements: requirements.txt\n",
  });
}

const sha = fileSha256;

interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo?: string;
  packageFileName?: string;
  downloadLocation: string;
  filesAnalyzed: boolean;
  checksums?: Array<{ algorithm: string; checksumValue: string }>;
  licenseDeclared?: string;
  externalRefs?: Array<{ referenceCategory: string; referenceType: string; referenceLocator: string }>;
}

/** The SPDX 2.3 clauses every document and package must satisfy (spec chapters 6, 7 and 11). */
function assertSpdx23(doc: Record<string, unknown>): void {
  assert.equal(doc.spdxVersion, "SPDX-2.3");
  assert.equal(doc.dataLicense, "CC0-1.0");
  assert.equal(doc.SPDXID, "SPDXRef-DOCUMENT");
  assert.equal(typeof doc.name, "string");
  const ns = doc.documentNamespace as string;
  assert.ok(URL.canParse(ns) && !ns.includes("#"), `documentNamespace ${ns} is a URI without #`);
  const info = doc.creationInfo as { created: string; creators: string[] };
  assert.match(info.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(
    info.creators.length > 0 && info.creators.every((c) => /^(Tool|Organization|Person): \S/.test(c)),
  );
  const packages = doc.packages as SpdxPackage[];
  const ids = new Set<string>(["SPDXRef-DOCUMENT"]);
  for (const p of packages) {
    assert.match(p.SPDXID, /^SPDXRef-[A-Za-z0-9.-]+$/);
    assert.ok(!ids.has(p.SPDXID), `${p.SPDXID} is unique`);
    ids.add(p.SPDXID);
    assert.equal(typeof p.name, "string");
    assert.equal(typeof p.downloadLocation, "string");
    for (const c of p.checksums ?? []) {
      assert.equal(c.algorithm, "SHA256");
      assert.match(c.checksumValue, /^[0-9a-f]{64}$/);
    }
  }
  const rels = doc.relationships as Array<Record<string, string>>;
  for (const r of rels) {
    assert.ok(
      ids.has(r.spdxElementId as string) && ids.has(r.relatedSpdxElement as string),
      JSON.stringify(r),
    );
  }
  assert.ok(rels.some((r) => r.spdxElementId === "SPDXRef-DOCUMENT" && r.relationshipType === "DESCRIBES"));
}

test("a lambda zip's SPDX SBOM lists each wheel with the file's sha256, the zip as its root", async (t) => {
  const p = await project(t);
  const out = await cleanBuild(t, p);
  const zip = join(out, "fn.zip");
  const doc = JSON.parse(await readFile(`${zip}.spdx.json`, "utf8"));
  assertSpdx23(doc);
  const meta = JSON.parse(await readFile(`${zip}.json`, "utf8"));
  assert.equal(meta.sbom, "fn.zip.spdx.json");
  const zipSha = await sha(zip);
  assert.equal(meta.digest, `sha256:${zipSha}`);
  assert.equal(doc.name, "fn.zip");
  assert.equal(doc.creationInfo.created, "1970-01-01T00:00:00Z");
  assert.ok(doc.documentNamespace.endsWith(zipSha));
  const described = doc.relationships.find(
    (r: { relationshipType: string }) => r.relationshipType === "DESCRIBES",
  );
  const root = doc.packages.find(
    (q: SpdxPackage) => q.SPDXID === described.relatedSpdxElement,
  ) as SpdxPackage;
  assert.deepEqual(root.checksums, [{ algorithm: "SHA256", checksumValue: zipSha }]);
  const wheels = (doc.packages as SpdxPackage[]).filter((q) => q !== root);
  // Only what the handler imports is in the zip, so only that is in the SBOM.
  assert.deepEqual(
    wheels.map((w) => [w.name, w.versionInfo, w.packageFileName]),
    [
      ["alpha", "1.0", "alpha-1.0-py3-none-any.whl"],
      ["beta-pkg", "2.0.1", "beta_pkg-2.0.1-py3-none-any.whl"],
    ],
  );
  // Licenses from each wheel's METADATA: License-Expression first, else the classifier's SPDX id.
  assert.deepEqual(
    wheels.map((w) => w.licenseDeclared),
    ["MIT OR Apache-2.0", "GPL-3.0-or-later"],
  );
  const index = join(p.dir, "..", "index", "files");
  for (const w of wheels) {
    const fileSha = await sha(join(index, w.packageFileName as string));
    assert.deepEqual(w.checksums, [{ algorithm: "SHA256", checksumValue: fileSha }], w.name);
    assert.equal(w.externalRefs?.[0]?.referenceLocator, `pkg:pypi/${w.name}@${w.versionInfo}`);
    assert.ok(
      doc.relationships.some(
        (r: Record<string, string>) =>
          r.spdxElementId === root.SPDXID &&
          r.relationshipType === "CONTAINS" &&
          r.relatedSpdxElement === w.SPDXID,
      ),
    );
  }
});

test("two clean builds give the same SBOM bytes; created follows SOURCE_DATE_EPOCH", async (t) => {
  const p = await project(t);
  const [a, b] = [await cleanBuild(t, p), await cleanBuild(t, p)];
  const sbom = await readFile(join(a, "fn.zip.spdx.json"));
  assert.ok(sbom.equals(await readFile(join(b, "fn.zip.spdx.json"))));
  const dated = await cleanBuild(t, p, [], { SOURCE_DATE_EPOCH: "1700000000" });
  const doc = JSON.parse(await readFile(join(dated, "fn.zip.spdx.json"), "utf8"));
  assert.equal(doc.creationInfo.created, "2023-11-14T22:13:20Z");
});

test("an edit that reuses the wheel part writes a clean build's SBOM; a no-op writes nothing", async (t) => {
  const p = await project(t);
  const out = join(p.dir, ".tug", "out", "lambdas");
  const build = async () => {
    const r = await runTug(["build"], { cwd: p.dir, env: p.env });
    assert.equal(r.code, 0, r.stderr);
  };
  await build();
  await writeFile(join(p.dir, "fn.py"), handler("two"));
  await build();
  const expected = await cleanBuild(t, p);
  assert.equal(await sha(join(out, "fn.zip")), await sha(join(expected, "fn.zip")));
  assert.equal(await sha(join(out, "fn.zip.spdx.json")), await sha(join(expected, "fn.zip.spdx.json")));
  const before = await stat(join(out, "fn.zip.spdx.json"), { bigint: true });
  await build();
  const after = await stat(join(out, "fn.zip.spdx.json"), { bigint: true });
  assert.equal(after.ino, before.ino);
  assert.equal(after.mtimeNs, before.mtimeNs);
});

test("--sbom cyclonedx writes CycloneDX 1.5 with the same content; none writes no SBOM", async (t) => {
  const p = await project(t);
  const out = join(p.dir, ".tug", "out", "lambdas");
  const build = async (...args: string[]) => {
    const r = await runTug(["build", ...args], { cwd: p.dir, env: p.env });
    assert.equal(r.code, 0, r.stderr);
  };
  await build();
  const spdx = JSON.parse(await readFile(join(out, "fn.zip.spdx.json"), "utf8"));
  await build("--sbom", "cyclonedx");
  // The SPDX file described the zip as it was built then: it does not stay beside this one.
  await assert.rejects(stat(join(out, "fn.zip.spdx.json")), { code: "ENOENT" });
  const cdx = JSON.parse(await readFile(join(out, "fn.zip.cdx.json"), "utf8"));
  assert.equal(JSON.parse(await readFile(join(out, "fn.zip.json"), "utf8")).sbom, "fn.zip.cdx.json");
  assert.equal(cdx.bomFormat, "CycloneDX");
  assert.equal(cdx.specVersion, "1.5");
  assert.match(
    cdx.serialNumber,
    /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.equal(cdx.version, 1);
  assert.deepEqual(cdx.metadata.component.hashes, [
    { alg: "SHA-256", content: await sha(join(out, "fn.zip")) },
  ]);
  const fromSpdx = spdx.packages
    .filter((q: SpdxPackage) => q.packageFileName)
    .map((q: SpdxPackage) => [q.name, q.versionInfo, q.checksums?.[0]?.checksumValue]);
  const fromCdx = cdx.components.map(
    (c: { name: string; version: string; hashes: Array<{ content: string }> }) => [
      c.name,
      c.version,
      c.hashes[0]?.content,
    ],
  );
  assert.deepEqual(fromCdx, fromSpdx);
  assert.deepEqual(
    cdx.components.map((c: { licenses?: unknown }) => c.licenses),
    [[{ expression: "MIT OR Apache-2.0" }], [{ expression: "GPL-3.0-or-later" }]],
  );
  assert.deepEqual(
    cdx.dependencies[0].dependsOn,
    cdx.components.map((c: { "bom-ref": string }) => c["bom-ref"]),
  );
  await build("--sbom", "none");
  await assert.rejects(stat(join(out, "fn.zip.cdx.json")), { code: "ENOENT" });
  assert.equal(JSON.parse(await readFile(join(out, "fn.zip.json"), "utf8")).sbom, undefined);
  const bad = await runTug(["build", "--sbom", "swid"], { cwd: p.dir, env: p.env });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--sbom swid is not a format tug writes/);
});

test("--provenance writes an in-toto SLSA v1 statement beside the zip, byte-identical when reproducible", async (t) => {
  const p = await project(t);
  const env = { SOURCE_DATE_EPOCH: "1700000000" };
  const [a, b] = [
    await cleanBuild(t, p, ["--provenance"], env),
    await cleanBuild(t, p, ["--provenance"], env),
  ];
  const text = await readFile(join(a, "fn.zip.intoto.json"));
  assert.ok(text.equals(await readFile(join(b, "fn.zip.intoto.json"))), "same bytes from the same inputs");
  const meta = JSON.parse(await readFile(join(a, "fn.zip.json"), "utf8"));
  assert.equal(meta.provenance, "fn.zip.intoto.json");
  const statement = JSON.parse(text.toString());
  assert.equal(statement._type, "https://in-toto.io/Statement/v1");
  assert.equal(statement.predicateType, "https://slsa.dev/provenance/v1");
  assert.deepEqual(statement.subject, [{ name: "fn.zip", digest: { sha256: await sha(join(a, "fn.zip")) } }]);
  const def = statement.predicate.buildDefinition;
  assert.equal(def.buildType, "https://tug.dev/buildtypes/zip/v1");
  assert.equal(def.externalParameters.target, "fn");
  assert.equal(def.externalParameters.config.handlerFile, "fn.py");
  const deps = def.resolvedDependencies as Array<{
    name: string;
    uri?: string;
    digest: Record<string, string>;
  }>;
  assert.deepEqual(deps.find((d) => d.name === "requirements.txt")?.digest, {
    sha256: await sha(join(p.dir, "requirements.txt")),
  });
  const index = join(p.dir, "..", "index", "files");
  for (const wheel of ["alpha-1.0-py3-none-any.whl", "beta_pkg-2.0.1-py3-none-any.whl"])
    assert.deepEqual(
      deps.find((d) => d.name === wheel)?.digest,
      { sha256: await sha(join(index, wheel)) },
      wheel,
    );
  assert.equal(statement.predicate.runDetails.metadata, undefined, "no times in reproducible mode");

  // Outside reproducible mode the times are there; a build without --provenance removes the file.
  const out = join(p.dir, ".tug", "out", "lambdas");
  const run = async (...args: string[]) => {
    const r = await runTug(["build", ...args], { cwd: p.dir, env: { ...p.env, SOURCE_DATE_EPOCH: "" } });
    assert.equal(r.code, 0, r.stderr);
  };
  await run("--provenance");
  const timed = JSON.parse(await readFile(join(out, "fn.zip.intoto.json"), "utf8"));
  assert.match(timed.predicate.runDetails.metadata.startedOn, /^\d{4}-\d\d-\d\dT/);
  await run();
  await assert.rejects(stat(join(out, "fn.zip.intoto.json")), { code: "ENOENT" });
  assert.equal(JSON.parse(await readFile(join(out, "fn.zip.json"), "utf8")).provenance, undefined);
});
