import { spawn } from "node:child_process";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ExitStatus } from "./runtime.ts";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Bytes for the command's stdin; it gets /dev/null otherwise. */
  stdin?: Readable | Uint8Array | string;
  timeoutMs?: number;
}

/** A long-running command whose output is read line by line (e.g. `logs -f`). */
export interface Follower {
  /** Kills the command (by its pid); safe to call twice. */
  stop(): void;
  /** Settles when the command has exited, with its status. */
  readonly done: Promise<ExitStatus>;
}

/** A long-running command talked to through its stdin and stdout (e.g. `exec -i … agent`). */
export interface Channel {
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** The end of what it wrote on stderr (the last 4 KiB), for error messages. */
  stderr(): string;
  /** Kills the command (by its pid); safe to call twice. */
  kill(): void;
  /** Settles when the command has exited (or could not start), with its status. */
  readonly done: Promise<ExitStatus>;
}

/**
 * How the container and Kubernetes runtimes run their CLIs. Injectable, so command
 * construction is testable without the tool (there is no Kubernetes API server here).
 */
export interface CommandRunner {
  /** Runs to completion; a non-zero exit is a result, not an error. A missing binary rejects. */
  run(cmd: string, args: string[], opts?: RunOptions): Promise<CommandResult>;
  follow(cmd: string, args: string[], onLine: (line: string, stream: "stdout" | "stderr") => void): Follower;
  /** Starts a command with piped stdin/stdout. Optional: runtimes do without when it is absent. */
  open?(cmd: string, args: string[]): Channel;
}

/** Runs commands as child processes without a shell. */
export function processRunner(env: NodeJS.ProcessEnv = process.env): CommandRunner {
  return {
    run(cmd, args, opts = {}) {
      return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, {
          env,
          stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
        });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout?.on("data", (c: Buffer) => out.push(c));
        child.stderr?.on("data", (c: Buffer) => err.push(c));
        let feedError: unknown;
        if (opts.stdin !== undefined && child.stdin) {
          const src = opts.stdin instanceof Readable ? opts.stdin : Readable.from([Buffer.from(opts.stdin)]);
          // The command may exit before reading everything (EPIPE); its exit status tells why.
          pipeline(src, child.stdin).catch((e: unknown) => {
            feedError = e;
          });
        }
        const timer =
          opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
        child.on("error", (e) => {
          clearTimeout(timer);
          reject(e);
        });
        child.on("close", (code, signal) => {
          clearTimeout(timer);
          // A failed stdin producer (say, an unreadable sync source) fails the run even when the
          // command exited 0: it may have seen a clean end of input that was no such thing.
          if (isProducerError(feedError)) return reject(feedError);
          resolve({
            code: code ?? 128 + (signal === "SIGKILL" ? 9 : 15),
            stdout: Buffer.concat(out).toString("utf8"),
            stderr: Buffer.concat(err).toString("utf8"),
          });
        });
      });
    },

    follow(cmd, args, onLine) {
      const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
      for (const stream of ["stdout", "stderr"] as const) {
        let rest = "";
        const emit = (l: string) => onLine(l.endsWith("\r") ? l.slice(0, -1) : l, stream);
        child[stream].on("data", (chunk: Buffer) => {
          rest += chunk.toString("utf8");
          const parts = rest.split("\n");
          rest = parts.pop() ?? "";
          for (const l of parts) emit(l);
        });
        child[stream].on("end", () => {
          if (rest !== "") emit(rest);
          rest = "";
        });
      }
      const done = new Promise<ExitStatus>((resolve) => {
        child.on("error", () => resolve({ code: null, signal: null }));
        child.on("close", (code, signal) => resolve({ code, signal }));
      });
      let stopped = false;
      return {
        done,
        stop() {
          if (stopped || child.exitCode !== null || child.signalCode !== null) return;
          stopped = true;
          child.kill("SIGTERM");
        },
      };
    },

    open(cmd, args) {
      const child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => {
        stderr = (stderr + c.toString("utf8")).slice(-4096);
      });
      // Writes after the command has gone fail with EPIPE; `done` tells the user of the channel.
      child.stdin.on("error", () => {});
      const done = new Promise<ExitStatus>((resolve) => {
        child.on("error", (e) => {
          stderr += String(e);
          resolve({ code: null, signal: null });
        });
        child.on("close", (code, signal) => resolve({ code, signal }));
      });
      return {
        stdin: child.stdin,
        stdout: child.stdout,
        stderr: () => stderr,
        done,
        kill() {
          if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
          child.kill("SIGKILL");
        },
      };
    },
  };
}

/** An error from a stdin source, as opposed to the command closing its stdin early. */
function isProducerError(e: unknown): e is Error {
  if (!(e instanceof Error)) return false;
  const code = (e as NodeJS.ErrnoException).code;
  return code !== "EPIPE" && code !== "ERR_STREAM_PREMATURE_CLOSE" && code !== "ECONNRESET";
}
