import { createRequire } from "node:module";
import { metadataHeaders } from "../python/index-page.ts";

// Declared licenses as SPDX license expressions, or undefined (written NOASSERTION) when the
// package declares none tug can state exactly: an SBOM that guesses is worse than one that says
// it does not know. Expressions are checked with spdx-expression-parse (npm's own validator).

// Loaded on first use (with its license-id tables): most builds write no SBOM.
let parser: typeof import("spdx-expression-parse").default | undefined;
function parse(s: string): unknown {
  parser ??= createRequire(import.meta.url)(
    "spdx-expression-parse",
  ) as typeof import("spdx-expression-parse").default;
  return parser(s);
}

/** Longer than any real expression; license texts pasted into a field are not expressions. */
const MAX_EXPRESSION = 512;

/** `text` when it is a valid SPDX license expression (ids are case-sensitive, as the spec says). */
export function spdxExpression(text: unknown): string | undefined {
  if (typeof text !== "string") return undefined;
  const s = text.trim();
  if (s === "" || s.length > MAX_EXPRESSION || /[\r\n]/.test(s)) return undefined;
  try {
    parse(s);
    return s;
  } catch {
    return undefined;
  }
}

/**
 * package.json's `license` (an SPDX expression), or the deprecated `license: {type}` and
 * `licenses: [{type}]` forms (several are alternatives, as npm documented them). `UNLICENSED` and
 * `SEE LICENSE IN …` name no SPDX license: undefined.
 */
export function npmLicense(pkg: unknown): string | undefined {
  if (typeof pkg !== "object" || pkg === null) return undefined;
  const { license, licenses } = pkg as { license?: unknown; licenses?: unknown };
  const typeOf = (v: unknown) => (typeof v === "object" && v !== null ? (v as { type?: unknown }).type : v);
  if (license !== undefined) return spdxExpression(typeOf(license));
  if (!Array.isArray(licenses) || licenses.length === 0) return undefined;
  const ids = licenses.map((l) => spdxExpression(typeOf(l)));
  if (ids.some((id) => id === undefined)) return undefined;
  const unique = [...new Set(ids as string[])];
  return unique.length === 1 ? unique[0] : unique.map((id) => `(${id})`).join(" OR ");
}

// Trove classifiers that name exactly one SPDX license. Those that do not say which version or
// variant (`BSD License`, `Apache Software License`, `Artistic License`) are not mapped.
const CLASSIFIERS: Record<string, string> = {
  "License :: OSI Approved :: MIT License": "MIT",
  "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
  "License :: OSI Approved :: ISC License (ISCL)": "ISC",
  "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
  "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
  "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
  "License :: OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
  "License :: OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
  "License :: OSI Approved :: Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0",
  "License :: OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
  "License :: OSI Approved :: European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
  "License :: OSI Approved :: Universal Permissive License (UPL)": "UPL-1.0",
  "License :: OSI Approved :: zlib/libpng License": "Zlib",
  "License :: OSI Approved :: Historical Permission Notice and Disclaimer (HPND)": "HPND",
  "License :: OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
  "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
  "License :: OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
  "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
  "License :: OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
  "License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
  "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
  "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
  "License :: OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
  "License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
  "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
};

/**
 * A Python distribution's license from its METADATA: `License-Expression` (PEP 639), else its
 * `License ::` classifiers when each maps to the same one SPDX id, else the `License` field when
 * it is itself a valid SPDX expression; else undefined.
 */
export function pythonLicense(metadata: string): string | undefined {
  const h = metadataHeaders(metadata);
  const expression = spdxExpression(h.get("license-expression")?.[0]);
  if (expression) return expression;
  const classifiers = (h.get("classifier") ?? [])
    .map((c) => c.replace(/\s*::\s*/g, " :: ").trim())
    .filter((c) => c.startsWith("License :: ") && c !== "License :: OSI Approved");
  if (classifiers.length > 0) {
    const ids = new Set(classifiers.map((c) => CLASSIFIERS[c]));
    const [only] = ids;
    if (ids.size === 1 && only) return only;
    // Unknown or several: fall through to the License field, which may say more exactly.
  }
  return spdxExpression(h.get("license")?.[0]);
}
