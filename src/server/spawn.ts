import { spawn } from "node:child_process";

/**
 * `tug server DIR` as a child of this process (`tug dev`): a separate process, so requests
 * never swap the environment or directory under the dev loop. The IPC channel closes when the
 * parent dies however it dies, and the child then exits and removes its socket. A server
 * already running for the project makes the child exit quietly. TUG_NO_SERVER=1: none.
 */
export function startProjectServer(dir: string): { stop(): Promise<void> } {
  const entry = process.argv[1];
  if (!entry || process.env.TUG_NO_SERVER === "1") return { stop: async () => {} };
  const child = spawn(process.execPath, [...process.execArgv, entry, "server", "--quiet", dir], {
    stdio: ["ignore", "ignore", "ignore", "ipc"],
    env: process.env,
  });
  child.on("error", () => {});
  child.unref();
  child.channel?.unref();
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        // A server finishing a request first gets 5 s; dev's exit is not held hostage longer.
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}
