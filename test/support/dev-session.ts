// A `tug dev` session on a project file with its reports collected, for e2e tests of the loop:
// in a private podman store when `podman` is given, else with the project's own runtimes.
import { cp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { loadProject } from "../../src/config/index.ts";
import { hostPlatform } from "../../src/config/platform.ts";
import { containerRuntime } from "../../src/dev/container-runtime.ts";
import { type DevSession, dev } from "../../src/dev/dev.ts";
import { devImageDeployer } from "../../src/dev/dev-image.ts";
import type { UpdateReport } from "../../src/dev/report.ts";
import { until } from "./http.ts";
import { tempDir } from "./tmp.ts";
import type { podmanStore } from "./tools.ts";

const DEMO_WEB = fileURLToPath(new URL("../../examples/demo/web/", import.meta.url));

/**
 * A temp project with examples/demo/web as target `web` (node, `src/server.ts`), run by `tug dev`
 * on the local runtime at `port`; `devExtra` lines (indented 6 spaces) go under `dev:`.
 */
export async function demoWebDevProject(
  t: TestContext,
  prefix: string,
  port: number,
  devExtra = "",
): Promise<string> {
  const dir = await tempDir(t, prefix);
  await cp(DEMO_WEB, join(dir, "web"), { recursive: true });
  await writeFile(
    join(dir, "tug.yaml"),
    `images:
  web:
    builder: node
    context: ./web
    entry: src/server.ts
    env: { PORT: "${port}" }
    dev:
      runtime: local
      port: ${port}
${devExtra}`,
  );
  return dir;
}

export interface DevUnderTest {
  session: DevSession;
  reports: UpdateReport[];
  /** The first report of `action` after the `after`-th report (default: any). */
  next(action: UpdateReport["action"], after?: number): Promise<UpdateReport>;
}

export async function startDev(
  t: TestContext,
  tugYaml: string,
  opts: { podman?: Awaited<ReturnType<typeof podmanStore>>; targets?: string[] } = {},
): Promise<DevUnderTest> {
  const reports: UpdateReport[] = [];
  const store = opts.podman;
  const session = await dev(await loadProject(tugYaml), {
    ...(opts.targets ? { targets: opts.targets } : {}),
    cacheDir: await tempDir(t, "tug-cache-"),
    onReport: (r) => reports.push(r),
    onLog: () => {},
    ...(store
      ? {
          imageRuntime: async (target, engine, project) => ({
            runtime: containerRuntime({ cli: "podman", globalArgs: store.args, env: store.env }),
            deployer: devImageDeployer(engine, target, project, hostPlatform()),
          }),
        }
      : {}),
  });
  return {
    session,
    reports,
    next: (action, after = 0) =>
      until(`a ${action} report`, () => reports.slice(after).find((r) => r.action === action)),
  };
}
