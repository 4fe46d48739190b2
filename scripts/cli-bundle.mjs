// The esbuild options of the CLI bundle, shared by scripts/build.mjs and the benches that bundle
// the current sources (bench/support/cli-bundle.ts).
//
// One CommonJS file, no code splitting: bin/load-cli.js compiles it with V8's code cache, and a
// single file spares the module resolution and linking of ~80 ESM chunks per start. Dynamic
// imports stay lazy (esbuild wraps those modules in init functions), so a command evaluates only
// the code it reaches.
export function cliBundleOptions({ outdir, buildId, minify = true }) {
  return {
    entryPoints: { cli: "src/cli/main.ts" },
    outdir,
    outExtension: { ".js": ".cjs" },
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    charset: "ascii", // bin/load-cli.js reads it as latin1, the fastest decode
    external: ["esbuild", "@parcel/watcher"],
    // import.meta does not exist in CommonJS: the bundle's own URL stands in (dist/cli.cjs).
    define: { __TUG_BUILD__: JSON.stringify(buildId), "import.meta.url": "__tugModuleUrl" },
    banner: { js: "var __tugModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
    sourcemap: "linked",
    minifyWhitespace: minify,
    minifySyntax: minify,
    logLevel: "warning",
  };
}
