import { TugError } from "../errors.ts";
import { parseRequirement, type Requirement } from "./requirement.ts";

/** A requirement line from a requirements file, with its pins and position. */
export interface FileRequirement extends Requirement {
  /** `--hash` pins as "algorithm:hexdigest", lowercased; empty when unpinned. */
  hashes: string[];
  file: string;
  line: number;
}

/** A file named by `-r` (include) or `-c` (constraints), relative to the including file. */
export interface FileReference {
  path: string;
  file: string;
  line: number;
}

/** An index option written in a requirements file (pip honours them; so does tug). */
export interface IndexOption {
  option: "--index-url" | "--extra-index-url";
  url: string;
  file: string;
  line: number;
}

export interface RequirementsFile {
  requirements: FileRequirement[];
  /** `-r` / `--requirement`: the caller reads and parses these. */
  includes: FileReference[];
  /** `-c` / `--constraint`. */
  constraints: FileReference[];
  indexUrl: string | undefined;
  extraIndexUrls: string[];
  /** `--index-url` / `-i` and `--extra-index-url` lines in order, with where they are written. */
  indexOptions: IndexOption[];
  /** Other pip options that do not change what tug installs (e.g. --prefer-binary); ignored. */
  ignoredOptions: { option: string; value: string | undefined; line: number }[];
}

// Options taking a value; the value may follow after "=" or a space.
const VALUE_OPTIONS: ReadonlyMap<string, string> = new Map([
  ["-r", "--requirement"],
  ["--requirement", "--requirement"],
  ["-c", "--constraint"],
  ["--constraint", "--constraint"],
  ["-i", "--index-url"],
  ["--index-url", "--index-url"],
  ["--extra-index-url", "--extra-index-url"],
  ["-f", "--find-links"],
  ["--find-links", "--find-links"],
  ["--trusted-host", "--trusted-host"],
  ["--only-binary", "--only-binary"],
  ["--no-binary", "--no-binary"],
  ["--use-feature", "--use-feature"],
]);
const FLAG_OPTIONS = new Set(["--pre", "--prefer-binary", "--no-index", "--require-hashes"]);
const HASH = /^(sha256|sha384|sha512):([0-9a-f]+)$/i;
const HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

/** pip's logical lines: a trailing backslash continues; `#` at the start or after a space comments. */
function logicalLines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const cur: { text: string; line: number } = pending ?? { text: "", line: i + 1 };
    if (raw.endsWith("\\")) {
      cur.text += raw.slice(0, -1);
      pending = cur;
      return;
    }
    cur.text += raw;
    pending = undefined;
    out.push(cur);
  });
  if (pending) out.push(pending);
  return out.map((l) => ({ line: l.line, text: l.text.replace(/(^|\s)#.*$/, "").trim() }));
}

/** Splits "--opt=value" / "--opt value" tokens into [option, value] pairs. */
function readOptions(tokens: string[], where: string): [string, string | undefined][] {
  const out: [string, string | undefined][] = [];
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i] ?? "";
    const eq = tok.startsWith("--") ? tok.indexOf("=") : -1;
    const name = eq < 0 ? tok : tok.slice(0, eq);
    if (!name.startsWith("-")) {
      throw new TugError({ what: `unexpected "${tok}" after the options`, where });
    }
    if (name === "--hash" || VALUE_OPTIONS.has(name)) {
      const value = eq >= 0 ? tok.slice(eq + 1) : tokens[++i];
      if (value === undefined || value === "") throw new TugError({ what: `${name} needs a value`, where });
      out.push([name, value]);
    } else if (/^-[rcif]./.test(name)) {
      out.push([name.slice(0, 2), name.slice(2)]); // "-rother.txt"
    } else if (FLAG_OPTIONS.has(name)) {
      out.push([name, eq < 0 ? undefined : tok.slice(eq + 1)]);
    } else {
      // Named here, before its value could pass for stray text: pip would stop on it too.
      throw new TugError({
        what: `unknown option "${name}" in a requirements file`,
        where,
        hint: `tug reads ${[...new Set(VALUE_OPTIONS.values()), ...FLAG_OPTIONS, "--hash"].join(", ")}`,
      });
    }
  }
  return out;
}

function hashPin(value: string, where: string): string {
  const m = HASH.exec(value);
  const algo = m?.[1]?.toLowerCase() ?? "";
  if (!m || m[2]?.length !== HEX_LENGTH[algo]) {
    throw new TugError({
      what: `invalid --hash "${value}"`,
      where,
      hint: "write --hash=sha256:<64 hex digits> (sha384 and sha512 also work)",
    });
  }
  return `${algo}:${m[2]?.toLowerCase()}`;
}

/**
 * Parses a pip requirements file. `file` names it in errors ("requirements.txt:7"). Includes
 * are returned, not read: this function does no I/O. Environment variables are not expanded.
 */
export function parseRequirementsFile(text: string, file: string): RequirementsFile {
  const result: RequirementsFile = {
    requirements: [],
    includes: [],
    constraints: [],
    indexUrl: undefined,
    extraIndexUrls: [],
    indexOptions: [],
    ignoredOptions: [],
  };
  for (const { text: lineText, line } of logicalLines(text)) {
    if (lineText === "") continue;
    const where = `${file}:${line}`;
    if (/^(-e|--editable)(\s|=|$)/.test(lineText)) {
      throw new TugError({
        what: `editable requirement "${lineText}" is not supported`,
        where,
        hint: "put first-party code in the lambda's source roots; list only index distributions here",
      });
    }
    // Like pip: the requirement is the tokens before the first one that starts with "-".
    // Sliced from the text, not re-joined, so spacing inside marker strings survives.
    const firstOption = /(^|\s)-/.exec(lineText);
    const reqText = (firstOption ? lineText.slice(0, firstOption.index) : lineText).trim();
    const optionText = firstOption ? lineText.slice(firstOption.index).trim() : "";
    const options = readOptions(optionText === "" ? [] : optionText.split(/\s+/), where);

    if (reqText === "") {
      for (const [rawName, value] of options) {
        const option = VALUE_OPTIONS.get(rawName) ?? rawName;
        const ref = { path: value ?? "", file, line };
        if (option === "--requirement") result.includes.push(ref);
        else if (option === "--constraint") result.constraints.push(ref);
        else if (option === "--index-url" || option === "--extra-index-url") {
          const url = value ?? "";
          if (url.includes("${")) {
            throw new TugError({
              what: `${option} ${url} names an environment variable`,
              where,
              hint: "tug does not expand variables in requirements files; write the URL, or set python.index_url in tug.yaml",
            });
          }
          if (option === "--index-url") result.indexUrl = url;
          else result.extraIndexUrls.push(url);
          result.indexOptions.push({ option, url, file, line });
        } else if (option === "--find-links") {
          throw new TugError({
            what: `--find-links ${value ?? ""} is not supported`,
            where,
            hint: "serve the wheels as a PEP 503 index (a simple/NAME/ page per project) and name it with --extra-index-url or python.extra_index_urls",
          });
        } else if (VALUE_OPTIONS.has(option) || FLAG_OPTIONS.has(option)) {
          // --trusted-host among them: tug never turns TLS checks off; an http:// index is used
          // as written and needs no trust, an https one with a private CA needs NODE_EXTRA_CA_CERTS.
          result.ignoredOptions.push({ option, value, line });
        } else {
          throw new TugError({ what: `unknown option "${rawName}" in a requirements file`, where });
        }
      }
      continue;
    }

    if (/^(\.|\/|[a-z][a-z0-9+.-]*:\/\/)/i.test(reqText)) {
      throw new TugError({
        what: `path or URL requirement "${reqText}" is not supported`,
        where,
        hint: "name the distribution and a version (e.g. name==1.2); tug installs wheels from package indexes",
      });
    }
    const hashes: string[] = [];
    for (const [name, value] of options) {
      if (name !== "--hash") {
        throw new TugError({ what: `option "${name}" is not allowed after a requirement`, where });
      }
      hashes.push(hashPin(value ?? "", where));
    }
    result.requirements.push({ ...parseRequirement(reqText, where), hashes, file, line });
  }
  return result;
}
