import { spawn, spawnSync } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import { TugError } from "../errors.ts";
import { ZipReader } from "../zip/zip-reader.ts";
import { NODE_BOOTSTRAP, PYTHON_BOOTSTRAP } from "./invoke-bootstrap.ts";

export interface InvokeOptions {
  /** The function's deployment zip. */
  zip: string;
  /** python3.9 … python3.14 or nodejs18.x … nodejs22.x. */
  runtime: string;
  /** AWS handler string: "lambdas/echo.handler" (python), "src/api.handler" (node). */
  handler: string;
  event: unknown;
  /** Default 30 s; the process group is killed when it runs out. */
  timeoutMs?: number;
  /** Extra environment for the handler, over the host's and Lambda's variables. */
  env?: Record<string, string>;
  /**
   * Node: the project's node_modules, whose `@aws-sdk` stands in for the runtime's (the bundle
   * leaves it out). It is linked beside the task directory, where both `require` and `import`
   * look after the zip's own node_modules.
   */
  nodeModules?: string;
  /** Layer zips, unpacked in order into /opt's stand-in (`python/` is then on the path, as on Lambda). */
  layers?: string[];
  /** Where the temporary task dir is made; default the OS temp dir. */
  tmpDir?: string;
}

export interface InvokeResult {
  result: unknown;
  /** The handler's stdout and stderr, interleaved as they arrived. */
  logs: string;
  warnings: string[];
  ms: number;
}

type Runtime = { lang: "python"; minor: number } | { lang: "node"; major: number };

interface Outcome {
  ok: boolean;
  result?: unknown;
  kind?: "raised" | "import" | "no-module" | "no-function" | "not-json";
  type?: string;
  message?: string;
  trace?: string;
  names?: string[];
  version?: string;
}

interface Target {
  /** Runtime interpreter, and the bootstrap's file name. */
  command: string;
  script: string;
  bootstrap: string;
  /** python: dotted module; node: absolute file path. */
  module: string;
  func: string;
  /** What the module is called in messages: a path inside the zip. */
  file: string;
}

export function parseInvokeRuntime(name: string): Runtime {
  const py = /^python3\.(\d+)$/.exec(name);
  if (py && Number(py[1]) >= 9 && Number(py[1]) <= 14) return { lang: "python", minor: Number(py[1]) };
  const node = /^nodejs(\d+)\.x$/.exec(name);
  if (node && ["18", "20", "22"].includes(node[1]!)) return { lang: "node", major: Number(node[1]) };
  throw new TugError({
    what: `unknown runtime "${name}"`,
    hint: "use python3.9 … python3.14 or nodejs18.x, nodejs20.x, nodejs22.x",
  });
}

/**
 * Unpacks `zip` into a fresh task dir (as Lambda does into /var/task), runs the handler once with
 * the machine's python3 or node, and removes the task dir again, whatever happened.
 */
export async function invokeLambda(options: InvokeOptions): Promise<InvokeResult> {
  const runtime = parseInvokeRuntime(options.runtime);
  const eventText = JSON.stringify(options.event === undefined ? null : options.event);
  const root = await mkdtemp(join(options.tmpDir ?? tmpdir(), "tug-invoke-"));
  try {
    const task = join(root, "task");
    await unpack(options.zip, task);
    if (options.nodeModules) {
      // Only what the runtime itself provides (the AWS SDK): anything else must be in the zip,
      // or a missing layer or dependency would pass here and fail on AWS.
      await mkdir(join(root, "node_modules"), { recursive: true });
      const type = process.platform === "win32" ? "junction" : "dir";
      await symlink(join(options.nodeModules, "@aws-sdk"), join(root, "node_modules", "@aws-sdk"), type);
    }
    const opt = join(root, "opt");
    for (const layer of options.layers ?? []) await unpack(layer, opt);
    const target = await locate(runtime, options.handler, task, options.zip);
    await writeFile(join(root, target.script), target.bootstrap);
    await writeFile(join(root, "event.json"), eventText);
    const timeoutMs = options.timeoutMs ?? 30_000;
    const fnName = functionName(options.handler);
    const resultPath = join(root, "result.json");
    const args = [
      target.module,
      target.func,
      join(root, "event.json"),
      resultPath,
      String(timeoutMs),
      fnName,
    ];
    if (runtime.lang === "python") args.push(opt, join(root, "runtime"));
    const env = lambdaEnvironment({
      runtime: options.runtime,
      handler: options.handler,
      fnName,
      task,
      opt,
      root,
    });
    Object.assign(env, options.env);
    // -I -S: the zip, the layers and the standard library only, as on Lambda (see the bootstrap).
    const pre = runtime.lang === "python" ? ["-u", "-I", "-S"] : [];
    const started = performance.now();
    const run = await runGroup({
      command: target.command,
      args: [...pre, join(root, target.script), task, ...args],
      cwd: task,
      env,
      timeoutMs,
    });
    const ms = Math.round(performance.now() - started);
    const where = `${options.handler} in ${options.zip}`;
    if (run.timedOut) {
      throw new TugError({
        what: `${options.handler} timed out after ${timeoutMs} ms`,
        where,
        hint: tail(run.logs) || "raise timeoutMs if the handler needs longer",
      });
    }
    const outcome = await readOutcome(resultPath);
    const warnings = versionWarnings(runtime, outcome?.version, target.command);
    if (outcome === undefined) {
      const how = run.signal ? `was killed by ${run.signal}` : `exited with code ${String(run.code)}`;
      throw new TugError({
        what: `${options.handler}: ${target.command} ${how} before returning`,
        where,
        hint: tail(run.logs),
      });
    }
    // Paths in traces read as paths inside the zip, not in a temp dir that is about to vanish.
    outcome.trace = outcome.trace?.replaceAll(`${pathToFileURL(task).href}/`, "").replaceAll(`${task}/`, "");
    if (!outcome.ok) throw failureError(outcome, target, options.handler, where, warnings);
    return { result: outcome.result, logs: run.logs, warnings, ms };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function unpack(zip: string, task: string): Promise<void> {
  const reader = await ZipReader.open(zip).catch((e: unknown) => {
    if (e instanceof TugError) throw e;
    throw new TugError({ what: `cannot open ${zip}`, hint: e instanceof Error ? e.message : String(e) });
  });
  try {
    await mkdir(task);
    for (const entry of reader.entries) {
      // Names were checked for zip-slip when the reader opened the zip.
      const path = join(task, entry.name);
      if (entry.dir) {
        await mkdir(path, { recursive: true });
        continue;
      }
      await mkdir(dirname(path), { recursive: true });
      const mode = entry.mode & 0o111 ? 0o755 : 0o644;
      await pipeline(await reader.open(entry), createWriteStream(path, { mode }));
    }
  } finally {
    await reader.close();
  }
}

async function locate(runtime: Runtime, handler: string, task: string, zip: string): Promise<Target> {
  const bad = (what: string, hint: string) =>
    new TugError({ what: `${what} (handler "${handler}")`, where: zip, hint });
  const slash = handler.lastIndexOf("/");
  const dot = runtime.lang === "python" ? handler.lastIndexOf(".") : handler.indexOf(".", slash + 1);
  if (dot <= slash + 1 || dot === handler.length - 1) {
    throw bad(
      "malformed handler",
      `write it as AWS does: ${runtime.lang === "python" ? "lambdas/echo.handler" : "src/api.handler"}`,
    );
  }
  const base = handler.slice(0, dot);
  const func = handler.slice(dot + 1);
  if (runtime.lang === "python") {
    const module = base.replaceAll("/", ".");
    const file = `${module.replaceAll(".", "/")}.py`;
    const command = pythonFor(runtime.minor);
    return { command, script: "bootstrap.py", bootstrap: PYTHON_BOOTSTRAP, module, func, file };
  }
  const tried = [".js", ".mjs", ".cjs"].map((ext) => `${base}${ext}`);
  const file = (await Promise.all(tried.map((f) => isFile(join(task, f))))).findIndex(Boolean);
  if (file >= 0) {
    const [path, name] = [join(task, tried[file]!), tried[file]!];
    return {
      command: "node",
      script: "bootstrap.mjs",
      bootstrap: NODE_BOOTSTRAP,
      module: path,
      func,
      file: name,
    };
  }
  throw bad(`handler module ${base} is not in the zip`, `looked for ${tried.join(", ")}`);
}

const isFile = (path: string) =>
  stat(path).then(
    (s) => s.isFile(),
    () => false,
  );

// Keyed by PATH too: a resident server answers requests from shells with different PATHs.
const pythons = new Map<string, string>();

/**
 * The runtime's own interpreter (python3.12 for python3.12) when it really runs here — a pyenv
 * shim may exist for a version that is not installed — else python3 (the result warns).
 */
function pythonFor(minor: number): string {
  const key = `${minor}\0${process.env.PATH ?? ""}`;
  let command = pythons.get(key);
  if (command === undefined) {
    const exact = `python3.${minor}`;
    const probe = spawnSync(exact, ["-I", "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], {
      encoding: "utf8",
      timeout: 10_000,
    });
    command = probe.status === 0 && probe.stdout.trim() === `3.${minor}` ? exact : "python3";
    pythons.set(key, command);
  }
  return command;
}

/** Host variables a handler may legitimately use locally: where programs are, and AWS credentials/region. */
const HOST_VARIABLES = /^(PATH|HOME|TMPDIR|AWS_[A-Z0-9_]+)$/;

/**
 * Lambda's environment, not the host's: a handler that works only because of a variable set in
 * the developer's shell would fail on AWS. Only PATH, HOME, TMPDIR and AWS_* pass through.
 */
function lambdaEnvironment(o: {
  runtime: string;
  handler: string;
  fnName: string;
  task: string;
  opt: string;
  root: string;
}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (HOST_VARIABLES.test(k)) env[k] = v;
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1";
  return {
    ...env,
    LANG: "en_US.UTF-8",
    TZ: ":UTC",
    LAMBDA_TASK_ROOT: o.task,
    LAMBDA_RUNTIME_DIR: join(o.root, "runtime"),
    _HANDLER: o.handler,
    AWS_EXECUTION_ENV: `AWS_Lambda_${o.runtime}`,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_LAMBDA_FUNCTION_NAME: o.fnName,
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "128",
    AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${o.fnName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: "tug-invoke",
    LD_LIBRARY_PATH: [join(o.task, "lib"), join(o.opt, "lib")].join(":"),
    PYTHONDONTWRITEBYTECODE: "1",
    NODE_PATH: join(o.opt, "nodejs", "node_modules"),
  };
}

function functionName(handler: string): string {
  return basename(handler).split(".")[0] || "function";
}

async function readOutcome(path: string): Promise<Outcome | undefined> {
  const text = await readFile(path, "utf8").catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as Outcome);
}

function versionWarnings(runtime: Runtime, version: string | undefined, command: string): string[] {
  if (version === undefined) return [];
  const [major, minor] = version.split(".").map(Number);
  if (runtime.lang === "python" && (major !== 3 || minor !== runtime.minor)) {
    return [
      `python3.${runtime.minor} is not on PATH; ran ${command} (${version}) instead: behaviour may differ`,
    ];
  }
  if (runtime.lang === "node" && major !== runtime.major) {
    return [`node here is ${version}, the runtime is nodejs${runtime.major}.x: behaviour may differ`];
  }
  return [];
}

function failureError(o: Outcome, t: Target, handler: string, where: string, warnings: string[]): TugError {
  const names = o.names ?? [];
  const [what, hint] =
    o.kind === "no-module"
      ? [`handler module ${t.file} is not in the zip`, `${o.message}; module paths start at the zip's root`]
      : o.kind === "no-function"
        ? [
            `${t.file} has no function "${t.func}"`,
            names.length ? `it defines: ${names.join(", ")}` : "it defines no functions",
          ]
        : o.kind === "not-json"
          ? [
              `${handler} returned a value that is not JSON-serialisable: ${o.type}: ${o.message}`,
              "return dicts, lists, strings, numbers, booleans or None/null",
            ]
          : o.kind === "import"
            ? [`importing ${t.file} failed: ${o.type}: ${o.message}`, o.trace ?? ""]
            : [`${handler} raised ${o.type}: ${o.message}`, o.trace ?? ""];
  const named = what.includes(handler) ? what : `${what} (handler "${handler}")`;
  return new TugError({ what: named, where, hint: [hint, ...warnings].join("\n") });
}

function tail(logs: string, lines = 20): string {
  return logs.trimEnd().split("\n").slice(-lines).join("\n");
}

interface GroupRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  logs: string;
  timedOut: boolean;
}

/** Runs `command` in its own process group so a timeout, or the end, kills what it started too. */
function runGroup(o: {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string | undefined>;
  timeoutMs: number;
}): Promise<GroupRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(o.command, o.args, {
      cwd: o.cwd,
      env: o.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => chunks.push(c));
    let timedOut = false;
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // ESRCH: the group is already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, o.timeoutMs);
    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new TugError({
          what: e.code === "ENOENT" ? `${o.command} is not on PATH` : `cannot run ${o.command}: ${e.message}`,
          hint: `tug invoke runs the handler with the machine's ${o.command}`,
        }),
      );
    });
    // Lambda freezes the sandbox after a response; here leftover children are killed so their
    // open pipes cannot hold "close" back.
    child.on("exit", () => {
      clearTimeout(timer);
      killGroup();
    });
    child.on("close", (code, signal) =>
      resolve({ code, signal, logs: Buffer.concat(chunks).toString("utf8"), timedOut }),
    );
  });
}
