import { promises as fs } from "node:fs";
import { join } from "node:path";
import type { BuildContext } from "esbuild";
import { runCommand } from "../builders/command.ts";
import { goBuild } from "../builders/go.ts";
import { bundleOptions, bundleOutput, esbuildError } from "../builders/node.ts";
import { toolIdentity } from "../builders/tool-identity.ts";
import type { CommandTarget, GoTarget, ImageTarget, NodeTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { scanTree } from "../engine/source-tree.ts";
import { bundleOutputFor } from "../node/entry-module.ts";
import type { Platform } from "../oci/types.ts";
import type { FileChange } from "./runtime.ts";

/**
 * The dev loop's "rebuild locally with the warm cache and swap the artifact": an esbuild
 * incremental context for node, `go build` with the persistent GOCACHE for go, a rerun for
 * command. `rebuild()` returns the files to put into the running thing.
 */
export interface DevArtifact {
  rebuild(): Promise<FileChange[]>;
  dispose(): Promise<void>;
}

export async function devArtifact(
  engine: Engine,
  target: ImageTarget,
  platform: Platform,
  externals: string[],
): Promise<DevArtifact | undefined> {
  // Unbundled sources reach the running thing by the planner's syncs.
  if (target.builder === "node") return target.bundle ? nodeArtifact(target, externals) : undefined;
  if (target.builder === "go") return goArtifact(engine, target, platform);
  if (target.builder === "command") return commandArtifact(target, platform);
  return undefined;
}

async function nodeArtifact(target: NodeTarget, externals: string[]): Promise<DevArtifact> {
  const { context } = await import("esbuild");
  const output = await bundleOutputFor(target.context, target.entry);
  let ctx: BuildContext<ReturnType<typeof bundleOptions>> | undefined;
  return {
    async rebuild() {
      try {
        ctx ??= await context(bundleOptions(target, externals, output));
        const result = await ctx.rebuild();
        return [{ path: `/app/${output.path}`, kind: "write", data: bundleOutput(result), mode: 0o644 }];
      } catch (e) {
        throw esbuildError(e, target);
      }
    },
    async dispose() {
      await ctx?.dispose();
    },
  };
}

async function goArtifact(engine: Engine, target: GoTarget, platform: Platform): Promise<DevArtifact> {
  const go = await toolIdentity(engine, "go", ["version"], "install Go or put it on PATH");
  const dir = await engine.store.tempPath("go-dev");
  await fs.mkdir(dir, { recursive: true });
  const out = join(dir, target.binary);
  return {
    async rebuild() {
      await goBuild({ go: go.path, target, platform, out, cacheRoot: engine.store.root });
      return [{ path: `/app/${target.binary}`, kind: "write", source: out, mode: 0o755 }];
    },
    dispose: () => fs.rm(dir, { recursive: true, force: true }),
  };
}

async function commandArtifact(target: CommandTarget, platform: Platform): Promise<DevArtifact> {
  let previous = new Set<string>();
  const dest = target.dest.replace(/\/+$/, "");
  return {
    async rebuild() {
      await runCommand(
        target.run,
        target.context,
        { TUG_OS: platform.os, TUG_ARCH: platform.architecture, TUG_OUT: target.output },
        target.where,
      );
      const tree = await scanTree(target.output);
      const changes: FileChange[] = tree.files
        .filter((f) => f.type === "file")
        .map((f) => ({ path: `${dest}/${f.path}`, kind: "write", source: f.abs }));
      const now = new Set(changes.map((c) => c.path));
      for (const p of previous) if (!now.has(p)) changes.push({ path: p, kind: "delete" });
      previous = now;
      return changes;
    },
    dispose: async () => {},
  };
}
