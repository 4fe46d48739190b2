// Runs the tug CLI from source (through tsx), so e2e tests never exercise a stale dist/.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const BIN = fileURLToPath(new URL("../../bin/tug.js", import.meta.url));
// Absolute, so a child started in a temp directory (outside this package) still finds tsx.
const TSX = import.meta.resolve("tsx");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to the child's stdin (closed after it); stdin is empty otherwise. */
  input?: string;
  /** Called with the child right after spawn (e.g. to kill it mid-build). */
  onSpawn?: (child: ChildProcess) => void;
}

/** Spawns `tug ARGS` and collects its output; never throws on a non-zero exit. */
export function runTug(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return runNode(["--import", TSX, MAIN, ...args], opts);
}

/**
 * `tug ARGS` through bin/tug.js, as installed: the `tug server` client, then dist/ (build it
 * first with buildDist).
 */
export function runTugBin(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return runNode([BIN, ...args], opts);
}

/** `node scripts/build.mjs`: dist/ from the current sources, for tests of bin/tug.js. */
export async function buildDist(): Promise<void> {
  const r = await runNode([join(ROOT, "scripts", "build.mjs")], { cwd: ROOT });
  if (r.code !== 0) throw new Error(`scripts/build.mjs exited ${r.code}:\n${r.stderr}`);
}

function runNode(nodeArgs: string[], opts: CliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, {
      cwd: opts.cwd ?? ROOT,
      // Colour only where a test asks for it (a test runner on a terminal may set FORCE_COLOR).
      env: { ...process.env, FORCE_COLOR: undefined, ...opts.env },
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    child.stdin?.end(opts.input);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr?.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    opts.onSpawn?.(child);
  });
}

/** `tug ... --json` parsed; fails with the CLI's stderr when it did not succeed. */
export async function runTugJson<T>(args: string[], opts: CliOptions = {}): Promise<T> {
  const r = await runTug([...args, "--json"], opts);
  if (r.code !== 0) throw new Error(`tug ${args.join(" ")} exited ${r.code}:\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export const REPO_ROOT = ROOT;

/** The command line `runTug` starts (node, tsx, the CLI's source), for tests that spawn it another way. */
export function tugArgv(args: string[]): string[] {
  return [process.execPath, "--import", TSX, MAIN, ...args];
}

export interface TugServer {
  child: ChildProcess;
  /** The socket it listens on (from its first line). */
  socket: string;
}

/** Starts `tug server` (bin/tug.js over dist/) in `cwd` and resolves once it listens. */
export function startTugServer(opts: CliOptions & { cwd: string }): Promise<TugServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "server"], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
      const m = /listening on (\S+)/.exec(stderr);
      if (m) resolve({ child, socket: m[1]! });
    });
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`tug server exited ${code}:\n${stderr}`)));
  });
}
