import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import type { GoTarget } from "../config/types.ts";
import { TugError } from "../errors.ts";
import { goarmOf, goBuildEnv, goTuning, refusedFlag } from "../go/env.ts";
import { gitRootOf, goSources } from "../go/inputs.ts";
import { expandLdflags } from "../go/ldflags.ts";
import type { Platform } from "../oci/types.ts";
import type { Builder } from "./builder.ts";
import { toolIdentity } from "./tool-identity.ts";

/**
 * `go`: a static binary (CGO_ENABLED=0, -trimpath, -s -w, no VCS stamp) at /app/NAME.
 * The key is the files `go list -deps` says the compiler reads from local modules (main,
 * replaced, workspace; go.mod/go.sum/go.work; vendor/) + go version + platform + flags, tags and
 * build_env, never Go's build ID, which differs between CI runs (ko#1497). Other files of the
 * context are not inputs. GOCACHE persists under the tug cache so a miss still compiles
 * incrementally.
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
    const env = goBuildEnv({
      platform,
      buildEnv: target.buildEnv,
      gocache: join(engine.store.root, "go-build"),
      where: target.where,
    });
    const flagProblem = refusedFlag(target.flags);
    if (flagProblem) {
      throw new TugError({
        what: `flags: ${flagProblem.flag} is not allowed`,
        where: target.where,
        hint: flagProblem.hint,
      });
    }
    const ldflags = ldflagsOf(target);
    const gitRoot = await gitRootOf(engine.scope);
    const sources = await goSources({
      engine,
      target,
      go,
      env,
      roots: gitRoot ? [engine.scope, gitRoot] : [engine.scope],
    });
    const binary = target.binary;
    const goarm = goarmOf(platform);
    return {
      config: { entrypoint: [`/app/${binary}`] },
      layers: [
        {
          target: target.name,
          step: `go build ${platform.os}/${platform.architecture}`,
          kind: "go-binary",
          version: 2,
          params: {
            go: goRelease(go.version),
            ...goTuning(env),
            goflags: env.GOFLAGS ?? "",
            os: platform.os,
            arch: platform.architecture,
            main: target.main,
            ldflags,
            binary,
            goarm: goarm ?? "",
            flags: target.flags,
            tags: target.buildTags,
            ...Object.fromEntries(Object.entries(target.buildEnv).map(([k, v]) => [`env.${k}`, v])),
          },
          trees: { context: sources },
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

/** tug's `-s -w`, then the target's ldflags with `{{.Env.NAME}}` expanded (see expandLdflags). */
function ldflagsOf(target: GoTarget): string {
  const env = { ...process.env, ...target.buildEnv };
  return ["-s", "-w", ...expandLdflags(target.ldflags, env, target.where)].join(" ");
}

/** `go build` flags before `-o`: tug's (static, trimmed, stripped), then the target's flags and tags. */
export function goBuildArgs(target: GoTarget): string[] {
  const args = ["-trimpath", `-ldflags=${ldflagsOf(target)}`, ...target.flags];
  if (target.buildTags.length > 0) args.push(`-tags=${target.buildTags.join(",")}`);
  return args;
}

export { goarmOf } from "../go/env.ts";

/**
 * The environment for tug's own Go programs (the dev supervisor): a static cross-build that
 * ignores the user's GOFLAGS, which are meant for their modules (-mod=vendor would break it).
 */
export function goEnv(platform: Platform, gocache?: string): NodeJS.ProcessEnv {
  return goBuildEnv({ platform, gocache, base: { ...process.env, GOFLAGS: undefined }, envFile: false });
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
  const env = goBuildEnv({
    platform,
    buildEnv: target.buildEnv,
    gocache: join(o.cacheRoot, "go-build"),
    where: target.where,
  });
  return new Promise<void>((resolve, reject) => {
    execFile(
      o.go,
      ["build", ...goBuildArgs(target), "-o", o.out, target.main],
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
