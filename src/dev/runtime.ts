import type { DevRuntimeName } from "../config/types.ts";

/** One file to put into (or remove from) the running thing, by its absolute path in the image. */
export interface FileChange {
  path: string;
  kind: "write" | "delete";
  /** Host file to copy (write only); its executable bit is kept. */
  source?: string;
  /** Inline content instead of `source`. */
  data?: Uint8Array;
  /** Permission bits; default: 0755 when `source` is executable, else 0644. */
  mode?: number;
}

/** What to run: the image config's command and environment, plus where its bytes are. */
export interface RunSpec {
  target: string;
  /** Entrypoint + cmd of the image config. */
  argv: string[];
  env: Record<string, string>;
  workdir?: string;
  /** Port the process listens on (published on 127.0.0.1 by container runtimes). */
  port?: number;
  /** Image runtimes: the dev image in an OCI layout (with tug's supervisor at /tug/supervisor). */
  image?: { layout: string; name: string; digest: string };
  /** Local runtime: a host directory mirroring the image paths tug controls (/app → STAGING/app). */
  staging?: string;
  onLog(line: string, stream: "stdout" | "stderr"): void;
}

export interface ExitStatus {
  code: number | null;
  signal: string | null;
}

/**
 * Where `tug dev` runs a target. One instance per target; calls are never concurrent for one
 * instance (the session serialises updates).
 */
export interface Runtime {
  readonly kind: DevRuntimeName;
  /** Starts the process/container; resolves once it is started, not once it is ready. */
  start(spec: RunSpec): Promise<void>;
  /** Applies a batch of file changes in one operation (one exec, not one per file). */
  sync(changes: FileChange[]): Promise<void>;
  /** Runs a shell command where the target runs (its workdir), for `run:` steps. */
  exec(command: string): Promise<{ code: number; output: string }>;
  /** Restarts the process without recreating its container. */
  restart(): Promise<void>;
  /** Stops everything it started; idempotent. */
  stop(): Promise<void>;
  /** Process id or container id of what runs now. */
  id(): string | undefined;
  /**
   * Whether the port answering on 127.0.0.1 is ours: the process (or a descendant) listens on
   * it, or the container runs and publishes it. Another program on the port is not readiness.
   */
  owns(port: number): Promise<boolean>;
  /** Resolves when the current process exits (a crash, or after stop/restart). */
  exited(): Promise<ExitStatus>;
}
