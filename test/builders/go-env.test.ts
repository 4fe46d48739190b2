import assert from "node:assert/strict";
import { test } from "node:test";
import { TugError } from "../../src/errors.ts";
import { goBuildEnv, mergeGoflags, refusedFlag, refusedVariable } from "../../src/go/env.ts";

const amd64 = { os: "linux", architecture: "amd64" };

test("GOFLAGS: the user's flags survive and tug adds -buildvcs=false once", () => {
  assert.equal(mergeGoflags(undefined), "-buildvcs=false");
  assert.equal(mergeGoflags(""), "-buildvcs=false");
  assert.equal(mergeGoflags("-mod=vendor"), "-mod=vendor -buildvcs=false");
  assert.equal(mergeGoflags("  -mod=vendor   -tags=netgo "), "-mod=vendor -tags=netgo -buildvcs=false");
});

test("GOFLAGS: a -buildvcs the user chose is kept as written", () => {
  assert.equal(mergeGoflags("-buildvcs=true -mod=mod"), "-buildvcs=true -mod=mod");
  assert.equal(mergeGoflags("--buildvcs=auto"), "--buildvcs=auto");
});

test("build env: user environment, then build_env, then the platform tug forces", () => {
  const env = goBuildEnv({
    platform: { os: "linux", architecture: "arm", variant: "v7" },
    base: { PATH: "/bin", GOFLAGS: "-mod=vendor", GOARM: "5", GOEXPERIMENT: "old", CGO_ENABLED: "1" },
    buildEnv: { GOEXPERIMENT: "loopvar", GOPRIVATE: "example.com" },
    gocache: "/cache/go-build",
  });
  assert.equal(env.PATH, "/bin");
  assert.equal(env.GOFLAGS, "-mod=vendor -buildvcs=false");
  assert.equal(env.GOEXPERIMENT, "loopvar", "build_env overrides the shell");
  assert.equal(env.GOPRIVATE, "example.com");
  assert.equal(env.GOOS, "linux");
  assert.equal(env.GOARCH, "arm");
  assert.equal(env.GOARM, "7", "the platform's variant, not the shell's GOARM");
  assert.equal(env.CGO_ENABLED, "0");
  assert.equal(env.GOTOOLCHAIN, "local");
  assert.equal(env.GOCACHE, "/cache/go-build");
});

test("build env: a GOARM from the shell does not leak into a non-arm build", () => {
  const env = goBuildEnv({ platform: amd64, base: { GOARM: "6" } });
  assert.equal(env.GOARM, undefined);
});

test("build env: GOOS, GOARCH, GOARM and CGO_ENABLED in build_env are refused with the target named", () => {
  for (const name of ["GOOS", "GOARCH", "GOARM", "CGO_ENABLED"]) {
    assert.equal(refusedVariable({ GOEXPERIMENT: "x", [name]: "1" }), name);
    assert.throws(
      () => goBuildEnv({ platform: amd64, base: {}, buildEnv: { [name]: "1" }, where: "images.svc" }),
      (e: unknown) => e instanceof TugError && e.where === "images.svc" && e.what.includes(name),
    );
  }
  assert.equal(refusedVariable({ GOAMD64: "v3", GOFLAGS: "-mod=vendor" }), undefined);
});

test("flags: tug's own and cgo-only flags are refused with a hint, others pass", () => {
  assert.equal(refusedFlag(["-mod=vendor", "-gcflags=all=-l", "-p=2", "-trimpath"]), undefined);
  assert.match(refusedFlag(["-o", "x"])?.hint ?? "", /name:/);
  assert.match(refusedFlag(["-ldflags=-X main.v=1"])?.hint ?? "", /ldflags:/);
  assert.match(refusedFlag(["--tags=netgo"])?.hint ?? "", /build_tags:/);
  assert.match(refusedFlag(["-race"])?.hint ?? "", /cgo/);
  assert.match(refusedFlag(["-asan"])?.hint ?? "", /cgo/);
  assert.match(refusedFlag(["-gcflags", "all=-l"])?.hint ?? "", /-gcflags=all=-l/);
});
