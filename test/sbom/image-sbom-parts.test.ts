// The pieces an image SBOM is made of: Go modules read from a real binary's build info, and the
// OCI 1.1 artifact manifest / referrers-tag index that attach a document to an image manifest.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import type { Digest } from "../../src/oci/digest.ts";
import { goModulesFromBuildInfo, goModulesOf, inlineModuleInfo } from "../../src/sbom/go-modules.ts";
import {
  EMPTY_CONFIG,
  referrerArtifact,
  referrersIndex,
  referrersTag,
} from "../../src/sbom/referrer-manifest.ts";
import { sbomDocument } from "../../src/sbom/sbom-document.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";

test("go modules come from the binary's own build info, replacements with what was linked", async (t) => {
  const dir = await tempDir(t, "tug-go-sbom-");
  await mkdir(join(dir, "dep"), { recursive: true });
  await writeFile(
    join(dir, "go.mod"),
    "module example.com/app\n\ngo 1.19\n\nrequire example.com/dep v1.2.3\n\nreplace example.com/dep => ./dep\n",
  );
  await writeFile(
    join(dir, "main.go"),
    'package main\n\nimport "example.com/dep"\n\nfunc main() { dep.Hello() }\n',
  );
  await writeFile(join(dir, "dep", "go.mod"), "module example.com/dep\n\ngo 1.19\n");
  await writeFile(join(dir, "dep", "dep.go"), "package dep\n\nfunc Hello() {}\n");
  const env = { GOPROXY: "off", GOFLAGS: "-mod=mod", GOWORK: "off", GOCACHE: join(dir, ".gocache") };
  await runTool("go", ["build", "-o", "app", "."], { cwd: dir, env: { ...process.env, ...env } });
  const modules = await goModulesOf(join(dir, "app"));
  // Read in-process from the binary: the same modules `go version -m` (an independent reader) names.
  const fromGo = (await runTool("go", ["version", "-m", join(dir, "app")])).stdout;
  assert.deepEqual(modules, goModulesFromBuildInfo(fromGo));
  assert.deepEqual(
    goModulesFromBuildInfo(inlineModuleInfo(await readFile(join(dir, "app"))) ?? ""),
    goModulesFromBuildInfo(fromGo),
  );
  // Stripped (-s -w): the build info stays.
  await runTool("go", ["build", "-ldflags=-s -w", "-o", "app-stripped", "."], {
    cwd: dir,
    env: { ...process.env, ...env },
  });
  assert.deepEqual(await goModulesOf(join(dir, "app-stripped")), modules);
  assert.deepEqual(modules, [
    { ecosystem: "golang", name: "example.com/app", version: "(devel)" },
    { ecosystem: "golang", name: "example.com/dep", version: "(devel)" },
  ]);
  await assert.rejects(goModulesOf(join(dir, "go.mod"), "web"), /could not read the Go build info/);
});

test("a binary without inline build info: none found in-process (go version -m decides)", () => {
  assert.equal(inlineModuleInfo(Buffer.from("not a go binary at all")), undefined);
  // The magic off its 16-byte alignment, or without the inline-strings flag, is not build info.
  const odd = Buffer.alloc(96);
  Buffer.from("\xff Go buildinf:", "latin1").copy(odd, 3);
  assert.equal(inlineModuleInfo(odd), undefined);
  const pointers = Buffer.alloc(96);
  Buffer.from("\xff Go buildinf:", "latin1").copy(pointers, 16);
  pointers[16 + 15] = 0;
  assert.equal(inlineModuleInfo(pointers), undefined);
});

test("build info text: mod, dep and => lines; sums and settings ignored", () => {
  const text = [
    "/ko-app/web: go1.22.1",
    "\tpath\texample.com/web",
    "\tmod\texample.com/web\tv0.3.0\th1:aaa=",
    "\tdep\tgithub.com/google/uuid\tv1.6.0\th1:bbb=",
    "\tdep\tgolang.org/x/text\tv0.14.0",
    "\t=>\tgolang.org/x/text\tv0.15.0\th1:ccc=",
    "\tbuild\t-trimpath=true",
    "",
  ].join("\n");
  assert.deepEqual(
    goModulesFromBuildInfo(text).map((m) => `${m.name}@${m.version}`),
    ["example.com/web@v0.3.0", "github.com/google/uuid@v1.6.0", "golang.org/x/text@v0.15.0"],
  );
});

const subject = {
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  digest: `sha256:${"ab".repeat(32)}` as Digest,
  size: 1234,
};

test("an SBOM referrer is an OCI 1.1 artifact manifest with the image as subject", () => {
  const doc = '{"spdxVersion":"SPDX-2.3"}\n';
  const a = referrerArtifact(subject, doc, "application/spdx+json");
  const parsed = JSON.parse(a.bytes.toString());
  assert.equal(parsed.artifactType, "application/spdx+json");
  assert.deepEqual(parsed.subject, subject);
  assert.deepEqual(parsed.config, {
    mediaType: EMPTY_CONFIG.mediaType,
    digest: EMPTY_CONFIG.digest,
    size: 2,
  });
  assert.equal(EMPTY_CONFIG.digest, `sha256:${createHash("sha256").update("{}").digest("hex")}`);
  assert.equal(Buffer.from(EMPTY_CONFIG.data, "base64").toString(), "{}");
  const blobSha = createHash("sha256").update(doc).digest("hex");
  assert.deepEqual(parsed.layers, [
    { mediaType: "application/spdx+json", digest: `sha256:${blobSha}`, size: doc.length },
  ]);
  assert.equal(a.digest, `sha256:${createHash("sha256").update(a.bytes).digest("hex")}`);
  assert.equal(referrersTag(subject.digest), `sha256-${"ab".repeat(32)}`);
});

test("the referrers tag index keeps other referrers, adds each once, in digest order", () => {
  const a = referrerArtifact(subject, "one", "application/spdx+json");
  const b = referrerArtifact(subject, "two", "application/vnd.cyclonedx+json");
  const first = referrersIndex(undefined, a);
  assert.deepEqual(first.manifests, [
    {
      mediaType: a.manifest.mediaType,
      digest: a.digest,
      size: a.bytes.length,
      artifactType: "application/spdx+json",
    },
  ]);
  const both = referrersIndex(first, b);
  assert.deepEqual(
    both.manifests.map((m) => m.digest),
    [a.digest, b.digest].sort(),
  );
  assert.deepEqual(referrersIndex(both, a), both);
});

test("an image's documents: the base as a container with its digest, Go modules as libraries, in both formats", () => {
  const packages = [
    {
      ecosystem: "oci" as const,
      name: "127.0.0.1:5000/base/busybox:1",
      version: `sha256:${"cd".repeat(32)}`,
      sha256: "cd".repeat(32),
    },
    { ecosystem: "golang" as const, name: "github.com/google/uuid", version: "v1.6.0" },
  ];
  const subject = { name: "web (linux/amd64)", sha256: "ab".repeat(32), kind: "image" as const };
  const spdx = JSON.parse(sbomDocument("spdx", subject, packages, {})?.text ?? "");
  const rootId = spdx.relationships[0].relatedSpdxElement;
  assert.match(rootId, /^SPDXRef-Image-[A-Za-z0-9.-]+$/);
  const base = spdx.packages.find((p: { name: string }) => p.name === packages[0]?.name);
  assert.equal(base.primaryPackagePurpose, "CONTAINER");
  assert.equal(
    base.externalRefs[0].referenceLocator,
    `pkg:oci/busybox@sha256%3A${"cd".repeat(32)}?repository_url=127.0.0.1%3A5000%2Fbase%2Fbusybox&tag=1`,
  );
  assert.deepEqual(
    spdx.relationships.slice(1).map((r: { relationshipType: string }) => r.relationshipType),
    ["CONTAINS", "DESCENDANT_OF"],
  );
  const cdx = JSON.parse(sbomDocument("cyclonedx", subject, packages, {})?.text ?? "");
  assert.equal(cdx.metadata.component.type, "container");
  assert.deepEqual(
    cdx.components.map((c: { type: string; purl: string }) => [c.type, c.purl]),
    [
      ["library", "pkg:golang/github.com/google/uuid@v1.6.0"],
      [
        "container",
        `pkg:oci/busybox@sha256%3A${"cd".repeat(32)}?repository_url=127.0.0.1%3A5000%2Fbase%2Fbusybox&tag=1`,
      ],
    ],
  );
  assert.equal(sbomDocument("none", subject, packages, {}), undefined);
});
