// The go env file, ldflags templates and the cgo-fallback check, against real go where it writes
// or decides something (go env -w writes the file; go list with cgo on names the cgo files).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { loadProject } from "../../src/config/index.ts";
import { TugError } from "../../src/errors.ts";
import { checkCgoFallbacks, importsC } from "../../src/go/cgo.ts";
import { certainlyExcluded, evalBuildExpr } from "../../src/go/constraints.ts";
import { goBuildEnv, goTuning, refusedVariable } from "../../src/go/env.ts";
import { goEnvFilePath, parseGoEnvFile } from "../../src/go/env-file.ts";
import { expandLdflags } from "../../src/go/ldflags.ts";
import { parseGoList } from "../../src/go/packages.ts";
import { CGO_FALLBACK_MODULE } from "../support/go-cgo-module.ts";
import { OFFLINE_GO_ENV, writeTree } from "../support/go-monorepo.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";

const amd64 = { os: "linux", architecture: "amd64" };

test("go env file: where go env -w writes is where tug reads, and its settings are keyed", async (t) => {
  const dir = await tempDir(t, "tug-goenv-");
  const base = { PATH: process.env.PATH, HOME: dir, XDG_CONFIG_HOME: join(dir, "config") };
  const before = goBuildEnv({ platform: amd64, base });
  await runTool("go", ["env", "-w", "GOAMD64=v3", "GOFLAGS=-mod=mod"], { env: { ...process.env, ...base } });
  const path = goEnvFilePath(base, "linux");
  assert.equal(path, join(dir, "config", "go", "env"));
  assert.deepEqual(parseGoEnvFile(await readFile(path ?? "", "utf8")), {
    GOAMD64: "v3",
    GOFLAGS: "-mod=mod",
  });
  const after = goBuildEnv({ platform: amd64, base });
  assert.equal(goTuning(before).GOAMD64, undefined);
  assert.equal(goTuning(after).GOAMD64, "v3");
  assert.equal(
    after.GOFLAGS,
    "-mod=mod -buildvcs=false",
    "the file's GOFLAGS are kept, not replaced by tug's",
  );
  // The environment wins over the file unless empty (cmd/go's cfg.Getenv); build_env wins too.
  assert.equal(goBuildEnv({ platform: amd64, base: { ...base, GOAMD64: "v2" } }).GOAMD64, "v2");
  assert.equal(goBuildEnv({ platform: amd64, base: { ...base, GOAMD64: "" } }).GOAMD64, "v3");
  assert.equal(goBuildEnv({ platform: amd64, base, buildEnv: { GOAMD64: "v4" } }).GOAMD64, "v4");
  assert.equal(goBuildEnv({ platform: amd64, base: { ...base, GOENV: "off" } }).GOAMD64, undefined);
  assert.equal(goBuildEnv({ platform: amd64, base, envFile: false }).GOAMD64, undefined);
});

test("go env file: the path follows os.UserConfigDir and GOENV", () => {
  assert.equal(goEnvFilePath({ HOME: "/h" }, "linux"), "/h/.config/go/env");
  assert.equal(goEnvFilePath({ HOME: "/h", XDG_CONFIG_HOME: "rel" }, "linux"), "/h/.config/go/env");
  assert.equal(goEnvFilePath({ HOME: "/h" }, "darwin"), "/h/Library/Application Support/go/env");
  assert.equal(goEnvFilePath({ HOME: "/h", GOENV: "/x/env" }, "linux"), "/x/env");
  assert.equal(goEnvFilePath({ HOME: "/h", GOENV: "off" }, "linux"), undefined);
  assert.equal(goEnvFilePath({}, "linux"), undefined);
  assert.deepEqual(parseGoEnvFile("# note\nlower=x\nGOAMD64=v3\r\n=y\nNOEQ\nGOEXPERIMENT= a b\n"), {
    GOAMD64: "v3\r",
    GOEXPERIMENT: " a b",
  });
});

test("ldflags: {{.Env.NAME}} is expanded; unset names, other templates and shell variables are refused", () => {
  const env = { VERSION: "1.2.3", EMPTY: "", ODD: "a$b{{c" };
  assert.deepEqual(
    expandLdflags(
      ["-X main.version={{.Env.VERSION}}", "-X main.e={{ .Env.EMPTY }}", "-X m.o={{.Env.ODD}}"],
      env,
    ),
    ["-X main.version=1.2.3", "-X main.e=", "-X m.o=a$b{{c"],
  );
  const refused = (flag: string, what: RegExp) =>
    assert.throws(
      () => expandLdflags([flag], env, "images.svc"),
      (e: unknown) => e instanceof TugError && e.where === "images.svc" && what.test(e.what),
    );
  refused("-X main.v={{.Env.MISSING}}", /MISSING is not set/);
  refused("-X main.v={{.Git.ShortCommit}}", /unsupported template/);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell syntax itself is under test
  refused("-X main.v=${VERSION}", /shell variable/);
  refused("-X main.v=$VERSION", /shell variable/);
  assert.deepEqual(expandLdflags(["-X main.price=5$"], env), ["-X main.price=5$"]);
});

test('build_env: CGO_ENABLED "0" is allowed (accepting fallbacks), "1" is not', () => {
  assert.equal(refusedVariable({ CGO_ENABLED: "0" }), undefined);
  assert.equal(refusedVariable({ CGO_ENABLED: "1" }), "CGO_ENABLED");
  assert.equal(goBuildEnv({ platform: amd64, base: {}, buildEnv: { CGO_ENABLED: "0" } }).CGO_ENABLED, "0");
});

test('tug.yaml: build_env CGO_ENABLED "0" loads, "1" is refused with the way out', async (t) => {
  const dir = await tempDir(t, "tug-gocgo-yaml-");
  const yaml = (v: string) =>
    `images:\n  svc:\n    builder: go\n    context: .\n    base: scratch\n    build_env: {CGO_ENABLED: "${v}"}\n`;
  await writeTree(dir, { "go.mod": "module x\n\ngo 1.19\n", "tug.yaml": yaml("0") });
  const project = await loadProject(join(dir, "tug.yaml"));
  const svc = project.targets[0];
  assert.equal(svc?.builder === "go" && svc.buildEnv.CGO_ENABLED, "0");
  await writeTree(dir, { "tug.yaml": yaml("1") });
  await assert.rejects(
    loadProject(join(dir, "tug.yaml")),
    (e: unknown) =>
      e instanceof TugError && /CGO_ENABLED/.test(e.what) && /CGO_ENABLED: "0"/.test(e.hint ?? ""),
  );
});

test("importsC: the import in a header, alone or grouped, not in a body or a string", () => {
  assert.equal(importsC('package db\n\n// #include <x.h>\nimport "C"\n'), true);
  assert.equal(importsC('package db\n\nimport (\n\t"C"\n\t"fmt"\n)\n'), true);
  assert.equal(importsC('package db\n\nimport "fmt"\n\nfunc f() {\n\t_ = `\n"C"\n`\n}\n'), false);
});

test("cgo fallback: go list with cgo on names the cgo files tug's build leaves out; a windows-only file is not one", async (t) => {
  const dir = await tempDir(t, "tug-gocgo-");
  await writeTree(dir, CGO_FALLBACK_MODULE);
  const env = { ...process.env, ...OFFLINE_GO_ENV, GOOS: "linux", GOARCH: "amd64" };
  const list = async (cgo: string, args: string[]) =>
    (await runTool("go", ["list", "-json", ...args], { cwd: dir, env: { ...env, CGO_ENABLED: cgo } })).stdout;
  const packages = parseGoList(await list("0", ["-deps", "."]));
  let asked: string[] = [];
  await assert.rejects(
    checkCgoFallbacks({
      packages,
      listWithCgo: (paths) => {
        asked = paths;
        return list("1", paths);
      },
      constraints: { goos: "linux", goarch: "amd64", tags: [] },
      target: "svc",
      where: "images.svc",
    }),
    (e: unknown) =>
      e instanceof TugError &&
      e.what.includes("example.com/probe/db") &&
      e.what.includes("db_cgo.go") &&
      !e.what.includes("db_windows.go") &&
      /CGO_ENABLED: "0"/.test(e.hint ?? ""),
  );
  assert.deepEqual(
    asked,
    ["example.com/probe/db"],
    "only the package whose ignored files import C is listed again",
  );
  // Ignored files importing "C" that cgo on would not build either need no second go list.
  const db = packages.find((p) => p.ImportPath === "example.com/probe/db");
  assert.deepEqual(db?.IgnoredGoFiles?.sort(), ["db_cgo.go", "db_windows.go", "gen.go"]);
  let spawned = 0;
  await checkCgoFallbacks({
    packages: packages.map((p) => ({
      ...p,
      IgnoredGoFiles: p.IgnoredGoFiles?.filter((f) => f !== "db_cgo.go"),
    })),
    listWithCgo: async () => {
      spawned++;
      return "";
    },
    constraints: { goos: "linux", goarch: "amd64", tags: [] },
    target: "svc",
  });
  assert.equal(spawned, 0);
});

test("build constraints: excluded only when certain (name suffixes, //go:build with known tags)", () => {
  const ctx = { goos: "linux", goarch: "amd64", tags: ["cgo"], goMinor: 21 };
  assert.equal(evalBuildExpr("ignore", ctx), false);
  assert.equal(evalBuildExpr("linux && cgo", ctx), true);
  assert.equal(evalBuildExpr("!cgo", ctx), false);
  assert.equal(evalBuildExpr("(darwin || windows) && cgo", ctx), false);
  assert.equal(evalBuildExpr("unix && !go1.22", ctx), true);
  assert.equal(evalBuildExpr("sqlite_custom", ctx), undefined, "an unknown tag may be set");
  assert.equal(evalBuildExpr("windows || sqlite_custom", ctx), undefined);
  assert.equal(evalBuildExpr("windows && sqlite_custom", ctx), false);
  assert.equal(evalBuildExpr("linux &&", ctx), undefined, "malformed: unknown");
  assert.equal(evalBuildExpr("linux", { ...ctx, goos: "android" }), true, "android builds linux files");
  const cgo = 'package db\n\nimport "C"\n';
  assert.equal(certainlyExcluded("sqlite3_windows.go", cgo, ctx), true);
  assert.equal(certainlyExcluded("zsys_linux_arm64.go", cgo, ctx), true);
  assert.equal(certainlyExcluded("zsys_linux_amd64.go", cgo, ctx), false);
  assert.equal(
    certainlyExcluded("linux.go", cgo, ctx),
    false,
    "the first element of a name is no constraint",
  );
  assert.equal(certainlyExcluded("types.go", `//go:build ignore\n\n${cgo}`, ctx), true);
  assert.equal(
    certainlyExcluded("types.go", `// +build ignore\n\n${cgo}`, ctx),
    false,
    "old syntax: not read",
  );
  assert.equal(certainlyExcluded("db.go", `//go:build !libsqlite3\n\n${cgo}`, ctx), false);
});
