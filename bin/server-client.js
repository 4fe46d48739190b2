// The client half of `tug server`, kept to node built-ins so asking costs a few milliseconds.
// Mirrors src/server/socket-path.ts and src/server/protocol.ts: change them together.
const { createHash } = require("node:crypto");
const { lstatSync, readFileSync, realpathSync, statSync } = require("node:fs");
const { dirname, isAbsolute, join, resolve } = require("node:path");

const FRAME = { request: 0x52, stdout: 1, stderr: 2, exit: 3, refuse: 4 };
const PROTOCOL_VERSION = 1;
// Options of build/invoke that take a value: their value is never the project directory.
const VALUED = new Set([
  "--repo",
  "--out",
  "--remote-cache",
  "--insecure-registry",
  "--sbom",
  "-j",
  "--jobs",
  "--event",
  "--timeout",
  "--architecture",
  "--from",
  "--glibc",
  "--index-url",
  "--filename",
  "--max-size",
  "--path",
  "--runtime",
  "--http-timeout",
]);

const PROJECT_FILES = ["tug.yaml", "tug.yml"];

function hasProjectFile(dir) {
  return PROJECT_FILES.some((name) => {
    try {
      return statSync(join(dir, name)).isFile();
    } catch {
      return false;
    }
  });
}

/** The nearest of `dir` and its parents holding tug.yaml, as src/config/find.ts looks; else `dir`. */
function projectDirUp(dir) {
  for (let at = resolve(dir); ; ) {
    if (hasProjectFile(at)) return at;
    const parent = dirname(at);
    if (parent === at) return resolve(dir);
    at = parent;
  }
}

/**
 * The project directory as the CLI finds it: -c/--config's directory, a lone directory argument,
 * or the nearest directory holding tug.yaml from the working directory up (the server is keyed
 * the same way, so `tug build` in a subdirectory reaches it).
 */
function projectDir(args) {
  const positional = [];
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    if (a === "-c" || a === "--config" || a === "--file") return dirname(resolve(args[i + 1] ?? "."));
    const eq = /^--(?:config|file)=(.*)$/.exec(a);
    if (eq) return dirname(resolve(eq[1]));
    if (VALUED.has(a)) i++;
    else if (!a.startsWith("-")) positional.push(a);
  }
  const only = positional[0];
  if (positional.length === 1 && (only.includes("/") || only === ".")) {
    try {
      if (statSync(only).isDirectory()) return resolve(only);
    } catch {}
  }
  return projectDirUp(process.cwd());
}

function socketPath(dir) {
  const runtime = process.env.XDG_RUNTIME_DIR;
  const base = runtime && isAbsolute(runtime) ? runtime : "/tmp";
  const name = createHash("sha256").update(realpathSync.native(dir)).digest("hex").slice(0, 32);
  return { dir: join(base, `tug-${process.getuid?.() ?? 0}`), name: `${name}.sock` };
}

function dirProblem(dir) {
  const st = lstatSync(dir);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory()) return "is not a directory";
  if (st.uid !== uid) return `is owned by uid ${st.uid}, not ${uid}`;
  if ((st.mode & 0o077) !== 0) return `has mode ${(st.mode & 0o777).toString(8)}, not 700`;
  return undefined;
}

function frame(type, text) {
  const body = Buffer.from(text);
  const head = Buffer.alloc(5);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/**
 * Runs `tug ARGS` on the project's server when one answers; resolves true when it did (the exit
 * code is then set), false when the caller must run the command itself: no server, a stale
 * socket, another build of tug, a busy server, TUG_NO_SERVER=1 or --no-server.
 */
async function runOnServer(argv) {
  const i = argv.indexOf("--no-server");
  if (i >= 0 || process.env.TUG_NO_SERVER === "1") return false;
  const args = argv.slice(argv.findIndex((a) => a === "build" || a === "invoke"));
  let sock;
  try {
    sock = socketPath(projectDir(args));
    statSync(join(sock.dir, sock.name));
  } catch {
    return false; // no server for this project: the common case, one failed stat
  }
  const problem = dirProblem(sock.dir);
  if (problem) {
    process.stderr.write(`tug: not using the server: ${sock.dir} ${problem}\n`);
    return false;
  }
  let build;
  try {
    build = readFileSync(join(__dirname, "..", "dist", "build-id"), "utf8").trim();
  } catch {
    return false;
  }
  const request = {
    v: PROTOCOL_VERSION,
    build,
    argv,
    cwd: process.cwd(),
    // The whole environment: builders hand it to user commands, go and python, and credentials
    // are found through it; a subset would make a served build differ from a local one.
    env: process.env,
    stdout: { tty: Boolean(process.stdout.isTTY), columns: process.stdout.columns },
    stderr: { tty: Boolean(process.stderr.isTTY), columns: process.stderr.columns },
  };
  // Loaded only when a socket exists: the common no-server case never pays for node:net.
  const { connect } = require("node:net");
  return new Promise((done) => {
    const s = connect(join(sock.dir, sock.name));
    let buf = Buffer.alloc(0);
    let wrote = false;
    let finished = false;
    const finish = (ok) => {
      if (finished) return;
      finished = true;
      s.destroy();
      done(ok);
    };
    s.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 5) {
        const len = buf.readUInt32BE(1);
        if (buf.length < 5 + len) return;
        const type = buf.readUInt8(0);
        const body = buf.subarray(5, 5 + len);
        buf = buf.subarray(5 + len);
        if (type === FRAME.stdout || type === FRAME.stderr) {
          wrote = true;
          (type === FRAME.stdout ? process.stdout : process.stderr).write(body);
        } else if (type === FRAME.exit) {
          process.exitCode = JSON.parse(body.toString()).code;
          return finish(true);
        } else return finish(false); // refused: busy, another build, a directory it cannot enter
      }
    });
    s.on("error", () => {
      if (!wrote) return finish(false); // a stale socket (no listener): run here
      process.stderr.write("tug: lost the connection to tug server\n");
      process.exitCode = 1;
      finish(true);
    });
    s.on("close", () => {
      if (finished) return;
      if (!wrote) return finish(false);
      process.stderr.write("tug: tug server stopped before the command finished\n");
      process.exitCode = 1;
      finish(true);
    });
    s.write(frame(FRAME.request, JSON.stringify(request)));
  });
}

module.exports = { runOnServer };
