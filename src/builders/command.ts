import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import { relative, sep } from "node:path";
import type { CommandTarget } from "../config/types.ts";
import { matchesAny } from "../engine/glob.ts";
import { COMMAND_IGNORE } from "../engine/ignore-rules.ts";
import { scanTree } from "../engine/source-tree.ts";
import { TugError } from "../errors.ts";
import { type Builder, entriesUnder } from "./builder.ts";

/**
 * `command`: run the user's command in the context and take its declared output directory as
 * a layer at `dest`. The key covers the context (minus the output) and the command line, so
 * the command only runs when something it could read changed.
 */
export const commandBuilder: Builder<CommandTarget> = {
  excludes(target, rel) {
    const out = relative(target.context, target.output).split(sep).join("/");
    if (rel === out || rel.startsWith(`${out}/`)) return "excluded: it is in the command's output directory";
    const inputs = target.inputs.filter((p) => p !== "." && p !== "./");
    if (inputs.length > 0 && !matchesAny(rel, inputs))
      return `not an input: outside inputs: ${inputs.join(", ")}`;
    return undefined;
  },
  defaultIgnore: COMMAND_IGNORE,
  async plan({ engine, target, platform }) {
    if (target.builder !== "command") throw new Error("command builder given another target");
    const outAbs = target.output;
    const outRel = relative(target.context, outAbs).split("\\").join("/");
    // "." would make the command's output the context itself (and clearing it would delete it).
    if (outRel === "" || outRel === "." || outRel === ".." || outRel.startsWith("../")) {
      throw new TugError({
        what: `output ${target.output} is not a directory inside the context`,
        where: target.where,
        hint: "declare a subdirectory of `context:` as output, e.g. output: dist",
      });
    }
    const tree = await scanTree(target.context, {
      skipDirs: engine.outputDirs,
      statCache: engine.statCache,
      where: target.where,
      ignore: (p) => p === outRel || p.startsWith(`${outRel}/`),
      ignoreFiles: target.ignore ?? COMMAND_IGNORE,
    });
    const argv = target.run;
    // Only the declared inputs key the action (default ".": the whole context, minus the output).
    const inputs = target.inputs.filter((p) => p !== "." && p !== "./");
    const files = inputs.length === 0 ? tree.files : tree.files.filter((f) => matchesAny(f.path, inputs));
    const runAndCollect = async () => {
      await fs.rm(outAbs, { recursive: true, force: true });
      await runCommand(
        argv,
        target.context,
        { TUG_OS: platform.os, TUG_ARCH: platform.architecture, TUG_OUT: outAbs },
        target.where,
      );
      const out = await scanTree(outAbs).catch(() => {
        throw new TugError({
          what: `the command for ${target.name} did not create its output directory ${target.output}`,
          where: target.where,
          hint: `make the command write its files into ${target.output} (also given as $TUG_OUT)`,
        });
      });
      return { entries: entriesUnder(target.dest, out.files) };
    };
    return {
      config: {},
      layers: [
        {
          target: target.name,
          step: `command ${platform.os}/${platform.architecture}`,
          kind: "command-output",
          inputsStable: false,
          version: 1,
          params: {
            run: argv,
            output: outRel,
            dest: target.dest,
            os: platform.os,
            arch: platform.architecture,
          },
          trees: { context: files },
          produce: async () => {
            // Every platform's command writes the same output directory: one at a time, held
            // until the layer has been read from it (`cleanup` runs after the tar is written).
            const release = await lockOutput(outAbs);
            try {
              return { ...(await runAndCollect()), cleanup: async () => release() };
            } catch (e) {
              release();
              throw e;
            }
          },
        },
      ],
    };
  },
};

const outputLocks = new Map<string, Promise<void>>();

/** Waits for the previous holder of `dir`, then holds it until the returned release is called. */
async function lockOutput(dir: string): Promise<() => void> {
  const previous = outputLocks.get(dir) ?? Promise.resolve();
  let release!: () => void;
  const held = new Promise<void>((r) => {
    release = r;
  });
  const tail = previous.then(() => held);
  outputLocks.set(dir, tail);
  await previous;
  return () => {
    release();
    if (outputLocks.get(dir) === tail) outputLocks.delete(dir);
  };
}

/** Runs the target's command; a failure is one TugError with the tail of its output. */
export function runCommand(
  argv: string[],
  cwd: string,
  extraEnv: Record<string, string>,
  where: string,
): Promise<void> {
  return new Promise((res, rej) => {
    const [cmd, ...args] = argv;
    if (!cmd) return rej(new TugError({ what: "empty `run:` command", where }));
    const child = spawn(cmd, args, {
      cwd,
      env: { ...process.env, ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const tail: Buffer[] = [];
    const keep = (b: Buffer) => {
      tail.push(b);
      while (tail.length > 64) tail.shift();
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", (e) =>
      rej(new TugError({ what: `cannot run ${cmd}: ${e.message}`, where, hint: "check `run:` in tug.yaml" })),
    );
    child.on("close", (code, signal) =>
      code === 0
        ? res()
        : rej(
            new TugError({
              what: `command ${JSON.stringify(argv.join(" "))} failed (${signal ?? `exit ${code}`})`,
              where,
              hint: Buffer.concat(tail).toString("utf8").trim().slice(-2000) || "it printed nothing",
            }),
          ),
    );
  });
}
