// Loads dist/cli.cjs (one file: no module resolution per chunk) through V8's code cache, kept in
// tug's cache directory. Node 20 has no compile cache of its own (module.enableCompileCache is
// 22.1+), and compiling tug's code was a third of a one-shot build's CPU. Any problem with the
// cache (missing, another build or Node, damaged) only means compiling as without it.
const { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } = require("node:fs");
const { createRequire } = require("node:module");
const { homedir } = require("node:os");
const { join } = require("node:path");
const { Script } = require("node:vm");
const { crc32 } = require("node:zlib");

const DIST = join(__dirname, "..", "dist");
const FILE = join(DIST, "cli.cjs");

/** $TUG_CACHE, else $XDG_CACHE_HOME/tug, else ~/.cache/tug (as src/engine/cache-store.ts). */
function cacheRoot(env) {
  if (env.TUG_CACHE) return env.TUG_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "tug");
}

/**
 * One cache per command: a `build` compiles other functions than `--version`, and V8's cache holds
 * what the run that wrote it compiled. The name never carries argv text beyond a short word.
 */
function cacheName(build, args) {
  const word = args.find((a) => !a.startsWith("-")) ?? "";
  const command = /^[a-z]{1,16}$/.test(word) ? word : "other";
  return `cli-${build}-${process.version}-${process.arch}-${command}.v8`;
}

/** The cached data when its CRC-32 header matches (a torn or damaged file is not handed to V8). */
function readCache(path) {
  let bytes;
  try {
    bytes = readFileSync(path);
  } catch {
    return undefined;
  }
  if (bytes.length < 8 || bytes.readUInt32BE(0) !== crc32(bytes.subarray(4))) return undefined;
  return bytes.subarray(4);
}

/** Written whole under a temp name, then renamed: a concurrent reader sees the old file or the new. */
function writeCache(dir, name, data) {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const head = Buffer.alloc(4);
    head.writeUInt32BE(crc32(data), 0);
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    writeFileSync(tmp, Buffer.concat([head, data]), { mode: 0o600 });
    renameSync(tmp, join(dir, name));
    // Caches of earlier builds of tug or another Node are never read again.
    const keep = name.split("-").slice(0, 2).join("-");
    for (const f of readdirSync(dir))
      if (f.startsWith("cli-") && !f.startsWith(`${keep}-`)) unlinkSync(join(dir, f));
  } catch {
    // Best effort: a read-only or full cache directory costs the next start a compile, no more.
  }
}

/** Runs the CLI bundle with `args` (process.argv after the script). */
function loadCli(args, build) {
  const source = readFileSync(FILE, "latin1"); // esbuild writes ASCII (charset: ascii)
  const dir = join(cacheRoot(process.env), "v8");
  const name = /^[0-9a-f]{16}$/.test(build ?? "") ? cacheName(build, args) : undefined;
  const cachedData = name ? readCache(join(dir, name)) : undefined;
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  // No importModuleDynamically: scripts/build.mjs refuses a bundle with an import() left in it.
  const script = new Script(wrapper, { filename: FILE, cachedData });
  if (name && (!cachedData || script.cachedDataRejected)) {
    // After the run: the cache then also holds the functions it compiled lazily. Only a run that
    // succeeded writes it, so a first run that stopped at a usage error does not set a poor cache.
    process.once("exit", (code) => {
      if (code === 0) writeCache(dir, name, script.createCachedData());
    });
  }
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, createRequire(FILE), mod, FILE, DIST);
}

module.exports = { loadCli };
