import { promises as fs } from "node:fs";
import { join } from "node:path";
import type { GoTarget } from "../config/types.ts";
import { outsideModuleDirs } from "../go/module-dirs.ts";
import type { BuilderDev } from "./builder.ts";
import { goBuild } from "./go.ts";
import { toolIdentity } from "./tool-identity.ts";

/**
 * go under `tug dev`: a change is compiled on the host with the persistent GOCACHE and the
 * binary swapped; local modules outside the context (`replace => ../shared`, go.work) are watched.
 */
export const goDev: BuilderDev<GoTarget> = {
  async artifact({ engine, target, platform }) {
    const go = await toolIdentity(engine, "go", ["version"], "install Go or put it on PATH");
    const dir = await engine.store.tempPath("go-dev");
    await fs.mkdir(dir, { recursive: true });
    const out = join(dir, target.binary);
    return {
      async rebuild() {
        await goBuild({ go: go.path, target, platform, out, cacheRoot: engine.store.root });
        return [{ path: `/app/${target.binary}`, kind: "write", source: out, mode: 0o755 }];
      },
      dispose: () => fs.rm(dir, { recursive: true, force: true }),
    };
  },
  // `go list` runs with the user's environment plus the target's build_env, as the build does.
  watchRoots: (target) => outsideModuleDirs(target.context, { ...process.env, ...(target.buildEnv ?? {}) }),
};
