// Bundles the CLI and library so `tug` starts without a TypeScript loader: a no-op build is
// dominated by start-up time. Pure-JS dependencies are bundled in (fewer files to resolve and
// load). The CLI is one CommonJS file run through V8's code cache (scripts/cli-bundle.mjs).
import { createHash } from "node:crypto";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import { buildSupervisors } from "./build-supervisor.mjs";
import { cliBundleOptions } from "./cli-bundle.mjs";

// Identifies this build of the code, so caches of derived data (the parsed project) never
// outlive a change to the code that derived them.
async function sourceHash(dir) {
  const hash = createHash("sha256");
  const walk = async (d) => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else hash.update(p).update(await readFile(p));
    }
  };
  await walk(dir);
  return hash.digest("hex").slice(0, 16);
}

// Chunk names carry content hashes: without a clean slate, old chunks pile up in dist/.
await rm("dist", { recursive: true, force: true });

const buildId = await sourceHash("src");
const cli = await build({ ...cliBundleOptions({ outdir: "dist", buildId }), metafile: true });
// bin/load-cli.js runs the bundle as a vm.Script, where an import() fails ("A dynamic import
// callback was not specified"): load externals with require (esbuildApi) and built-ins statically.
const dynamic = cli.metafile.outputs["dist/cli.cjs"].imports.filter((i) => i.kind === "dynamic-import");
if (dynamic.length > 0) {
  throw new Error(
    `dist/cli.cjs keeps import() of ${dynamic.map((i) => i.path).join(", ")}: use require or a static import`,
  );
}
// The library (dist/index.js): ESM, split at dynamic imports.
await build({
  entryPoints: { index: "src/index.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["esbuild", "@parcel/watcher"],
  banner: {
    js: "import { createRequire as __tugCreateRequire } from 'node:module'; const require = __tugCreateRequire(import.meta.url);",
  },
  define: { __TUG_BUILD__: JSON.stringify(buildId) },
  sourcemap: "linked",
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: "warning",
});

// The dev supervisor for linux/amd64 and linux/arm64, with its sha256 manifest (dist/supervisor).
buildSupervisors(join("dist", "supervisor"));
// bin/tug.js hands a command to a running `tug server` only when the server runs this build.
await writeFile("dist/build-id", buildId);
