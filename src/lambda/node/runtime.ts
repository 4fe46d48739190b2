import type { NodeRuntime } from "../../config/types.ts";
import { TugError } from "../../errors.ts";

// https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html: the Node.js runtimes tug
// packages for (nodejs16.x and older are deprecated and can no longer be created).
const MAJORS: ReadonlyMap<string, number> = new Map([
  ["nodejs18.x", 18],
  ["nodejs20.x", 20],
  ["nodejs22.x", 22],
]);

export const NODE_RUNTIMES: readonly string[] = [...MAJORS.keys()];

/** The target for a Lambda runtime name such as `nodejs20.x` on `arch`. */
export function parseNodeRuntime(name: string, arch: "x86_64" | "arm64", where?: string): NodeRuntime {
  const major = MAJORS.get(name);
  if (major === undefined) {
    throw new TugError({
      what: `unknown Node.js Lambda runtime "${name}"`,
      where,
      hint: `use one of ${NODE_RUNTIMES.join(", ")}`,
    });
  }
  return { runtime: name, major, arch };
}

/** npm's name for a Lambda architecture (`--cpu=`, `process.arch`). */
export function npmCpu(arch: "x86_64" | "arm64"): "x64" | "arm64" {
  return arch === "x86_64" ? "x64" : "arm64";
}
