import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { TugError } from "../errors.ts";
import { treeListensOn } from "./port-owner.ts";
import type { ExitStatus, FileChange, RunSpec, Runtime } from "./runtime.ts";

/**
 * `local`: the target's entrypoint as a host process, run from a staging directory that mirrors
 * the image paths tug controls (`/app/index.mjs` → `STAGING/app/index.mjs`). Arguments and the
 * working directory that name such paths are mapped into the staging directory; anything else
 * (`node`, `/bin/sh`) comes from the host. Each process gets its own process group so a restart
 * or Ctrl-C also ends whatever it spawned.
 */
export function localRuntime(): Runtime {
  let spec: RunSpec | undefined;
  let child: ChildProcess | undefined;
  let exit: Promise<ExitStatus> = Promise.resolve({ code: null, signal: null });

  const launch = async () => {
    if (!spec?.staging) throw new Error("local runtime needs a staging directory");
    const staging = spec.staging;
    const argv = await Promise.all(spec.argv.map((a) => mapPath(staging, a)));
    const cwd = spec.workdir ? await mapPath(staging, spec.workdir) : staging;
    const [cmd, ...args] = argv;
    if (!cmd) throw new TugError({ what: `${spec.target} has no entrypoint or cmd to run` });
    const proc = spawn(cmd, args, {
      cwd: (await isDir(cwd)) ? cwd : staging,
      env: { ...process.env, ...spec.env, PATH: process.env.PATH ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    child = proc;
    const s = spec;
    const streams = (["stdout", "stderr"] as const).map((name) => {
      const rl = createInterface({ input: proc[name]! });
      rl.on("line", (l) => s.onLog(l, name));
      return new Promise<void>((r) => rl.once("close", r));
    });
    exit = new Promise((resolve) => {
      proc.once("error", (e) => {
        s.onLog(`cannot start ${cmd}: ${e.message}`, "stderr");
        resolve({ code: 127, signal: null });
      });
      // Its last lines (the error a crash report shows) are read before the exit is told; a
      // grandchild holding the pipes open does not delay it by more than a moment.
      proc.once("exit", (code, signal) => {
        let timer: NodeJS.Timeout | undefined;
        const flushed = new Promise((r) => (timer = setTimeout(r, 300)));
        void Promise.race([Promise.all(streams), flushed]).then(() => {
          clearTimeout(timer);
          resolve({ code, signal });
        });
      });
    });
  };

  const kill = async () => {
    const proc = child;
    if (!proc?.pid || proc.exitCode !== null || proc.signalCode !== null) return;
    const done = exit;
    signalGroup(proc.pid, "SIGTERM");
    const timer = setTimeout(() => signalGroup(proc.pid!, "SIGKILL"), 2000);
    await done;
    clearTimeout(timer);
    signalGroup(proc.pid, "SIGKILL"); // children that ignored TERM, so nothing outlives us
  };

  return {
    kind: "local",
    async start(s) {
      spec = s;
      await launch();
    },
    async sync(changes) {
      if (!spec?.staging) return;
      await applyChanges(spec.staging, changes);
    },
    async exec(command) {
      const cwd =
        spec?.staging && spec.workdir ? await mapPath(spec.staging, spec.workdir) : (spec?.staging ?? ".");
      return new Promise((resolve) => {
        const p = spawn("/bin/sh", ["-c", command], {
          cwd,
          env: { ...process.env, ...spec?.env },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        p.stdout.on("data", (b: Buffer) => {
          output += b;
        });
        p.stderr.on("data", (b: Buffer) => {
          output += b;
        });
        p.on("close", (code) => resolve({ code: code ?? 1, output }));
      });
    },
    async restart() {
      await kill();
      await launch();
    },
    async stop() {
      await kill();
    },
    id: () => (child?.pid ? String(child.pid) : undefined),
    owns: async (port) =>
      child?.pid !== undefined && child.exitCode === null ? treeListensOn(child.pid, port) : false,
    exited: () => exit,
  };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

async function isDir(p: string): Promise<boolean> {
  return fs.stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** An absolute in-image path that exists under staging is replaced by its staging path. */
async function mapPath(staging: string, arg: string): Promise<string> {
  if (!arg.startsWith("/")) return arg;
  const local = join(staging, arg);
  return fs.access(local).then(
    () => local,
    () => arg,
  );
}

/** Writes and deletes under `root` (in-image paths), each write renamed into place. */
export async function applyChanges(root: string, changes: FileChange[]): Promise<void> {
  for (const c of changes) {
    const dest = join(root, c.path);
    if (!dest.startsWith(root)) throw new Error(`sync path ${c.path} escapes the staging directory`);
    if (c.kind === "delete") {
      await fs.rm(dest, { recursive: true, force: true });
      continue;
    }
    await fs.mkdir(dirname(dest), { recursive: true });
    const tmp = `${dest}.tug-${randomBytes(4).toString("hex")}`;
    if (c.data) await fs.writeFile(tmp, c.data);
    else if (c.source) await fs.copyFile(c.source, tmp);
    const mode = c.mode ?? (c.source && ((await fs.stat(c.source)).mode & 0o111) !== 0 ? 0o755 : 0o644);
    await fs.chmod(tmp, mode);
    await fs.rename(tmp, dest);
  }
}
