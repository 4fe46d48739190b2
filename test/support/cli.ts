// Runs the tug CLI from source (through tsx), so e2e tests never exercise a stale dist/.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
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
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", TSX, MAIN, ...args], {
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
