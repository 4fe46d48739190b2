import { CST, type Document, isAlias, isMap, isPair, isSeq, Lexer } from "yaml";
import type { Diagnostic } from "./diagnostics.ts";
import { YAML_LIMITS } from "./yaml-limits.ts";

export { YAML_LIMITS } from "./yaml-limits.ts";

// Lexer tokens that stand for a node of the document (a key counts: it is a scalar node).
const NODE_TOKENS = new Set([
  "scalar",
  "single-quoted-scalar",
  "double-quoted-scalar",
  "block-scalar-header",
  "flow-map-start",
  "flow-seq-start",
  "alias",
]);

// Markers the lexer emits that are not source text (document start, flow end, plain scalar).
const NOT_SOURCE = new Set([CST.DOCUMENT, CST.FLOW_END, CST.SCALAR]);

const HINT_SPLIT = "split the file, or use fewer anchors and aliases; tug.yaml describes targets, not data";

/**
 * A first pass over the tokens only (no tree): counts nodes, aliases and bracket nesting, and
 * stops at the first limit crossed, so the cost is bounded by the size limit, not by what a
 * parser would build.
 */
export function scanYamlBounds(text: string): Diagnostic | undefined {
  let offset = 0;
  let nodes = 0;
  let aliases = 0;
  let flowDepth = 0;
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token);
    if (type !== null && NODE_TOKENS.has(type) && ++nodes > YAML_LIMITS.nodes) {
      return {
        offset,
        path: [],
        what: `tug.yaml has more than ${YAML_LIMITS.nodes} values`,
        hint: HINT_SPLIT,
      };
    }
    if (type === "alias" && ++aliases > YAML_LIMITS.aliases) {
      return {
        offset,
        path: [],
        what: `tug.yaml uses more than ${YAML_LIMITS.aliases} aliases (*name)`,
        hint: HINT_SPLIT,
      };
    }
    if (type === "flow-map-start" || type === "flow-seq-start") flowDepth++;
    else if (type === "flow-map-end" || type === "flow-seq-end") flowDepth--;
    if (flowDepth > YAML_LIMITS.depth) return depthProblem(offset);
    if (!NOT_SOURCE.has(token)) offset += token.length;
  }
  return undefined;
}

export function depthProblem(offset: number): Diagnostic {
  return {
    offset,
    path: [],
    what: `tug.yaml nests more than ${YAML_LIMITS.depth} levels deep`,
    hint: "tug.yaml needs only a few levels (images → name → field); flatten this part",
  };
}

/** The yaml parser reports its own stack overflow as a syntax error; that is a depth problem. */
export function isDepthOverflow(message: string): boolean {
  return message.includes("Maximum call stack size exceeded");
}

/** Block nesting (which the token scan cannot see), walked without recursion. */
export function documentDepthProblem(doc: Document): Diagnostic | undefined {
  const stack: Array<{ node: unknown; depth: number }> = [{ node: doc.contents, depth: 1 }];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const { node, depth } = top;
    if (isMap(node) || isSeq(node)) {
      if (depth > YAML_LIMITS.depth) return depthProblem(node.range?.[0] ?? 0);
      for (const item of node.items) stack.push({ node: item, depth: depth + 1 });
    } else if (isPair(node)) {
      stack.push({ node: node.key, depth }, { node: node.value, depth });
    }
  }
  return undefined;
}

/** `doc.toJS` with alias expansion bounded; an expansion past the bound becomes a diagnostic. */
export function boundedToJS(doc: Document): { value: unknown } | { problem: Diagnostic } {
  try {
    return { value: doc.toJS({ maxAliasCount: YAML_LIMITS.aliasExpansion }) };
  } catch (e) {
    // yaml throws a ReferenceError("Excessive alias count …") for an alias bomb.
    if (!(e instanceof ReferenceError)) throw e;
    return {
      problem: {
        offset: firstAliasOffset(doc),
        path: [],
        what: `tug.yaml's aliases expand to more than ${YAML_LIMITS.aliasExpansion} values (an alias bomb)`,
        hint: "each *alias copies its anchor's whole value; use fewer or smaller anchors",
      },
    };
  }
}

function firstAliasOffset(doc: Document): number {
  const stack: unknown[] = [doc.contents];
  let first = Number.POSITIVE_INFINITY;
  while (stack.length > 0) {
    const node = stack.pop();
    if (isAlias(node)) first = Math.min(first, node.range?.[0] ?? first);
    else if (isMap(node) || isSeq(node)) stack.push(...node.items);
    else if (isPair(node)) stack.push(node.key, node.value);
  }
  return Number.isFinite(first) ? first : 0;
}
