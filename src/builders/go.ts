import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import type { GoTarget } from "../config/types.ts";
import { scanTree } from "../engine/source-tree.ts";
import { TugError } from "../errors.ts";
import type { Platform } from "../oci/types.ts";
import type { Builder } from "./builder.ts";
import { toolIdentity } from "./tool-identity.ts";

/**
 * `go`: a static binary (CGO_ENABLED=0, -trimpath, -s -w, no VCS stamp) at /app/NAME.
 * The key is the source tree + go version + platform + flags, never Go's build ID, which
 * differs between CI runs (ko#1497). GOCACHE persists under the tug cache so a miss
 * still compiles incrementally.
 */
export const goBuilder: Builder = {
  async plan({ engine, target, platform }) {
    if (target.builder !== "go") throw new Error("go builder given another target");
    const go = await toolIdentity(
      engine,
      "go",
      ["version"],
      "install Go (Debian: apt-get install golang-go) or put it on PATH",
    );
    const tree = await scanTree(target.context, { statCache: engine.statCache, where: target.where });
    if (!tree.files.some((f) => f.path === "go.mod")) {
      throw new TugError({
        what: `no go.mod in ${target.context}`,
        where: target.where,
        hint: "run `go mod init NAME` in the context, or point `context:` at the module root",
      });
    }
    const binary = target.binary;
    const ldflags = ldflagsOf(target);
    const goarm = goarmOf(platform);
    return {
      config: { entrypoint: [`/app/${binary}`] },
      layers: [
        {
          target: target.name,
          step: `go build ${platform.os}/${platform.architecture}`,
          kind: "go-binary",
          version: 1,
          params: {
            go: goRelease(go.version),
            ...goTuning(),
            os: platform.os,
            arch: platform.architecture,
            main: target.main,
            ldflags,
            binary,
            goarm: goarm ?? "",
          },
          trees: { context: tree.files },
          produce: async () => {
            const outDir = await engine.store.tempPath("go");
            await fs.mkdir(outDir, { recursive: true });
            const out = join(outDir, binary);
            try {
              await goBuild({ go: go.path, target, platform, out, cacheRoot: engine.store.root });
            } catch (e) {
              await fs.rm(outDir, { recursive: true, force: true });
              throw e;
            }
            const st = await fs.stat(out);
            return {
              entries: [{ path: `app/${binary}`, type: "file", mode: 0o755, size: st.size, source: out }],
              cleanup: () => fs.rm(outDir, { recursive: true, force: true }),
            };
          },
        },
      ],
    };
  },
};

function ldflagsOf(target: GoTarget): string {
  return ["-s", "-w", ...target.ldflags].join(" ");
}

export function goarmOf(platform: Platform): string | undefined {
  return platform.architecture === "arm" && platform.variant ? platform.variant.replace(/^v/, "") : undefined;
}

/** The environment of a static, reproducible cross-build for `platform` (GOCACHE when given). */
export function goEnv(platform: Platform, gocache?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CGO_ENABLED: "0",
    GOOS: platform.os,
    GOARCH: platform.architecture,
    GOFLAGS: "-buildvcs=false",
    GOTOOLCHAIN: "local",
  };
  const goarm = goarmOf(platform);
  if (goarm) env.GOARM = goarm;
  if (gocache) env.GOCACHE = gocache;
  return env;
}

/**
 * `go build` of the target for a platform into `out`: static, trimmed, stripped, no VCS stamp,
 * with the persistent GOCACHE under the tug cache. The image builder and the dev loop's
 * binary swap both use it, so what runs in dev is what ships.
 */
export function goBuild(o: {
  go: string;
  target: GoTarget;
  platform: Platform;
  out: string;
  cacheRoot: string;
}): Promise<void> {
  const { target, platform } = o;
  const env = goEnv(platform, join(o.cacheRoot, "go-build"));
  return new Promise<void>((resolve, reject) => {
    execFile(
      o.go,
      ["build", "-trimpath", `-ldflags=${ldflagsOf(target)}`, "-o", o.out, target.main],
      { cwd: target.context, env, maxBuffer: 16 << 20 },
      (err, _stdout, stderr) =>
        err
          ? reject(
              new TugError({
                what: `go build failed for ${target.name} (${platform.os}/${platform.architecture})`,
                where: target.where,
                hint: stderr.trim() || String(err),
              }),
            )
          : resolve(),
    );
  });
}

/**
 * The release from `go version` output ("go version go1.22.2 linux/amd64" → "go1.22.2"): the
 * host's own OS/arch would split Mac and Linux caches for the same cross-compiled binary.
 */
export function goRelease(versionOutput: string): string {
  return /\bgo\d+(?:\.\d+)*\S*/.exec(versionOutput.replace(/^go version /, ""))?.[0] ?? versionOutput;
}

/** Environment settings that change what `go build` emits; they are part of the key when set. */
export function goTuning(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ["GOAMD64", "GOARM64", "GO386", "GOMIPS", "GOPPC64", "GOEXPERIMENT", "GOFIPS140"]) {
    const v = env[k];
    if (v) out[k] = v;
  }
  return out;
}
