import { TugError } from "../errors.ts";
import { isSha256Hex, type Sha256Hex } from "../util/sha256-hex.ts";

/** One file a package index lists for a project (PEP 503 / PEP 691). */
export interface IndexFile {
  filename: string;
  /** Absolute URL, fragment removed. */
  url: string;
  /** Hex sha256 from the index (`#sha256=` fragment or PEP 691 `hashes`), when offered. */
  sha256?: Sha256Hex;
  /** PEP 345 specifier from `data-requires-python` / `requires-python`. */
  requiresPython?: string;
  /** PEP 592: the file is yanked; the reason when one was given, else "". */
  yanked?: string;
  /** PEP 658/714: where the file's METADATA alone can be fetched. */
  metadataUrl?: string;
  /** Hex sha256 of that METADATA file, when the index gave one. */
  metadataSha256?: Sha256Hex;
  /**
   * Why the file must not be used: a hash that is not a sha256 digest, or a link an index of
   * this kind may not make (a `file:` URL on an http page). The file stays listed so that choosing
   * it fails with this reason instead of a puzzling "no wheel"; nothing of it is fetched.
   */
  unusable?: string;
  /** The index (without credentials) whose page listed it; set by the client, part of metadata keys. */
  index?: string;
}

export const PEP691_JSON = "application/vnd.pypi.simple.v1+json";

const ENTITIES: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function unescapeHtml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, body: string) => {
    if (body[0] === "#") {
      const code =
        body[1] === "x" || body[1] === "X" ? Number.parseInt(body.slice(2), 16) : Number(body.slice(1));
      return Number.isFinite(code) ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[body.toLowerCase()] ?? whole;
  });
}

function attributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g;
  for (const m of text.matchAll(re)) {
    const name = (m[1] ?? "").toLowerCase();
    if (!out.has(name)) out.set(name, unescapeHtml(m[2] ?? m[3] ?? m[4] ?? ""));
  }
  return out;
}

/** A hash from a page: a checked Sha256Hex, or the reason the file is unusable. */
type PageHash = { sha256: Sha256Hex } | { bad: string };

function pageHash(value: unknown): PageHash {
  const hex = typeof value === "string" ? value.toLowerCase() : value;
  if (isSha256Hex(hex)) return { sha256: hex };
  const shown = typeof value === "string" ? JSON.stringify(value.slice(0, 80)) : typeof value;
  return { bad: `its sha256 ${shown} is not a sha256 digest` };
}

/** Splits a `#sha256=HEX` fragment (other hash names are ignored: the cache is keyed by sha256). */
function splitHash(url: URL): { url: string; hash?: PageHash } {
  const m = /^#sha256=(.*)$/is.exec(url.hash);
  url.hash = "";
  return m ? { url: url.href, hash: pageHash(decodeFragment(m[1] ?? "")) } : { url: url.href };
}

function decodeFragment(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * PEP 503 leaves the link's scheme to the index; tug does not: an http(s) page may link only
 * http(s) files (a `file:` link would make tug read a local file as a wheel), and a `file:` index
 * may link its own files or http(s) ones.
 */
function linkRefusal(pageUrl: string, link: string): string | undefined {
  const page = new URL(pageUrl).protocol;
  const to = new URL(link).protocol;
  if (to === "http:" || to === "https:") return undefined;
  if (to === "file:" && page === "file:") return undefined;
  const allowed = page === "file:" ? "http(s) and file:" : "http(s)";
  return `its link is a ${to} URL; ${page === "file:" ? "a file:" : "an http(s)"} index may link only ${allowed} files`;
}

function fileWith(
  base: { filename: string; url: string },
  hash: PageHash | undefined,
  pageUrl: string,
): IndexFile {
  const file: IndexFile = { ...base };
  const refused = linkRefusal(pageUrl, base.url);
  if (refused) file.unusable = refused;
  else if (hash && "bad" in hash) file.unusable = hash.bad;
  else if (hash) file.sha256 = hash.sha256;
  return file;
}

function filenameOf(url: string): string {
  const path = new URL(url).pathname;
  return decodeURIComponent(path.slice(path.lastIndexOf("/") + 1));
}

/** `true`, `"sha256=HEX"` or a PEP 691 hashes object → the metadata's hash, or false if not offered. */
function metadataOffer(value: unknown): { hash?: PageHash } | false {
  if (value === true || value === "true") return {};
  if (typeof value === "string") {
    const m = /(?:^|,)\s*sha256=([^,]*)/i.exec(value);
    return m ? { hash: pageHash(m[1]?.trim()) } : value === "false" || value === "" ? false : {};
  }
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    return "sha256" in o ? { hash: pageHash(o.sha256) } : {};
  }
  return false;
}

function withMetadata(file: IndexFile, offer: { hash?: PageHash } | false): IndexFile {
  if (!offer) return file;
  const out: IndexFile = { ...file, metadataUrl: `${file.url}.metadata` };
  if (offer.hash && "bad" in offer.hash) out.unusable ??= `its metadata's ${offer.hash.bad.slice(4)}`;
  else if (offer.hash) out.metadataSha256 = offer.hash.sha256;
  return out;
}

/** PEP 503 project page: every anchor is a file; `<base href>` is honoured. */
export function parseHtmlPage(html: string, pageUrl: string): IndexFile[] {
  const base = /<base\s([^>]*)>/i.exec(html);
  const baseHref = base ? attributes(base[1] ?? "").get("href") : undefined;
  const baseUrl = baseHref ? new URL(baseHref, pageUrl).href : pageUrl;
  const files: IndexFile[] = [];
  for (const m of html.matchAll(/<a\s([^>]*)>([\s\S]*?)<\/a\s*>/gi)) {
    const attrs = attributes(m[1] ?? "");
    const href = attrs.get("href");
    if (!href) continue;
    const { url, hash } = splitHash(new URL(href, baseUrl));
    const text = unescapeHtml((m[2] ?? "").replace(/<[^>]*>/g, "")).trim();
    let file = fileWith({ filename: text || filenameOf(url), url }, hash, pageUrl);
    const requiresPython = attrs.get("data-requires-python");
    if (requiresPython) file.requiresPython = requiresPython;
    const yanked = attrs.get("data-yanked");
    if (yanked !== undefined) file.yanked = yanked;
    const offer = attrs.get("data-core-metadata") ?? attrs.get("data-dist-info-metadata");
    file = withMetadata(file, offer === undefined ? false : metadataOffer(offer));
    files.push(file);
  }
  return files;
}

function malformed(pageUrl: string, why: string): TugError {
  return new TugError({ what: `the index page ${pageUrl} is not valid PEP 691 JSON: ${why}` });
}

/** PEP 691 JSON project page. */
export function parseJsonPage(text: string, pageUrl: string): IndexFile[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw malformed(pageUrl, (err as Error).message);
  }
  const list = doc && typeof doc === "object" ? (doc as Record<string, unknown>).files : undefined;
  if (!Array.isArray(list)) throw malformed(pageUrl, 'no "files" array');
  return list.map((entry: unknown): IndexFile => {
    if (!entry || typeof entry !== "object") throw malformed(pageUrl, "a file entry is not an object");
    const e = entry as Record<string, unknown>;
    if (typeof e.url !== "string") throw malformed(pageUrl, 'a file entry has no "url"');
    const { url, hash: fragmentHash } = splitHash(new URL(e.url, pageUrl));
    const hashes = e.hashes && typeof e.hashes === "object" ? (e.hashes as Record<string, unknown>) : {};
    const hash = "sha256" in hashes ? pageHash(hashes.sha256) : fragmentHash;
    const filename = typeof e.filename === "string" ? e.filename : filenameOf(url);
    let file = fileWith({ filename, url }, hash, pageUrl);
    if (typeof e["requires-python"] === "string" && e["requires-python"]) {
      file.requiresPython = e["requires-python"];
    }
    if (e.yanked === true) file.yanked = "";
    else if (typeof e.yanked === "string") file.yanked = e.yanked;
    file = withMetadata(file, metadataOffer(e["core-metadata"] ?? e["dist-info-metadata"]));
    return file;
  });
}

/** The parts of a core METADATA file (RFC 822-style headers) that resolution needs. */
export interface DistMetadata {
  name: string;
  version: string;
  requiresDist: string[];
  requiresPython?: string;
  providesExtra: string[];
}

/** Header fields of a METADATA file; the body (long description) after the first blank line is ignored. */
export function metadataHeaders(text: string): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  let last: string[] | undefined;
  for (const line of text.replace(/\r\n?/g, "\n").split("\n")) {
    if (line === "") break;
    if (/^[ \t]/.test(line) && last) {
      last[last.length - 1] += `\n${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    last = headers.get(key) ?? [];
    last.push(line.slice(colon + 1).trim());
    headers.set(key, last);
  }
  return headers;
}

export function parseMetadata(text: string, where?: string): DistMetadata {
  const h = metadataHeaders(text);
  const name = h.get("name")?.[0];
  const version = h.get("version")?.[0];
  if (!name || !version) {
    throw new TugError({ what: "a METADATA file has no Name or Version header", where });
  }
  const out: DistMetadata = {
    name,
    version,
    requiresDist: h.get("requires-dist") ?? [],
    providesExtra: h.get("provides-extra") ?? [],
  };
  const requiresPython = h.get("requires-python")?.[0];
  if (requiresPython) out.requiresPython = requiresPython;
  return out;
}
