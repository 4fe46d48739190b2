import { eq, valid } from "@renovatebot/pep440";
import { TugError } from "../errors.ts";
import { redactUrl } from "../util/redact.ts";
import { type IndexFile, parseMetadata } from "./index-page.ts";
import { normalizeName } from "./name.ts";
import { parseWheelName } from "./wheel-name.ts";

/** PEP 440 equality (1.0 = 1.0.0, 1.0-1 = 1.0.post1), as pip compares canonical versions. */
function sameVersionAs(a: string, b: string): boolean {
  return a === b || (valid(a) !== null && valid(b) !== null && eq(a, b));
}

/**
 * A wheel's METADATA must name the distribution and version its file name does (PEP 503 / PEP
 * 440 normalised), as pip checks: otherwise an index could answer for `requests` with the
 * dependencies of something else. Non-wheel files are not checked (tug installs only wheels).
 */
export function checkMetadataIdentity(file: Pick<IndexFile, "filename" | "url">, text: string): void {
  if (!file.filename.endsWith(".whl")) return;
  const wheel = parseWheelName(file.filename);
  const meta = parseMetadata(text, redactUrl(file.url));
  const sameName = normalizeName(meta.name) === wheel.normalizedName;
  const sameVersion = sameVersionAs(meta.version, wheel.version);
  if (sameName && sameVersion) return;
  throw new TugError({
    what: `the METADATA of ${file.filename} is for ${meta.name} ${meta.version}, not ${wheel.name} ${wheel.version} as its file name says`,
    where: redactUrl(file.url),
    hint: "the index serves metadata of another distribution or version under this file name (pip refuses it too); fix the index or stop using it",
  });
}
