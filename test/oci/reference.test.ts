import assert from "node:assert/strict";
import { test } from "node:test";
import { isTugError } from "../../src/errors.ts";
import type { Digest } from "../../src/oci/digest.ts";
import { formatReference, parseReference, registryHost } from "../../src/oci/reference.ts";

const D: Digest = `sha256:${"a".repeat(64)}`;

test("parses references the way docker does", () => {
  const cases: Array<[string, ReturnType<typeof parseReference>]> = [
    ["busybox", { registry: "docker.io", repository: "library/busybox", tag: "latest" }],
    ["busybox:1.36", { registry: "docker.io", repository: "library/busybox", tag: "1.36" }],
    ["grafana/loki", { registry: "docker.io", repository: "grafana/loki", tag: "latest" }],
    ["docker.io/busybox", { registry: "docker.io", repository: "library/busybox", tag: "latest" }],
    ["index.docker.io/a/b:c", { registry: "docker.io", repository: "a/b", tag: "c" }],
    ["127.0.0.1:5000/demo/web:tag", { registry: "127.0.0.1:5000", repository: "demo/web", tag: "tag" }],
    ["localhost/app", { registry: "localhost", repository: "app", tag: "latest" }],
    ["localhost:5000/app", { registry: "localhost:5000", repository: "app", tag: "latest" }],
    ["[::1]:5000/app:v1", { registry: "[::1]:5000", repository: "app", tag: "v1" }],
    ["ghcr.io/o/r/deep/name", { registry: "ghcr.io", repository: "o/r/deep/name", tag: "latest" }],
    [`host.example/repo@${D}`, { registry: "host.example", repository: "repo", digest: D }],
    [
      `host.example:443/repo:v2@${D}`,
      { registry: "host.example:443", repository: "repo", tag: "v2", digest: D },
    ],
    ["a.b/my_repo-x.y__z:V1.0_-x", { registry: "a.b", repository: "my_repo-x.y__z", tag: "V1.0_-x" }],
  ];
  for (const [input, want] of cases) assert.deepEqual(parseReference(input), want, input);
});

test("formats fully qualified references", () => {
  assert.equal(formatReference(parseReference("busybox")), "docker.io/library/busybox:latest");
  assert.equal(formatReference(parseReference(`h:1/r:t@${D}`)), `h:1/r:t@${D}`);
  assert.equal(registryHost("docker.io"), "registry-1.docker.io");
  assert.equal(registryHost("127.0.0.1:5000"), "127.0.0.1:5000");
});

test("rejects invalid references with what and hint", () => {
  const bad: Array<[string, RegExp]> = [
    ["", /empty/],
    ["Busybox", /lowercase/],
    ["host.io/Repo:tag", /lowercase/],
    ["repo:bad tag", /not a valid tag/],
    ["repo@sha256:1234", /not a sha256 digest/],
    ["repo@md5:abc", /not a sha256 digest/],
    ["host.io/", /repository name is missing/],
    ["host.io/a//b", /not a valid repository name/],
    ["-bad/x", /not a valid repository name/],
    ["bad_host.io:5000/x", /not a valid registry host/],
    [`x.io/${"a".repeat(260)}`, /longer than 255/],
  ];
  for (const [input, why] of bad) {
    assert.throws(
      () => parseReference(input),
      (e) => {
        assert.ok(isTugError(e), input);
        assert.match(e.what, why, input);
        assert.ok(e.hint, input);
        return true;
      },
    );
  }
});
