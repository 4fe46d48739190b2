import type { CommandTarget } from "../config/types.ts";
import type { FileChange } from "../dev/runtime.ts";
import { globToRegExp } from "../engine/glob.ts";
import { scanTree } from "../engine/source-tree.ts";
import type { BuilderDev } from "./builder.ts";
import { runCommand } from "./command.ts";

/** command under `tug dev`: a change reruns the command and syncs what its output gained or lost. */
export const commandDev: BuilderDev<CommandTarget> = {
  ignoresChange(target, path) {
    const rel = target.output.startsWith(target.context)
      ? target.output.slice(target.context.length + 1)
      : undefined;
    return rel !== undefined && globToRegExp(rel).test(path);
  },
  async artifact({ target, platform }) {
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
  },
};
