import { type Document, isMap, isNode, isPair, isScalar, isSeq, type LineCounter, type Node } from "yaml";

/** A key path as zod reports it, e.g. ["images", "web", "platforms", 1]. */
export type KeyPath = ReadonlyArray<PropertyKey>;

/** `images.web.platforms[1]` */
export function formatPath(path: KeyPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return typeof key === "string" ? key : undefined;
}

/**
 * Offset in the source of the YAML node at `path`. `at: "key"` points at the mapping key
 * (for unknown keys); a path that does not exist in the source (a missing key) points at
 * the key of its deepest existing ancestor, which is where the user has to add it.
 */
export function locate(doc: Document, path: KeyPath, at: "value" | "key" = "value"): number {
  let node: unknown = doc.contents;
  let key: Node | undefined;
  let lastKey: Node | undefined;
  let found = true;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
      if (!pair) {
        found = false;
        break;
      }
      key = isNode(pair.key) ? pair.key : undefined;
      if (key) lastKey = key;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number" && node.items[seg] !== undefined) {
      key = undefined;
      node = node.items[seg];
    } else {
      found = false;
      break;
    }
  }
  const start = (n: unknown) => (isNode(n) && n.range ? n.range[0] : undefined);
  if (!found) return start(lastKey) ?? start(doc.contents) ?? 0;
  // An empty value (`web:` and nothing after it) has a zero-width range; its key is what to show.
  const empty = isScalar(node) && node.value === null && node.range && node.range[0] === node.range[1];
  if (at === "key" || empty) return start(key) ?? start(node) ?? 0;
  return start(node) ?? start(key) ?? start(lastKey) ?? 0;
}

/** `file:line:col` for an offset, 1-based as editors expect. */
export function position(file: string, lineCounter: LineCounter, offset: number): string {
  const { line, col } = lineCounter.linePos(offset);
  return `${file}:${line}:${col}`;
}
