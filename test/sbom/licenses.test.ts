// Declared licenses as SPDX expressions, or nothing (NOASSERTION) when a package does not state
// one exactly: npm's package.json forms, and a Python METADATA's License-Expression, classifiers
// and License field in that order. npm's SRI integrity strings become hex checksums.
import assert from "node:assert/strict";
import { test } from "node:test";
import { npmLicense, pythonLicense, spdxExpression } from "../../src/sbom/licenses.ts";
import { integrityChecksums } from "../../src/sbom/sbom-model.ts";

test("SPDX expressions are checked, not guessed", () => {
  assert.equal(spdxExpression("MIT"), "MIT");
  assert.equal(
    spdxExpression(" (MIT OR Apache-2.0) AND BSD-3-Clause "),
    "(MIT OR Apache-2.0) AND BSD-3-Clause",
  );
  assert.equal(
    spdxExpression("GPL-2.0-or-later WITH Classpath-exception-2.0"),
    "GPL-2.0-or-later WITH Classpath-exception-2.0",
  );
  assert.equal(spdxExpression("LicenseRef-Proprietary"), "LicenseRef-Proprietary");
  for (const bad of ["Apache 2.0", "mit", "BSD", "", "MIT\nCopyright 2020", "MIT OR", 42, undefined])
    assert.equal(spdxExpression(bad), undefined, String(bad));
  assert.equal(spdxExpression(`MIT OR ${"x".repeat(600)}`), undefined);
});

test("npm: license, the deprecated object and licenses array; UNLICENSED and SEE LICENSE IN say nothing SPDX", () => {
  assert.equal(npmLicense({ license: "ISC" }), "ISC");
  assert.equal(npmLicense({ license: "(MIT OR CC0-1.0)" }), "(MIT OR CC0-1.0)");
  assert.equal(npmLicense({ license: { type: "MIT", url: "x" } }), "MIT");
  assert.equal(npmLicense({ licenses: [{ type: "MIT" }, { type: "Apache-2.0" }] }), "(MIT) OR (Apache-2.0)");
  assert.equal(npmLicense({ licenses: [{ type: "MIT" }] }), "MIT");
  assert.equal(npmLicense({ licenses: [{ type: "MIT" }, { type: "Custom thing" }] }), undefined);
  assert.equal(npmLicense({ license: "UNLICENSED" }), undefined);
  assert.equal(npmLicense({ license: "SEE LICENSE IN LICENSE.md" }), undefined);
  assert.equal(npmLicense({}), undefined);
  assert.equal(npmLicense(null), undefined);
});

const metadata = (headers: string[]) =>
  `Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n${headers.join("\n")}\n\nLicense: not a header (body)\n`;

test("Python: License-Expression, else classifiers that map to one id, else a License field that is an SPDX id", () => {
  assert.equal(
    pythonLicense(
      metadata([
        "License-Expression: Apache-2.0 OR BSD-3-Clause",
        "Classifier: License :: OSI Approved :: MIT License",
      ]),
    ),
    "Apache-2.0 OR BSD-3-Clause",
  );
  assert.equal(pythonLicense(metadata(["Classifier: License :: OSI Approved :: MIT License"])), "MIT");
  assert.equal(
    pythonLicense(
      metadata([
        "Classifier: License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)",
      ]),
    ),
    "LGPL-3.0-or-later",
  );
  assert.equal(
    pythonLicense(
      metadata([
        "Classifier: License :: OSI Approved",
        "Classifier: License :: OSI Approved :: MIT License",
        "Classifier: Programming Language :: Python :: 3",
      ]),
    ),
    "MIT",
  );
  // A classifier that does not say which version: the License field decides when it is an id.
  assert.equal(
    pythonLicense(
      metadata(["License: Apache-2.0", "Classifier: License :: OSI Approved :: Apache Software License"]),
    ),
    "Apache-2.0",
  );
  assert.equal(pythonLicense(metadata(["Classifier: License :: OSI Approved :: BSD License"])), undefined);
  // Two different mapped licenses: which one applies is not stated.
  assert.equal(
    pythonLicense(
      metadata([
        "Classifier: License :: OSI Approved :: MIT License",
        "Classifier: License :: OSI Approved :: ISC License (ISCL)",
      ]),
    ),
    undefined,
  );
  assert.equal(pythonLicense(metadata(["License: BSD"])), undefined);
  assert.equal(
    pythonLicense(metadata(["License: Copyright (c) 2020 Someone", "       All rights reserved."])),
    undefined,
  );
  assert.equal(pythonLicense(metadata(["License-Expression: not valid", "License: MIT"])), "MIT");
  assert.equal(pythonLicense(metadata([])), undefined);
});

test("SRI integrity as hex checksums: sha512 and sha1, malformed ones left out", () => {
  const sha512 = Buffer.alloc(64, 7);
  const sha1 = Buffer.alloc(20, 9);
  assert.deepEqual(
    integrityChecksums(`sha512-${sha512.toString("base64")} sha1-${sha1.toString("base64")}`),
    [
      { algorithm: "SHA512", hex: sha512.toString("hex") },
      { algorithm: "SHA1", hex: sha1.toString("hex") },
    ],
  );
  assert.deepEqual(integrityChecksums(`sha512-${Buffer.alloc(10).toString("base64")}`), []);
  assert.deepEqual(integrityChecksums("md5-AAAA"), []);
  assert.deepEqual(integrityChecksums(undefined), []);
});
