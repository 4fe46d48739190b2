import { promises as fs, unlinkSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import type { CliContext, CliStream } from "../cli/context.ts";
import { TugError } from "../errors.ts";
import {
  FRAME,
  frame,
  frameReader,
  MAX_REQUEST_BYTES,
  parseRequest,
  type ServerRequest,
} from "./protocol.ts";
import { ensureSocketDir } from "./socket-path.ts";

// Set by scripts/build.mjs (also written to dist/build-id for the client); "source" under tsx.
declare const __TUG_BUILD__: string | undefined;
export const BUILD_ID = typeof __TUG_BUILD__ === "string" ? __TUG_BUILD__ : "source";

/** Requests waiting beyond this are refused as busy: the client then builds by itself. */
const MAX_QUEUED = 16;

export interface ServeOptions {
  /** The socket (from socketPath). */
  path: string;
  /** Runs one command line (the CLI's own runCli). */
  run(ctx: CliContext): Promise<number>;
  log?: (line: string) => void;
}

export interface RunningServer {
  path: string;
  served(): number;
  close(): Promise<void>;
}

/**
 * Listens on `path` and runs each request as a fresh `tug` would, one at a time: the client's
 * argv, working directory and whole environment (builders pass it on to user commands, go and
 * python; credentials are found through it), its TTY flags, its streams. Memory that outlives a
 * request is only what is keyed by content or stamps (parsed projects, ignore rules, wheel
 * tables), so a served build gives the digests and exit code a fresh process would.
 */
export async function serveProject(o: ServeOptions): Promise<RunningServer> {
  await ensureSocketDir(dirname(o.path));
  await removeStale(o.path);
  let served = 0;
  let queue: Promise<void> = Promise.resolve();
  let queued = 0;
  const log = o.log ?? (() => {});

  const server = createServer((conn) => {
    conn.on("error", () => {}); // a client that went away: its output has nowhere to go
    const read = frameReader(MAX_REQUEST_BYTES, (type, body) => {
      conn.removeAllListeners("data");
      const req = type === FRAME.request ? parseRequest(body) : "malformed request";
      if (typeof req === "string") return refuse(conn, req);
      if (req.status) {
        conn.write(frame(FRAME.stdout, `${JSON.stringify({ pid: process.pid, build: BUILD_ID, served })}\n`));
        return void conn.end(frame(FRAME.exit, JSON.stringify({ code: 0 })));
      }
      if (req.build !== BUILD_ID) return refuse(conn, `incompatible: server runs build ${BUILD_ID}`);
      if (queued >= MAX_QUEUED) return refuse(conn, "busy");
      queued++;
      queue = queue.then(async () => {
        try {
          if (conn.destroyed) return;
          const started = performance.now();
          const code = await runRequest(req, conn, o.run);
          if (code === undefined) return;
          served++;
          conn.end(frame(FRAME.exit, JSON.stringify({ code })));
          log(`${req.argv.join(" ")} → ${code} in ${Math.round(performance.now() - started)} ms`);
        } finally {
          queued--;
        }
      });
    });
    conn.on("data", (chunk: Buffer) => {
      try {
        read(chunk);
      } catch {
        refuse(conn, "request too large");
      }
    });
  });
  await listen(server, o.path);
  await fs.chmod(o.path, 0o600);
  // A server killed by a signal we handle, or exiting normally, takes its socket with it.
  const unlinkOnExit = () => {
    try {
      unlinkSync(o.path);
    } catch {}
  };
  process.once("exit", unlinkOnExit);
  return {
    path: o.path,
    served: () => served,
    close: async () => {
      process.off("exit", unlinkOnExit);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fs.unlink(o.path).catch(() => {});
    },
  };
}

function refuse(conn: Socket, reason: string): void {
  conn.end(frame(FRAME.refuse, reason));
}

/** A socket file with no listener (a killed server's) is replaced; a live server is not. */
async function removeStale(path: string): Promise<void> {
  const st = await fs.lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) {
    throw new TugError({
      what: `${path} exists and is not a socket`,
      where: path,
      hint: "remove it; tug server puts its socket there",
    });
  }
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
  if (live) {
    throw new TugError({
      what: "a tug server already runs for this project",
      where: path,
      hint: "stop it first (its pid: tug server --status)",
    });
  }
  await fs.unlink(path);
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** A CliStream that sends frames of one type, with the client's TTY flags. */
function frameStream(conn: Socket, type: number, info: ServerRequest["stdout"]): CliStream {
  return {
    isTTY: info.tty,
    columns: info.columns,
    write(text: string): boolean {
      if (!conn.destroyed && text.length > 0) conn.write(frame(type, text));
      return true;
    },
  };
}

type Write = typeof process.stdout.write;

/**
 * Runs the request with the process's environment and working directory swapped for the
 * client's (restored after; requests run one at a time, so nothing else sees them), and with
 * stray writes to process.stdout/stderr (a library's warning) sent to the client too.
 * Undefined when the request could not start (its directory is gone): the client is told.
 */
async function runRequest(
  req: ServerRequest,
  conn: Socket,
  run: (ctx: CliContext) => Promise<number>,
): Promise<number | undefined> {
  const savedCwd = process.cwd();
  try {
    process.chdir(req.cwd);
  } catch {
    refuse(conn, "cannot enter the working directory");
    return undefined;
  }
  const savedEnv = { ...process.env };
  replaceEnv(req.env);
  const stdout = frameStream(conn, FRAME.stdout, req.stdout);
  const stderr = frameStream(conn, FRAME.stderr, req.stderr);
  const savedOut = process.stdout.write;
  const savedErr = process.stderr.write;
  const redirect = (s: CliStream): Write =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      s.write(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString());
      const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      cb?.();
      return true;
    }) as Write;
  process.stdout.write = redirect(stdout);
  process.stderr.write = redirect(stderr);
  try {
    return await run({ argv: req.argv, cwd: req.cwd, env: process.env, stdout, stderr });
  } finally {
    process.stdout.write = savedOut;
    process.stderr.write = savedErr;
    replaceEnv(savedEnv);
    process.chdir(savedCwd);
  }
}

function replaceEnv(env: NodeJS.ProcessEnv): void {
  for (const k of Object.keys(process.env)) if (!(k in env)) delete process.env[k];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) process.env[k] = v;
}
