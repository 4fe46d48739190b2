/**
 * The scripts `invokeLambda` runs beside (never inside) the task dir. Each loads the handler, calls
 * it with the event and a minimal context, and writes one JSON document to a result file, so what
 * the handler prints on stdout stays log output. Documents:
 *   {"ok": true, "result": …, "version": "3.11.7"}
 *   {"ok": false, "kind": "raised" | "import" | "no-module" | "no-function" | "not-json",
 *    "type"?, "message"?, "trace"?, "names"?, "version"}
 * Arguments: task dir, module (python: dotted; node: file path), function path (dots for
 * nesting), event file, result file, timeout ms, function name; python also the layers' dir (/opt)
 * and the runtime dir (/var/runtime).
 */

export const PYTHON_BOOTSTRAP = `
import importlib, json, os, sys, time, traceback, uuid

task, module_name, func_path, event_path, result_path, timeout_ms, fn_name, opt, runtime_dir = sys.argv[1:10]
# Run with -I -S: no site-packages, no user site, no PYTHON* variables, so a module missing from
# the zip fails here as on Lambda. The path is Lambda's: the task, the layers, the runtime (whose
# AWS SDK stands in for Lambda's), then the standard library.
minor = "python%d.%d" % sys.version_info[:2]
sys.path[0:0] = [task, os.path.join(opt, "python", "lib", minor, "site-packages"), os.path.join(opt, "python"), runtime_dir]


def link_runtime_sdk():
    # Lambda's Python runtimes ship boto3 in /var/runtime; the host's copy (if any) plays that part.
    # Only the SDK and its dependencies are linked, never the rest of the host's site-packages.
    import site
    names = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")
    dirs = [d for d in site.getsitepackages() + [site.getusersitepackages()] if os.path.isdir(d)]
    for name in names:
        for d in dirs:
            src = os.path.join(d, name)
            if os.path.exists(src):
                os.symlink(src, os.path.join(runtime_dir, name))
                break


os.makedirs(runtime_dir, exist_ok=True)
link_runtime_sdk()
deadline = time.monotonic() + int(timeout_ms) / 1000.0
version = "%d.%d.%d" % tuple(sys.version_info[:3])


class LambdaContext(object):
    function_name = fn_name
    function_version = "$LATEST"
    memory_limit_in_mb = 128
    aws_request_id = str(uuid.uuid4())
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:" + fn_name
    log_group_name = "/aws/lambda/" + fn_name
    log_stream_name = "tug-invoke"
    identity = None
    client_context = None

    def get_remaining_time_in_millis(self):
        return max(0, int((deadline - time.monotonic()) * 1000))


def failure(kind, e):
    # The first frame is this script's own call site; the user's traceback starts below it.
    tb = e.__traceback__.tb_next if e.__traceback__ is not None else None
    trace = "".join(traceback.format_exception(type(e), e, tb))
    return {"ok": False, "kind": kind, "type": type(e).__name__, "message": str(e), "trace": trace}


def run():
    with open(event_path) as f:
        event = json.load(f)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        missing = e.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            return {"ok": False, "kind": "no-module", "message": str(e)}
        return failure("import", e)
    except BaseException as e:
        return failure("import", e)
    target = module
    for part in func_path.split("."):
        if not hasattr(target, part):
            names = sorted(
                n for n, v in vars(module).items()
                if callable(v) and not n.startswith("_") and getattr(v, "__module__", None) == module.__name__
            )
            return {"ok": False, "kind": "no-function", "names": names}
        target = getattr(target, part)
    try:
        result = target(event, LambdaContext())
    except BaseException as e:
        return failure("raised", e)
    try:
        json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as e:
        return {"ok": False, "kind": "not-json", "type": type(e).__name__, "message": str(e)}
    return {"ok": True, "result": result}


doc = run()
doc["version"] = version
sys.stdout.flush()
sys.stderr.flush()
with open(result_path + ".tmp", "w") as f:
    json.dump(doc, f, allow_nan=False)
os.replace(result_path + ".tmp", result_path)
`;

export const NODE_BOOTSTRAP = String.raw`
import { randomUUID } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [task, file, funcPath, eventPath, resultPath, timeoutMs, fnName] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutMs);
let written = false;

function finish(doc) {
  if (written) return;
  written = true;
  doc.version = process.versions.node;
  writeFileSync(resultPath + ".tmp", JSON.stringify(doc));
  renameSync(resultPath + ".tmp", resultPath);
  process.exit(0);
}

function failure(kind, e) {
  if (e instanceof Error) {
    const stack = (e.stack ?? String(e)).split("\n").filter((l) => !l.includes(import.meta.url)).join("\n");
    return { ok: false, kind, type: e.name || e.constructor?.name || "Error", message: e.message, trace: stack };
  }
  return { ok: false, kind, type: typeof e, message: String(e), trace: String(e) };
}

async function load() {
  const url = pathToFileURL(file).href;
  if (file.endsWith(".mjs")) return import(url);
  const require = createRequire(file);
  if (file.endsWith(".cjs")) return require(file);
  try {
    return require(file);
  } catch (e) {
    // Lambda's runtime does the same for a .js file in a "type": "module" package.
    if (e && e.code === "ERR_REQUIRE_ESM") return import(url);
    throw e;
  }
}

const context = {
  functionName: fnName,
  functionVersion: "$LATEST",
  memoryLimitInMB: "128",
  awsRequestId: randomUUID(),
  invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:" + fnName,
  logGroupName: "/aws/lambda/" + fnName,
  logStreamName: "tug-invoke",
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
};

function call(fn, event) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err, value) => {
      if (settled) return;
      settled = true;
      if (err !== null && err !== undefined) reject(err);
      else resolve(value);
    };
    Object.assign(context, { done: callback, succeed: (v) => callback(null, v), fail: (e) => callback(e) });
    const returned = fn(event, context, callback);
    if (returned && typeof returned.then === "function") returned.then((v) => callback(null, v), callback);
    else if (fn.length < 3) callback(null, returned);
  });
}

process.once("beforeExit", () =>
  finish({ ok: false, kind: "raised", type: "Error", message: "the handler neither called its callback nor settled its promise", trace: "" }),
);

const event = JSON.parse(readFileSync(eventPath, "utf8"));
let mod;
try {
  mod = await load();
} catch (e) {
  finish(failure("import", e));
}
let target = mod;
for (const [i, part] of funcPath.split(".").entries()) {
  let next = target?.[part];
  if (next === undefined && i === 0) next = mod.default?.[part];
  if (next === undefined) {
    const names = Object.keys(mod).filter((n) => typeof mod[n] === "function").sort();
    finish({ ok: false, kind: "no-function", names });
  }
  target = next;
}
if (typeof target !== "function") finish({ ok: false, kind: "no-function", names: [] });
let result;
try {
  result = await call(target, event);
} catch (e) {
  finish(failure("raised", e));
}
let text;
try {
  text = JSON.stringify(result === undefined ? null : result);
} catch (e) {
  finish({ ok: false, kind: "not-json", type: e.name, message: e.message });
}
finish({ ok: true, result: JSON.parse(text) });
`;
