// Builds tug's dev supervisor (src/dev/supervisor/main.go) for linux/amd64 and linux/arm64 into
// OUT/linux-ARCH/supervisor with OUT/manifest.json (each binary's sha256 and the source's), so
// container dev runtimes need no Go on the user's machine. Reproducible: CGO off, -trimpath,
// stripped, empty build id, no VCS stamp, the module's own GOPATH-free build. The user's GOCACHE
// is used (outputs do not depend on it): a rebuild of dist/ then takes a second, not twenty.
// Where go is absent it skips with a note; tug then compiles the supervisor at use, as before.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const SUPERVISOR_PLATFORMS = ["amd64", "arm64"];

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

/** Builds into `out` (created); returns false (after a note on stderr) when go is not installed. */
export function buildSupervisors(outDir, { go = "go", log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  // Absolute: go runs in a scratch module directory.
  const out = resolve(outDir);
  const source = readFileSync(fileURLToPath(new URL("../src/dev/supervisor/main.go", import.meta.url)));
  try {
    execFileSync(go, ["version"], { stdio: "ignore" });
  } catch {
    log(
      "note: go is not installed; the dev supervisor is not prebuilt (tug dev compiles it when it needs it)",
    );
    return false;
  }
  const work = mkdtempSync(join(tmpdir(), "tug-supervisor-build-"));
  try {
    writeFileSync(join(work, "main.go"), source);
    writeFileSync(join(work, "go.mod"), "module tug.dev/supervisor\n\ngo 1.18\n");
    const binaries = {};
    for (const arch of SUPERVISOR_PLATFORMS) {
      const dir = join(out, `linux-${arch}`);
      mkdirSync(dir, { recursive: true });
      const file = join(dir, "supervisor");
      execFileSync(
        go,
        ["build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", file, "."],
        {
          cwd: work,
          stdio: ["ignore", "inherit", "inherit"],
          env: {
            ...process.env,
            CGO_ENABLED: "0",
            GOOS: "linux",
            GOARCH: arch,
            GOFLAGS: "",
            GOPROXY: "off",
            GOTOOLCHAIN: "local",
          },
        },
      );
      binaries[`linux/${arch}`] = { file: `linux-${arch}/supervisor`, sha256: sha256(readFileSync(file)) };
    }
    const manifest = { source: sha256(source), binaries };
    writeFileSync(join(out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    return true;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildSupervisors(process.argv[2] ?? "dist/supervisor");
}
