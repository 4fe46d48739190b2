import { realpath, stat } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { type Document, LineCounter, parseDocument } from "yaml";
import { isTugError, TugError } from "../errors.ts";
import { readBoundedFile } from "../util/bounded-file.ts";
import { type Diagnostic, diagnosticsError, issueDiagnostics } from "./diagnostics.ts";
import { displayPath, isDirectory } from "./find.ts";
import { checkLayerUse, toLambdaTarget, toLayerTarget, toPythonSettings } from "./lambda-target.ts";
import { formatPath, locate, position } from "./locate.ts";
import { EXTENSION_PREFIX, TugFileSchema } from "./schema.ts";
import { graphProblems } from "./target-graph.ts";
import { fragmentOf, toImageTarget } from "./targets.ts";
import type { ImageTarget, Project } from "./types.ts";
import {
  boundedToJS,
  depthProblem,
  documentDepthProblem,
  isDepthOverflow,
  scanYamlBounds,
  YAML_LIMITS,
} from "./yaml-bounds.ts";

export { displayPath, findProject, PROJECT_FILES } from "./find.ts";

function yamlDiagnostics(doc: Document): Diagnostic[] {
  return doc.errors.map((e) => {
    if (isDepthOverflow(e.message)) return depthProblem(e.pos[0]);
    // yaml appends " at line L, column C:" and a source excerpt; the location goes in `where`.
    const message = (e.message.split("\n")[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, "");
    return {
      offset: e.pos[0],
      path: [],
      what: `invalid YAML: ${message}`,
      hint:
        e.code === "DUPLICATE_KEY"
          ? "each key may appear only once in a mapping"
          : "check the indentation and quoting on this line and the one before it",
    };
  });
}

/** Checks that need the file system: contexts are directories, builders' inputs exist. */
async function fileDiagnostics(doc: Document, targets: ImageTarget[], dir: string): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  for (const t of targets) {
    const at = ["images", t.name];
    if (!(await isDirectory(t.context))) {
      const exists = await stat(t.context).then(
        () => true,
        () => false,
      );
      const path = [...at, "context"];
      out.push({
        offset: locate(doc, path),
        path,
        what: exists
          ? `context ${relative(dir, t.context) || "."} is not a directory`
          : `context directory ${relative(dir, t.context) || "."} does not exist`,
        hint: "context is resolved relative to the directory that holds tug.yaml",
      });
      continue;
    }
    out.push(...(await layerDiagnostics(doc, t, dir)));
    const problem = await fragmentOf(t.builder).inputProblem?.(t as never, dir);
    if (problem) {
      const path = [...at, problem.key];
      out.push({ offset: locate(doc, path), path, what: problem.what, hint: problem.hint });
    }
  }
  return out;
}

/** `layers:` sources exist and stay inside the context once symlinks are resolved. */
async function layerDiagnostics(doc: Document, t: ImageTarget, dir: string): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  const context = await realpath(t.context);
  for (const [i, layer] of (t.layers ?? []).entries()) {
    const path = ["images", t.name, "layers", i, "from"];
    const shown = relative(dir, join(t.context, layer.from)) || ".";
    const real = await realpath(join(t.context, layer.from)).catch(() => undefined);
    const problem =
      real === undefined
        ? {
            what: `layers[${i}].from: ${shown} does not exist`,
            hint: "from is relative to the target's context",
          }
        : real !== context && !real.startsWith(context + sep)
          ? {
              what: `layers[${i}].from: ${shown} resolves outside the context (to ${real})`,
              hint: "a symlink may not lead a layer out of the context; copy the files into it",
            }
          : undefined;
    if (problem) out.push({ offset: locate(doc, path), path, ...problem });
  }
  return out;
}

/** `base: tug://NAME` edges: unknown names, cycles, platforms the base target lacks. */
function graphDiagnostics(doc: Document, targets: ImageTarget[]): Diagnostic[] {
  return graphProblems(targets).map((p) => {
    const path = ["images", p.target, "base"];
    return { offset: locate(doc, path), path, what: p.what, hint: p.hint };
  });
}

/** Reads, validates and normalises tug.yaml; every problem becomes one TugError with file:line:col. */
export async function loadProject(file: string): Promise<Project> {
  const abs = resolve(file);
  const shown = displayPath(abs);
  const dir = dirname(abs);
  let text: string;
  try {
    text = (await readBoundedFile(abs, YAML_LIMITS.bytes, "tug.yaml", { shownPath: shown })).toString("utf8");
  } catch (cause) {
    if (isTugError(cause)) throw cause;
    throw new TugError({
      what: `cannot read ${shown}`,
      where: shown,
      hint: "run tug in the directory that holds tug.yaml, or pass --file",
      cause,
    });
  }

  const lineCounter = new LineCounter();
  // Bounds first, on tokens alone: a hostile file costs a scan, never a tree or an expansion.
  const tooMuch = scanYamlBounds(text);
  if (tooMuch) {
    lineCounter.addNewLine(0);
    for (let at = text.indexOf("\n"); at >= 0 && at < tooMuch.offset; at = text.indexOf("\n", at + 1))
      lineCounter.addNewLine(at + 1);
    throw diagnosticsError([tooMuch], shown, lineCounter);
  }
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, merge: true });
  if (doc.errors.length > 0) throw diagnosticsError(yamlDiagnostics(doc), shown, lineCounter);
  const tooDeep = documentDepthProblem(doc);
  if (tooDeep) throw diagnosticsError([tooDeep], shown, lineCounter);

  const js = boundedToJS(doc);
  if ("problem" in js) throw diagnosticsError([js.problem], shown, lineCounter);
  const raw: unknown = js.value;
  if (raw === null || raw === undefined) {
    throw new TugError({
      what: `${shown} is empty`,
      where: shown,
      hint: "describe at least one image, e.g.\nimages:\n  app:\n    builder: go",
    });
  }
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new TugError({
      what: `${shown} must be a mapping of keys like repo: and images:`,
      where: position(shown, lineCounter, locate(doc, [])),
      hint: "start with images: at the beginning of a line",
    });
  }

  // Top-level x-* keys are free-form, as in compose files: a place to anchor shared settings.
  const input = Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith(EXTENSION_PREFIX)));
  const parsed = TugFileSchema.safeParse(input);
  if (!parsed.success)
    throw diagnosticsError(issueDiagnostics(parsed.error.issues, doc, raw), shown, lineCounter);
  const config = parsed.data;

  const targets = Object.entries(config.images).map(([name, t]) => {
    const path = ["images", name];
    const { line } = lineCounter.linePos(locate(doc, path, "key"));
    return toImageTarget(name, t, dir, `${formatPath(path)} (${shown}:${line})`);
  });
  const sourceRoots = toPythonSettings(config.python, dir).sourceRoots;
  const lambdas = Object.entries(config.lambdas).map(([name, l]) => {
    const path = ["lambdas", name];
    const { line } = lineCounter.linePos(locate(doc, path, "key"));
    return toLambdaTarget(name, l, dir, `${formatPath(path)} (${shown}:${line})`, sourceRoots);
  });
  const layers = Object.entries(config.layers).map(([name, l]) => {
    const path = ["layers", name];
    const { line } = lineCounter.linePos(locate(doc, path, "key"));
    return toLayerTarget(name, l, `${formatPath(path)} (${shown}:${line})`);
  });
  checkLayerUse(lambdas, layers);
  if (targets.length === 0 && lambdas.length === 0 && layers.length === 0) {
    throw new TugError({
      what: `${shown} defines no images`,
      where: shown,
      hint: "add an images: section, e.g.\nimages:\n  app:\n    builder: go",
    });
  }
  const problems = [...graphDiagnostics(doc, targets), ...(await fileDiagnostics(doc, targets, dir))];
  if (problems.length > 0) throw diagnosticsError(problems, shown, lineCounter);

  return {
    file: abs,
    dir,
    ...(config.repo === undefined ? {} : { repo: config.repo }),
    ...(config.cache === undefined ? {} : { cache: config.cache }),
    targets,
    ...(lambdas.length === 0 ? {} : { lambdas }),
    ...(layers.length === 0 ? {} : { layers }),
    ...(lambdas.length === 0 && layers.length === 0 ? {} : { python: toPythonSettings(config.python, dir) }),
  };
}
