import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { TugError } from "../errors.ts";
import { addConfigOption, type ConfigFlags } from "./config-option.ts";
import { cli } from "./context.ts";
import { addLambdaFlags, type LambdaFlags } from "./handler-args.ts";
import { projectFromArgs } from "./project-args.ts";

interface InvokeFlags extends ConfigFlags {
  out?: string;
  event?: string;
  timeout?: string;
}

/** `--event JSON` or `--event @file`; no event is `{}`. */
async function readEvent(text: string | undefined): Promise<unknown> {
  if (text === undefined) return {};
  let json = text;
  let where = "--event";
  if (text.startsWith("@")) {
    where = text.slice(1);
    try {
      json = await readFile(resolve(text.slice(1)), "utf8");
    } catch (cause) {
      throw new TugError({
        what: `cannot read event file ${where}`,
        where: "--event",
        hint: "pass --event @PATH to an existing JSON file",
        cause,
      });
    }
  }
  try {
    return JSON.parse(json);
  } catch (e) {
    throw new TugError({
      what: `the event is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
      where,
      hint: `e.g. --event '{"a": 1}' or --event @event.json`,
    });
  }
}

export function invokeCommand(program: Command): void {
  addLambdaFlags(
    addConfigOption(program.command("invoke").argument("<lambda>", "a lambda's name, or FILE:FUNCTION"))
      .description("build a lambda (a no-op when nothing changed) and run its handler locally from the zip")
      .option("--out <dir>", "where tug build wrote it (DIR/lambdas; default .tug/out)")
      .option("--event <json|@file>", "the event passed to the handler (default {})")
      .option("--timeout <seconds>", "kill the handler after this long (default 30)"),
  ).action(async (arg: string, flags: InvokeFlags & LambdaFlags) => {
    const event = await readEvent(flags.event);
    // Loaded here, not at start-up: every other command would pay for the lambda stack.
    const [{ buildLambdas }, { lambdaOutDir }, { invokeLambda }] = await Promise.all([
      import("../lambda/build-lambdas.ts"),
      import("../lambda/build-python.ts"),
      import("../lambda/invoke.ts"),
    ]);
    const { project, targets } = await projectFromArgs([arg], flags);
    const name = targets[0] ?? arg;
    const target = project.lambdas?.find((l) => l.name === name);
    if (!target) {
      throw new TugError({
        what: `no lambda named ${JSON.stringify(name)}`,
        where: project.file,
        hint: `lambdas are: ${(project.lambdas ?? []).map((l) => l.name).join(", ") || "(none)"}`,
      });
    }
    const out = flags.out ? resolve(flags.out) : undefined;
    const zip = join(lambdaOutDir(project, out), `${name}.zip`);
    // Always built first: a no-op build costs a few stats, and a stale zip would run old code.
    const layers =
      target.language === "python"
        ? (project.layers ?? []).filter((l) => target.layers.includes(l.name))
        : [];
    const built = await buildLambdas(project, [target], { out }, layers);
    const layerZips = built.filter((r) => r.kind === "layer").map((r) => r.path);
    // The function's environment the build asks for (NODE_OPTIONS=--enable-source-maps).
    const environment = await readFile(`${zip}.json`, "utf8").then(
      (text) => (JSON.parse(text) as { environment?: Record<string, string> }).environment,
      () => undefined,
    );
    const result = await invokeLambda({
      zip,
      runtime: target.runtime.runtime,
      handler: target.awsHandler,
      event,
      ...(environment ? { env: environment } : {}),
      ...(layerZips.length ? { layers: layerZips } : {}),
      // The runtime provides @aws-sdk/*; locally the project's own install stands in for it.
      ...(target.language === "node" ? { nodeModules: join(project.dir, "node_modules") } : {}),
      ...(flags.timeout ? { timeoutMs: Number(flags.timeout) * 1000 } : {}),
    });
    for (const w of result.warnings) cli.stderr.write(`warning: ${w}\n`);
    if (result.logs) cli.stderr.write(result.logs.endsWith("\n") ? result.logs : `${result.logs}\n`);
    cli.stdout.write(`${JSON.stringify(result.result)}\n`);
  });
}
