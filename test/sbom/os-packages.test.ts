// The OS package database parsers: apk's installed db (format of apk-tools' database, one
// `X:value` line per field, blank lines between packages), dpkg status stanzas (only installed
// ones, continuation lines ignored), distroless status.d entries and os-release ids as purl namespaces.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isOsPackageFile, osPackagesOf, osReleaseId } from "../../src/sbom/os-packages.ts";
import { purlOf } from "../../src/sbom/sbom-model.ts";

const APK = `C:Q1abc=
P:musl
V:1.2.4-r2
A:x86_64
S:383152
L:MIT
T:the musl c library

C:Q1def=
P:busybox
V:1.36.1-r5
A:x86_64
L:GPL-2.0-only
F:bin
R:busybox
`;

const DPKG = `Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries.
 Package: not-a-package

Package: removed-one
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0
`;

test("apk's installed db: name, version, arch and license per package, alpine namespace from os-release", () => {
  const files = new Map([
    ["lib/apk/db/installed", APK],
    ["etc/os-release", 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n'],
  ]);
  assert.deepEqual(osPackagesOf(files).map(purlOf), [
    "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64",
    "pkg:apk/alpine/busybox@1.36.1-r5?arch=x86_64",
  ]);
  assert.deepEqual(
    osPackagesOf(files).map((p) => p.license),
    ["MIT", "GPL-2.0-only"],
  );
});

test("dpkg status: installed packages only, continuation lines are not fields; status.d entries count too", () => {
  const files = new Map([
    ["var/lib/dpkg/status", DPKG],
    ["var/lib/dpkg/status.d/base-files", "Package: base-files\nVersion: 12.4\nArchitecture: amd64\n"],
    ["usr/lib/os-release", 'ID="ubuntu"\n'],
  ]);
  assert.deepEqual(osPackagesOf(files).map(purlOf), [
    "pkg:deb/ubuntu/libc6@2.36-9%2Bdeb12u4?arch=amd64",
    "pkg:deb/ubuntu/base-files@12.4?arch=amd64",
  ]);
});

test("which layer paths are scanned, and os-release ids that are not purl-safe are dropped", () => {
  assert.ok(isOsPackageFile("var/lib/dpkg/status"));
  assert.ok(isOsPackageFile("var/lib/dpkg/status.d/libssl3"));
  assert.ok(!isOsPackageFile("var/lib/dpkg/status.d/sub/x"));
  assert.ok(!isOsPackageFile("var/lib/dpkg/status-old"));
  assert.ok(isOsPackageFile("lib/apk/db/installed"));
  assert.equal(osReleaseId("ID=debian\n"), "debian");
  assert.equal(osReleaseId("ID='a b'\n"), undefined);
  assert.equal(osReleaseId("NAME=x\n"), undefined);
});
