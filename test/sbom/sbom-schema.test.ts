// Every SBOM tug writes validates against the specifications' own published JSON schemas
// (test/data/schemas, copied unchanged): SPDX 2.3 and CycloneDX 1.5, checked by ajv, for an image
// and a zip with every kind of package tug lists, and the bytes are the same when written twice.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { sbomDocument } from "../../src/sbom/sbom-document.ts";
import type { SbomPackage, SbomSubject } from "../../src/sbom/sbom-model.ts";

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const schema = async (name: string) =>
  JSON.parse(await readFile(new URL(`../data/schemas/${name}`, import.meta.url), "utf8")) as Record<
    string,
    unknown
  >;

const PACKAGES: SbomPackage[] = [
  {
    ecosystem: "pypi",
    name: "beta_pkg",
    version: "2.0.1",
    fileName: "beta_pkg-2.0.1-py3-none-any.whl",
    sha256: "a".repeat(64),
    license: "MIT",
  },
  { ecosystem: "golang", name: "golang.org/x/text", version: "v0.14.0" },
  { ecosystem: "golang", name: "example.com/hello", version: "(devel)" },
  {
    ecosystem: "npm",
    name: "@scope/left-pad",
    version: "1.3.0",
    license: "Apache-2.0 OR MIT",
    checksums: [
      { algorithm: "SHA512", hex: "e".repeat(128) },
      { algorithm: "SHA1", hex: "f".repeat(40) },
    ],
  },
  { ecosystem: "npm", name: "express", version: "4.21.2", license: "MIT" },
  {
    ecosystem: "oci",
    name: "127.0.0.1:5000/base/busybox:1",
    version: `sha256:${"b".repeat(64)}`,
    sha256: "b".repeat(64),
  },
  { ecosystem: "deb", name: "libc6", version: "2.36-9+deb12u4", distro: "debian", arch: "amd64" },
  { ecosystem: "apk", name: "musl", version: "1.2.4-r2", distro: "alpine", arch: "x86_64", license: "MIT" },
];

const SUBJECTS: SbomSubject[] = [
  { name: "site (linux/amd64)", sha256: "c".repeat(64), kind: "image" },
  { name: "fn.zip", sha256: "d".repeat(64), kind: "zip" },
];

async function validators() {
  const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
  // ajv-formats has no IRI/IDN formats; tug writes no field that uses them (urls, emails).
  ajv.addFormat("iri-reference", /^\S*$/);
  ajv.addFormat("idn-email", /^\S+@\S+$/);
  ajv.addSchema(await schema("spdx.schema.json"), "spdx.schema.json");
  ajv.addSchema(await schema("jsf-0.82.schema.json"), "jsf-0.82.schema.json");
  return {
    spdx: ajv.compile(await schema("spdx-2.3.schema.json")),
    cyclonedx: ajv.compile(await schema("bom-1.5.schema.json")),
  };
}

test("SPDX 2.3 and CycloneDX 1.5 documents validate against the published schemas, with stable bytes", async () => {
  const v = await validators();
  const env = { SOURCE_DATE_EPOCH: "1700000000" };
  for (const subject of SUBJECTS) {
    for (const format of ["spdx", "cyclonedx"] as const) {
      const doc = sbomDocument(format, subject, PACKAGES, env);
      assert.ok(doc);
      const validate = v[format];
      const ok = validate(JSON.parse(doc.text));
      assert.ok(ok, `${format} ${subject.kind}: ${JSON.stringify(validate.errors, null, 2)}`);
      // Packages in another order give the same bytes.
      assert.equal(sbomDocument(format, subject, [...PACKAGES].reverse(), env)?.text, doc.text);
    }
  }
});

test("the schemas do reject a document missing what they require", async () => {
  const v = await validators();
  const spdx = JSON.parse(sbomDocument("spdx", SUBJECTS[0] as SbomSubject, PACKAGES)?.text ?? "{}");
  delete spdx.creationInfo;
  assert.equal(v.spdx(spdx), false);
  const cdx = JSON.parse(sbomDocument("cyclonedx", SUBJECTS[0] as SbomSubject, PACKAGES)?.text ?? "{}");
  cdx.specVersion = 1.5;
  assert.equal(v.cyclonedx(cdx), false);
});
