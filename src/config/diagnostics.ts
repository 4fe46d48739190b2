import type { Document, LineCounter } from "yaml";
import type { z } from "zod";
import { TugError } from "../errors.ts";
import { formatPath, type KeyPath, locate, position } from "./locate.ts";
import { BUILDERS, FIELD_HELP, IMAGE_NAME, RESERVED_KEYS, TugFileSchema } from "./schema.ts";
import { closest } from "./suggest.ts";

/** One problem in tug.yaml, located by source offset. */
export interface Diagnostic {
  offset: number;
  path: KeyPath;
  what: string;
  hint?: string;
}

const BUILDER_NAMES = Object.keys(BUILDERS);

function valueAt(raw: unknown, path: KeyPath): unknown {
  let v = raw;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

function describe(v: unknown): string {
  if (v === null) return "an empty value";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

const EXPECTED: Record<string, string> = {
  string: "a string",
  array: "a list",
  object: "a mapping",
  record: "a mapping",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
};

function help(key: PropertyKey | undefined): string | undefined {
  return typeof key === "string" && key in FIELD_HELP
    ? FIELD_HELP[key as keyof typeof FIELD_HELP]
    : undefined;
}

/** The FIELD_HELP key of `path[i]` where one name means two things (`layers` of images and lambdas). */
function helpKey(path: KeyPath, i: number): PropertyKey | undefined {
  const key = path[i];
  if (path[0] === "images" && path[2] === "layers") {
    if (i === 2) return "imageLayers";
    if (i === 4 && key === "from") return "layerFrom";
    if (i === 4 && key === "to") return "layerTo";
  }
  if (path[0] === "lambdas" && i === 2 && key === "layers") return "lambdaLayers";
  return key;
}

/** Help for the innermost key on the path that has some (`ports[1]` → ports). */
function helpFor(path: KeyPath): string | undefined {
  for (let i = path.length - 1; i >= 0; i--) {
    const h = help(helpKey(path, i));
    if (h) return h;
  }
  return undefined;
}

function unknownKey(key: string, path: KeyPath, raw: unknown): { what: string; hint: string } {
  const where = formatPath(path);
  if (path.length === 0) {
    if (RESERVED_KEYS.includes(key)) {
      return {
        what: `"${key}" is not supported by this version of tug yet`,
        hint: `remove the ${key}: section or upgrade tug`,
      };
    }
    const known = Object.keys(TugFileSchema.shape);
    const guess = closest(key, known);
    return {
      what: `unknown key "${key}"`,
      hint: guess ? `did you mean "${guess}"?` : `top-level keys are: ${known.join(", ")}`,
    };
  }
  if (path.length === 2 && path[0] === "images") {
    const builder = valueAt(raw, [...path, "builder"]);
    if (typeof builder === "string" && builder in BUILDERS) {
      const known = Object.keys(BUILDERS[builder as keyof typeof BUILDERS].shape);
      const guess = closest(key, known);
      const owners = BUILDER_NAMES.filter((b) => key in BUILDERS[b as keyof typeof BUILDERS].shape);
      if (!guess && owners.length > 0) {
        return {
          what: `"${key}" is not a ${builder} option`,
          hint: `${key} applies to builder: ${owners.join(" or ")}; ${builder} images accept ${known.join(", ")}`,
        };
      }
      return {
        what: `unknown key "${key}" in ${where}`,
        hint: guess ? `did you mean "${guess}"?` : `${builder} images accept ${known.join(", ")}`,
      };
    }
  }
  const known = path.at(-1) === "cache" ? ["remote"] : path.at(-1) === "compression" ? ["gzip"] : [];
  const guess = closest(key, known);
  return {
    what: `unknown key "${key}" in ${where}`,
    hint: guess
      ? `did you mean "${guess}"?`
      : known.length
        ? `accepted keys: ${known.join(", ")}`
        : "remove it",
  };
}

/** Turns zod's issues into located, human-worded diagnostics. */
export function issueDiagnostics(
  issues: readonly z.core.$ZodIssue[],
  doc: Document,
  raw: unknown,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const issue of issues) {
    const path = issue.path;
    const key = path.at(-1);
    const actual = valueAt(raw, path);
    const add = (what: string, hint?: string, at: "value" | "key" = "value", p: KeyPath = path) =>
      out.push({ offset: locate(doc, p, at), path: p, what, ...(hint === undefined ? {} : { hint }) });

    switch (issue.code) {
      case "unrecognized_keys":
        for (const k of issue.keys) {
          const { what, hint } = unknownKey(k, path, raw);
          add(what, hint, "key", [...path, k]);
        }
        break;
      case "invalid_union":
        if ("discriminator" in issue && issue.discriminator === "builder") {
          if (actual === undefined) {
            add(
              `${formatPath(path.slice(0, -1))} has no builder`,
              `add builder: ${BUILDER_NAMES.join(" | ")}`,
            );
          } else {
            const guess = typeof actual === "string" ? closest(actual, BUILDER_NAMES) : undefined;
            add(
              `unknown builder ${JSON.stringify(actual)}; expected one of ${BUILDER_NAMES.join(", ")}`,
              guess
                ? `did you mean "${guess}"?`
                : "other toolchains can use builder: command with run: and output: to produce the files",
            );
          }
        } else {
          add(issue.message, helpFor(path));
        }
        break;
      case "invalid_key":
        if (path.length === 2 && path[0] === "images") {
          const name = String(key);
          const fixed = name
            .toLowerCase()
            .replace(/[^a-z0-9._-]+/g, "-")
            .replace(/^[._-]+/, "");
          add(
            `image name "${name}" is not valid`,
            `names are lowercase letters, digits, '.', '_' and '-', starting with a letter or digit${IMAGE_NAME.test(fixed) ? `; try "${fixed}"` : ""}`,
            "key",
          );
        } else {
          add(`invalid key ${JSON.stringify(String(key))}`, undefined, "key");
        }
        break;
      case "invalid_type": {
        const expected = EXPECTED[issue.expected] ?? issue.expected;
        if (actual === undefined) {
          const field = String(key);
          const h = help(key);
          add(
            `${formatPath(path.slice(0, -1)) || "tug.yaml"} needs "${field}"`,
            h ? `add ${field}: — ${h}` : `add ${field}:`,
          );
        } else {
          const hint =
            issue.expected === "array" && typeof actual === "string"
              ? `write a list: ${String(key)}: [${JSON.stringify(actual)}]`
              : actual === null && (issue.expected === "object" || issue.expected === "record")
                ? `indent the keys that belong to ${String(key)} under it`
                : helpFor(path);
          add(`${formatPath(path)} must be ${expected}, not ${describe(actual)}`, hint);
        }
        break;
      }
      case "invalid_value":
        add(
          `${formatPath(path)} must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, not ${describe(actual)}`,
          helpFor(path),
        );
        break;
      case "too_small":
        add(
          Array.isArray(actual)
            ? `${formatPath(path)} must not be empty`
            : `${formatPath(path)} must be at least ${String(issue.minimum)}`,
          helpFor(path),
        );
        break;
      case "too_big":
        add(`${formatPath(path)} must be at most ${String(issue.maximum)}`, helpFor(path));
        break;
      case "custom": {
        const hint = issue.params?.hint;
        add(issue.message, typeof hint === "string" ? hint : helpFor(path));
        break;
      }
      default:
        add(`${formatPath(path)}: ${issue.message}`, helpFor(path));
    }
  }
  return out;
}

/**
 * One TugError for a list of diagnostics: the first in file order, with a count of the rest
 * (fixing one problem at a time is easier to follow than a wall of errors).
 */
export function diagnosticsError(
  diagnostics: readonly Diagnostic[],
  displayFile: string,
  lineCounter: LineCounter,
): TugError {
  const sorted = [...diagnostics].sort((a, b) => a.offset - b.offset);
  const first = sorted[0];
  if (!first) throw new Error("diagnosticsError needs at least one diagnostic");
  const more = sorted.length - 1;
  const pos = position(displayFile, lineCounter, first.offset);
  const keyPath = formatPath(first.path);
  return new TugError({
    what: more > 0 ? `${first.what} (and ${more} more)` : first.what,
    where: keyPath ? `${keyPath} (${pos})` : pos,
    ...(first.hint === undefined ? {} : { hint: first.hint }),
  });
}
