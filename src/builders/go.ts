import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { scanTree } from "../engine/source-tree.ts";
import { TugError } from "../errors.ts";
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
    const ldflags = ["-s", "-w", ...target.ldflags].join(" ");
    const goarm =
      platform.architecture === "arm" && platform.variant ? platform.variant.replace(/^v/, "") : undefined;
    return {
      config: { entrypoint: [`/app/${binary}`] },
      layers: [
        {
          target: target.name,
          step: `go build ${platform.os}/${platform.architecture}`,
          kind: "go-binary",
          version: 1,
          params: {
            go: go.version,
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
            const env: NodeJS.ProcessEnv = {
              ...process.env,
              CGO_ENABLED: "0",
              GOOS: platform.os,
              GOARCH: platform.architecture,
              GOCACHE: join(engine.store.root, "go-build"),
              GOFLAGS: "-buildvcs=false",
              GOTOOLCHAIN: "local",
            };
            if (goarm) env.GOARM = goarm;
            await new Promise<void>((resolve, reject) => {
              execFile(
                go.path,
                ["build", "-trimpath", `-ldflags=${ldflags}`, "-o", out, target.main],
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
