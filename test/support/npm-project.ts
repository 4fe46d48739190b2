// Node projects with real packages from the npm registry, installed once per package list and
// machine (npm install is the slow part of the node e2e tests) and copied into each test's dir.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { access, cp, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const cacheRoot = join(tmpdir(), "tug-test-npm");
const RECIPE_VERSION = "1";
const building = new Map<string, Promise<string>>();

/**
 * A directory holding package.json (`dependencies` = `deps`, plus `extra` fields), the
 * package-lock.json npm wrote and node_modules, installed with install scripts as a user would.
 * Packages that compile at install time (node-gyp) find Node's headers in /usr/include/node
 * (Debian's libnode-dev): the machine cannot download them from nodejs.org.
 */
export function npmInstalled(
  deps: Record<string, string>,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const pkg = { name: "app", version: "1.0.0", private: true, ...extra, dependencies: deps };
  const key = createHash("sha256")
    .update(JSON.stringify([RECIPE_VERSION, process.version, pkg]))
    .digest("hex")
    .slice(0, 24);
  const final = join(cacheRoot, key);
  let p = building.get(final);
  if (!p) {
    p = (async () => {
      if (await exists(join(final, "package-lock.json"))) return final;
      await mkdir(cacheRoot, { recursive: true });
      const aside = await mkdtemp(join(cacheRoot, ".install-"));
      try {
        await writeFile(join(aside, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
        const headers = (await exists("/usr/include/node/common.gypi")) ? { npm_config_nodedir: "/usr" } : {};
        await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], {
          cwd: aside,
          env: { ...process.env, ...headers },
          maxBuffer: 64 << 20,
          timeout: 900_000,
        });
        await rename(aside, final).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== "ENOTEMPTY" && e.code !== "EEXIST") throw e;
        });
        return final;
      } finally {
        await rm(aside, { recursive: true, force: true });
      }
    })();
    building.set(final, p);
    p.catch(() => building.delete(final));
  }
  return p;
}

/** Copies an installed project (package.json, lockfile, node_modules) into `dir`. */
export async function copyInstalled(installed: string, dir: string): Promise<void> {
  await cp(installed, dir, { recursive: true, verbatimSymlinks: true });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
