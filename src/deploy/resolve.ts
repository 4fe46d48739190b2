import { LineCounter, parseAllDocuments, Scalar, visit } from "yaml";
import { IMAGE_NAME, TUG_SCHEME } from "../config/names.ts";
import { TugError } from "../errors.ts";

interface Reference {
  name: string;
  /** Source range of the scalar (quotes included) and the style it was written in. */
  start: number;
  end: number;
  style: Scalar.Type | undefined;
  value: string;
}

function where(file: string, lineCounter: LineCounter, offset: number): string {
  const { line, col } = lineCounter.linePos(offset);
  return `${file}:${line}:${col}`;
}

/** Every `tug://NAME` scalar value in a (multi-document) YAML text, in source order. */
function scan(text: string, file: string): { refs: Reference[]; lineCounter: LineCounter } {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: true });
  const refs: Reference[] = [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) {
      throw new TugError({
        what: `invalid YAML: ${(error.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "")}`,
        where: where(file, lineCounter, error.pos[0]),
        hint: "tug resolves plain YAML; render templates (helm template, kustomize build) first",
      });
    }
    visit(doc, {
      Scalar(key, node) {
        // Only values: a mapping key that happens to start with tug:// is left alone.
        if (key === "key" || typeof node.value !== "string" || !node.value.startsWith(TUG_SCHEME)) return;
        if (!node.range) return;
        const name = node.value.slice(TUG_SCHEME.length);
        if (!IMAGE_NAME.test(name)) {
          throw new TugError({
            what: `${JSON.stringify(node.value)} is not a tug reference`,
            where: where(file, lineCounter, node.range[0]),
            hint: "write tug://NAME with NAME an image in tug.yaml; tug picks the tag and digest itself",
          });
        }
        refs.push({ name, start: node.range[0], end: node.range[1], style: node.type, value: node.value });
      },
    });
  }
  refs.sort((a, b) => a.start - b.start);
  return { refs, lineCounter };
}

/** Target names referenced as `tug://NAME`, so the caller can build only those. */
export function referencedTargets(text: string, file = "<input>"): Set<string> {
  return new Set(scan(text, file).refs.map((r) => r.name));
}

/** The new source text for one scalar, keeping its quoting style. */
function replacement(text: string, ref: Reference, resolved: string): string {
  const source = text.slice(ref.start, ref.end);
  const at = source.indexOf(ref.value);
  // The value appears literally unless the user escaped characters inside quotes.
  if (at >= 0) return source.slice(0, at) + resolved + source.slice(at + ref.value.length);
  if (ref.style === Scalar.QUOTE_DOUBLE) return JSON.stringify(resolved);
  if (ref.style === Scalar.QUOTE_SINGLE) return `'${resolved}'`;
  return resolved;
}

/**
 * Replaces every `tug://NAME` scalar with `lookup(NAME)` (e.g. `repo/name@sha256:…`), leaving
 * every other byte of the text as it was: comments, key order, quoting and line endings.
 * `lookup` is called once per distinct name; a TugError it throws without `where` (such as an
 * unknown target) is re-thrown pointing at the first line that references that name.
 */
export async function resolveYamlText(
  text: string,
  file: string,
  lookup: (targetName: string) => Promise<string>,
): Promise<string> {
  const { refs, lineCounter } = scan(text, file);
  if (refs.length === 0) return text;

  const names = [...new Set(refs.map((r) => r.name))];
  const results = await Promise.allSettled(names.map((n) => lookup(n)));
  const resolved = new Map<string, string>();
  for (const ref of refs) {
    const result = results[names.indexOf(ref.name)];
    if (!result) continue;
    if (result.status === "rejected") {
      const e: unknown = result.reason;
      if (e instanceof TugError && !e.where) {
        throw new TugError({
          what: e.what,
          where: where(file, lineCounter, ref.start),
          ...(e.hint === undefined ? {} : { hint: e.hint }),
          cause: e,
        });
      }
      throw e;
    }
    if (!/^[^\s#'"]+$/.test(result.value)) {
      throw new Error(
        `lookup("${ref.name}") returned ${JSON.stringify(result.value)}, not an image reference`,
      );
    }
    resolved.set(ref.name, result.value);
  }

  let out = "";
  let last = 0;
  for (const ref of refs) {
    out += text.slice(last, ref.start) + replacement(text, ref, resolved.get(ref.name)!);
    last = ref.end;
  }
  return out + text.slice(last);
}
