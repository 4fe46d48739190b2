// buildah with a private store (overlay on the bench's temp dir, chroot isolation), so the
// comparison neither touches nor benefits from the machine's own container storage.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { type RunResult, timed } from "./measure.ts";

export interface Buildah {
  /** `--root … --runroot … --storage-driver overlay`, for running buildah under another tool. */
  globalFlags: string[];
  /** Runs `buildah GLOBAL-FLAGS args`, timed. */
  run(args: string[], opts?: { cwd?: string }): RunResult;
  /** Removes every container and image of the private store (its files are removed with the temp dir). */
  reset(): void;
}

export function buildahStore(dir: string): Buildah {
  const global = [
    "--root",
    join(dir, "root"),
    "--runroot",
    join(dir, "runroot"),
    "--storage-driver",
    "overlay",
  ];
  return {
    globalFlags: global,
    run: (args, opts = {}) => timed("buildah", [...global, ...args], { cwd: opts.cwd }),
    reset() {
      spawnSync("buildah", [...global, "rm", "--all"], { stdio: "ignore" });
      spawnSync("buildah", [...global, "rmi", "--all", "--force"], { stdio: "ignore" });
    },
  };
}

export const BUILDAH_BUD = ["bud", "--layers", "--isolation", "chroot", "--quiet"];

/**
 * `buildah bud` as every bench runs it: chroot isolation, quiet, the base already in the store
 * (`--pull=false`), a plain-HTTP registry; `--layers` unless `cache: false` (then `--no-cache`).
 */
export function budArgs(o: {
  tag: string;
  context: string;
  file?: string;
  cache?: boolean;
  extra?: string[];
}): string[] {
  return [
    "bud",
    o.cache === false ? "--no-cache" : "--layers",
    "--isolation",
    "chroot",
    "--quiet",
    "--pull=false",
    "--tls-verify=false",
    ...(o.extra ?? []),
    ...(o.file ? ["-f", o.file] : []),
    "-t",
    o.tag,
    o.context,
  ];
}

/** `buildah push` of a local tag to `dest` (a docker:// reference) over plain HTTP. */
export function pushArgs(tag: string, dest: string): string[] {
  return ["push", "--quiet", "--tls-verify=false", tag, dest];
}
