import { TugError } from "../errors.ts";
import { type Marker, parseMarker } from "./markers.ts";
import { isValidName, normalizeName } from "./name.ts";

/** One PEP 508 requirement naming a distribution on an index (URL requirements are refused). */
export interface Requirement {
  /** PEP 503 normalised name. */
  name: string;
  /** The name as written, for messages. */
  displayName: string;
  /** Normalised extras, sorted, without duplicates. */
  extras: string[];
  /** Version specifier as written minus spaces and parentheses ("" = any), e.g. ">=1.2,<2". */
  specifier: string;
  marker: Marker | undefined;
  /** Marker text as written, for messages and lock files. */
  markerText: string | undefined;
  /** The requirement as written. */
  text: string;
}

const NAME = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)/;
const CLAUSE = /^(~=|===|==|!=|<=|>=|<|>)\s*([A-Za-z0-9_.*+!-]+)$/;

function invalid(text: string, why: string, where: string | undefined, hint?: string): TugError {
  return new TugError({
    what: `invalid requirement "${text.trim()}": ${why}`,
    where,
    hint: hint ?? `requirements look like: name[extra1,extra2] >=1.0,<2 ; python_version >= "3.10" (PEP 508)`,
  });
}

function urlRefused(text: string, where: string | undefined): TugError {
  return new TugError({
    what: `URL requirement "${text.trim()}" is not supported`,
    where,
    hint: "tug installs wheels from package indexes only: name the distribution and a version (e.g. name==1.2), or serve the wheel from a file:// index",
  });
}

/** Parses one PEP 508 requirement; `where` (e.g. "requirements.txt:3") goes into errors. */
export function parseRequirement(text: string, where?: string): Requirement {
  const m = NAME.exec(text);
  if (!m) throw invalid(text, "it does not start with a distribution name", where);
  const displayName = m[1] ?? "";
  let rest = text.slice(m[0].length).trim();

  let extras: string[] = [];
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close < 0) throw invalid(text, 'missing "]" after the extras', where);
    const list = rest
      .slice(1, close)
      .split(",")
      .map((e) => e.trim());
    const named = list.filter((e) => e !== "");
    if (named.length !== list.length && !(list.length === 1 && named.length === 0)) {
      throw invalid(text, "empty extra name", where);
    }
    for (const e of named) if (!isValidName(e)) throw invalid(text, `"${e}" is not an extra name`, where);
    extras = [...new Set(named.map(normalizeName))].sort();
    rest = rest.slice(close + 1).trim();
  }

  if (rest.startsWith("@")) throw urlRefused(text, where);

  const semi = rest.indexOf(";");
  let spec = (semi < 0 ? rest : rest.slice(0, semi)).trim();
  const markerText = semi < 0 ? undefined : rest.slice(semi + 1).trim();
  if (spec.startsWith("(")) {
    if (!spec.endsWith(")")) throw invalid(text, 'missing ")" after the version specifier', where);
    spec = spec.slice(1, -1).trim();
  }
  const clauses = spec === "" ? [] : spec.split(",").map((c) => c.trim());
  for (const clause of clauses) {
    const c = CLAUSE.exec(clause);
    if (!c) throw invalid(text, `"${clause}" is not a version specifier`, where);
    if (c[2]?.includes("*") && !(c[1] === "==" || c[1] === "!=")) {
      throw invalid(text, `"${clause}": only == and != take a .* wildcard`, where);
    }
  }
  let marker: Marker | undefined;
  if (markerText !== undefined) {
    if (markerText === "") throw invalid(text, 'nothing after ";"', where);
    try {
      marker = parseMarker(markerText);
    } catch (e) {
      if (e instanceof TugError) throw new TugError({ what: e.what, where, hint: e.hint });
      throw e;
    }
  }
  return {
    name: normalizeName(displayName),
    displayName,
    extras,
    specifier: clauses.map((c) => c.replace(/\s+/g, "")).join(","),
    marker,
    markerText,
    text: text.trim(),
  };
}
