import { DEFAULT_IGNORE } from "../engine/ignore-rules.ts";
import { scanTree } from "../engine/source-tree.ts";
import { type Builder, entriesUnder } from "./builder.ts";

/** `files`: the context directory, as it is, at `dest`. */
export const filesBuilder: Builder = {
  async plan({ engine, target }) {
    if (target.builder !== "files") throw new Error("files builder given another target");
    const tree = await scanTree(target.context, {
      skipDirs: engine.outputDirs,
      statCache: engine.statCache,
      where: target.where,
      ignoreFiles: target.ignore ?? DEFAULT_IGNORE,
    });
    return {
      config: {},
      layers: [
        {
          target: target.name,
          step: "files",
          kind: "files-layer",
          version: 1,
          params: { dest: target.dest },
          trees: { context: tree.files },
          produce: async () => ({ entries: entriesUnder(target.dest, tree.files) }),
        },
      ],
    };
  },
};
