// What `tug verify` reads from each referrer document to check it describes the image: the SPDX
// package the document DESCRIBES, CycloneDX's metadata.component, an in-toto statement's subjects;
// and what a provenance statement's external parameters leave out (secrets, host paths).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { PythonImageTarget } from "../../src/config/types.ts";
import { targetParameters } from "../../src/sbom/image-provenance.ts";
import { provenanceStatement, tugBuildType } from "../../src/sbom/provenance.ts";
import { sbomDocument } from "../../src/sbom/sbom-document.ts";
import { attestedDigests } from "../../src/sign/attested-digests.ts";

const HEX = "e".repeat(64);
const subject = { name: "app", sha256: HEX, kind: "image" as const };
const base = {
  ecosystem: "oci" as const,
  name: "r/base:1",
  version: `sha256:${"f".repeat(64)}`,
  sha256: "f".repeat(64),
};

test("the digests each document names: SPDX root (not its base row), CycloneDX component, in-toto subjects", async () => {
  const read = (text: string) => async () => Buffer.from(text);
  const spdx = sbomDocument("spdx", subject, [base])?.text as string;
  assert.deepEqual(await attestedDigests("application/spdx+json", read(spdx)), [HEX]);
  const cdx = sbomDocument("cyclonedx", subject, [base])?.text as string;
  assert.deepEqual(await attestedDigests("application/vnd.cyclonedx+json", read(cdx)), [HEX]);
  const statement = provenanceStatement({
    subjects: [{ name: "app", sha256: HEX }],
    buildType: tugBuildType("image"),
    externalParameters: {},
    resolvedDependencies: [],
  });
  assert.deepEqual(await attestedDigests("application/vnd.in-toto+json", read(statement)), [HEX]);
  assert.deepEqual(await attestedDigests("application/spdx+json", read("not json")), []);
  assert.equal(await attestedDigests("application/octet-stream", read("")), undefined);
});

test("external parameters: project paths relative, image paths kept, build env values and index passwords left out", () => {
  const target = {
    name: "api",
    where: "tug.yaml:3",
    builder: "python",
    context: "/home/me/proj/api",
    base: { kind: "registry", ref: "python:3.12-slim" },
    platforms: [{ os: "linux", architecture: "amd64" }],
    env: {},
    ports: [],
    labels: {},
    annotations: {},
    tags: ["latest"],
    workdir: "/app",
    python: [3, 12],
    pythonFullVersion: "3.12.1",
    glibc: "2.36",
    sourceRoots: ["/home/me/proj/api/src"],
    indexUrl: "https://user:s3cret@pypi.example/simple",
    extraIndexUrls: [],
    buildEnv: { TOKEN: "s3cret" },
    dev: { runtime: "local" },
  } as unknown as PythonImageTarget;
  const p = targetParameters(target, "/home/me/proj");
  assert.equal(p.context, "api");
  assert.deepEqual(p.sourceRoots, ["api/src"]);
  assert.equal(p.workdir, "/app");
  assert.equal(p.base, "python:3.12-slim");
  assert.deepEqual(p.buildEnv, ["TOKEN"]);
  assert.equal(p.where, undefined);
  assert.equal(p.dev, undefined);
  assert.ok(!JSON.stringify(p).includes("s3cret"), JSON.stringify(p));
});
