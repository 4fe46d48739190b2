import { createReadStream } from "node:fs";
import { mkdir, readFile, rename, stat, utimes, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { hashJson } from "../engine/key.ts";
import { TugError } from "../errors.ts";
import { hexOf, sha256 } from "../oci/digest.ts";
import { tempPathFor } from "../util/dead-temps.ts";
import { redactUrl } from "../util/redact.ts";
import { ownSha256Hex, type Sha256Hex } from "../util/sha256-hex.ts";
import { ZipReader } from "../zip/zip-reader.ts";
import { indexAuth, withoutUserinfo } from "./index-auth.ts";
import { download, hashMismatch } from "./index-download.ts";
import { fetchError, indexGet, readLimited } from "./index-http.ts";
import { type IndexFile, PEP691_JSON, parseHtmlPage, parseJsonPage } from "./index-page.ts";
import { checkMetadataIdentity } from "./metadata-identity.ts";
import { normalizeName } from "./name.ts";
import { MAX_METADATA_BYTES, metadataByRange, type RangeFetch } from "./range-metadata.ts";

export type { DistMetadata, IndexFile } from "./index-page.ts";
export { parseMetadata } from "./index-page.ts";

export interface SimpleIndexOptions {
  /**
   * index_url first, then extra_index_urls; http(s):// or file:// URLs of a `simple/` root. A
   * `user:password@` in one is sent as Basic auth to that index's own origin only and appears in
   * no request log, message or key.
   */
  urls: readonly string[];
  /** METADATA lands under `cacheDir/metadata/v2/`; wheels in `wheelDir` (default `cacheDir/wheels/sha256`). */
  cacheDir: string;
  /**
   * Where wheels are kept by sha256. tug passes its CAS (`$TUG_CACHE/blobs/sha256`): a wheel is
   * then one more content-addressed blob that `tug cache stats/prune/verify` see.
   */
  wheelDir?: string;
  /** Asked before downloading a wheel: true when it was put into `wheelDir` (e.g. from a shared cache). */
  fromCache?: (sha256: Sha256Hex) => Promise<boolean>;
  /** Told about each wheel used, downloaded or already cached (e.g. to share it). */
  onWheel?: (sha256: Sha256Hex, path: string) => void;
  /** Where NETRC and HOME are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Largest wheel downloaded (default MAX_WHEEL_BYTES). */
  maxWheelBytes?: number;
}

export interface SimpleIndex {
  /** Every file the indexes list for the project, in index order; [] when none knows it. */
  projectFiles(name: string): Promise<IndexFile[]>;
  /** The file's core METADATA: PEP 658 `.metadata` when offered, else read from the wheel. */
  metadata(file: IndexFile): Promise<string>;
  /**
   * The wheel in the cache, downloaded once and checked against the index's sha256; `meter`
   * (given the announced size, 0 when unknown) counts a download's bytes for a progress view.
   */
  wheelPath(
    file: IndexFile,
    meter?: (size: number) => ((bytes: number) => void) | undefined,
  ): Promise<string>;
  /** URLs fetched so far (pages, metadata, wheels), without credentials, for tests and "no requests" checks. */
  readonly requests: readonly string[];
}

// PEP 691: prefer JSON, accept the HTML flavours; a PEP 503-only server ignores the header.
const ACCEPT = `${PEP691_JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01`;
// PyPI's largest project pages (botocore, boto3: thousands of files) are a few MiB as JSON or
// HTML; 32 MiB leaves room for any real index and stops an endless page long before memory does.
const MAX_PAGE_BYTES = 32 * 1024 * 1024;
/**
 * A Lambda zip or layer holds at most 250 MB unpacked, so a wheel over 1 GiB can never be used;
 * the cap stops an index streaming an endless "wheel" onto the disk (it would fail its sha256
 * only at the end, or have none).
 */
export const MAX_WHEEL_BYTES = 1024 * 1024 * 1024;

interface Fetched {
  /** Undefined for file:// (the type is guessed from the file name). */
  contentType: string | undefined;
  contentLength: number | undefined;
  body: Readable;
  url: string;
}

function unusableError(file: IndexFile): TugError {
  return new TugError({
    what: `${file.filename} cannot be used: ${file.unusable ?? "refused"}`,
    where: file.index ? `the index ${redactUrl(file.index)}` : redactUrl(file.url),
    hint: "the index is broken or hostile; fix it, pin another version, or stop using that index",
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

async function writeAtomically(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** A PEP 503 / PEP 691 client over one or more indexes, with a sha256-keyed download cache. */
export function simpleIndex(options: SimpleIndexOptions): SimpleIndex {
  const wheelDir = options.wheelDir ?? join(options.cacheDir, "wheels", "sha256");
  const auth = indexAuth(options.urls, options.env);
  const maxWheel = options.maxWheelBytes ?? MAX_WHEEL_BYTES;
  const roots = options.urls.map(withoutUserinfo);
  // A file: link is honoured only when a file: index is configured (index-page.ts refuses it
  // from http pages; this also covers URLs that come back from a lock).
  const fileIndexes = roots.some((u) => u.startsWith("file:"));
  const requests: string[] = [];
  const pages = new Map<string, Promise<IndexFile[]>>();
  const wheels = new Map<string, Promise<string>>();

  /** GETs an http(s) or file URL; undefined when it does not exist. A file:// directory means its index.html. */
  async function fetchUrl(
    url: string,
    how: { what: string; accept?: string; deadline: boolean; crossOrigin: boolean },
  ): Promise<Fetched | undefined> {
    if (url.startsWith("http:") || url.startsWith("https:")) {
      requests.push(url);
      return indexGet({ url, ...how, authorization: (u) => auth.authorization(u) });
    }
    if (!url.startsWith("file:") || !fileIndexes) {
      throw fetchError(how.what, url, "only http and https URLs are fetched for an http index");
    }
    requests.push(url);
    let path = fileURLToPath(url);
    if (url.endsWith("/")) path = join(path, "index.html");
    try {
      const st = await stat(path);
      if (!st.isFile()) return undefined;
      return { contentType: undefined, contentLength: st.size, body: createReadStream(path), url };
    } catch {
      return undefined;
    }
  }

  /**
   * Range reads of an http(s) file, for metadataByRange: undefined as soon as the server answers
   * a range request with the whole file (200) or without a total size. Each answer is bounded by
   * what was asked for.
   */
  function rangeFetch(file: IndexFile): RangeFetch {
    return async (range) => {
      const spec = "suffix" in range ? `bytes=-${range.suffix}` : `bytes=${range.start}-${range.end}`;
      const asked = "suffix" in range ? range.suffix : range.end - range.start + 1;
      requests.push(`${file.url} (${spec})`);
      const what = `part of ${file.filename}`;
      const got = await indexGet({
        url: file.url,
        what,
        range: spec,
        deadline: true,
        crossOrigin: file.sha256 !== undefined,
        authorization: (u) => auth.authorization(u),
      });
      if (!got) return undefined;
      const total = Number(/\/(\d+)$/.exec(got.contentRange ?? "")?.[1]);
      if (got.status !== 206 || !Number.isSafeInteger(total)) {
        got.body.destroy();
        return undefined;
      }
      const bytes = await readLimited(got.body, {
        max: asked,
        what,
        url: got.url,
        announced: got.contentLength,
      });
      return { bytes, total };
    };
  }

  async function page(root: string, name: string): Promise<IndexFile[]> {
    const pageUrl = new URL(`${normalizeName(name)}/`, root.endsWith("/") ? root : `${root}/`).href;
    const what = `the index page of ${name}`;
    // A page may come from behind a redirect (a CDN); what it lists is checked file by file.
    const got = await fetchUrl(pageUrl, { what, accept: ACCEPT, deadline: true, crossOrigin: true });
    if (!got) return [];
    const bytes = await readLimited(got.body, {
      max: MAX_PAGE_BYTES,
      what,
      url: got.url,
      announced: got.contentLength,
    });
    const text = bytes.toString("utf8");
    const json = got.contentType?.split(";")[0]?.trim().toLowerCase() === PEP691_JSON;
    const files = json ? parseJsonPage(text, got.url) : parseHtmlPage(text, got.url);
    return files.map((f) => {
      // A login written into a link is not kept: URLs end up in locks, logs and messages.
      const out: IndexFile = { ...f, url: withoutUserinfo(f.url), index: urlKey(root) };
      if (f.metadataUrl) out.metadataUrl = withoutUserinfo(f.metadataUrl);
      return out;
    });
  }

  async function projectFiles(name: string): Promise<IndexFile[]> {
    const key = normalizeName(name);
    let p = pages.get(key);
    if (!p) {
      p = Promise.all(roots.map((u) => page(u, key))).then((lists) => lists.flat());
      pages.set(key, p);
      p.catch(() => pages.delete(key));
    }
    return p;
  }

  async function fetchWheel(
    file: IndexFile,
    meter?: (size: number) => ((bytes: number) => void) | undefined,
  ): Promise<string> {
    if (file.unusable) throw unusableError(file);
    const dir = wheelDir;
    if (file.sha256 && (await exists(join(dir, file.sha256)))) {
      // Used now: `tug cache prune` drops the least recently used blobs first.
      const now = new Date();
      utimes(join(dir, file.sha256), now, now).catch(() => {});
      options.onWheel?.(file.sha256, join(dir, file.sha256));
      return join(dir, file.sha256);
    }
    if (file.sha256 && (await options.fromCache?.(file.sha256))) return join(dir, file.sha256);
    const what = `wheel ${file.filename}`;
    // Bytes from another host are fine when they are checked against the index's sha256.
    const got = await fetchUrl(file.url, { what, deadline: false, crossOrigin: file.sha256 !== undefined });
    if (!got) throw fetchError(what, file.url, "the index lists it but it is not there");
    const onBytes = meter?.(got.contentLength ?? 0);
    if (file.sha256) {
      const dest = join(dir, file.sha256);
      await download({
        body: got.body,
        dest,
        what,
        url: file.url,
        want: file.sha256,
        max: maxWheel,
        announced: got.contentLength,
        onBytes,
      });
      options.onWheel?.(file.sha256, dest);
      return dest;
    }
    // No hash from the index: keep it under the hash of what arrived (the lock records that hash).
    // pid in the name: a killed download is swept by the next build (sweepDeadTemps).
    const tmp = tempPathFor(join(dir, "unverified"));
    const sha = await download({
      body: got.body,
      dest: tmp,
      what,
      url: file.url,
      max: maxWheel,
      announced: got.contentLength,
      onBytes,
    });
    await rename(tmp, join(dir, sha));
    options.onWheel?.(sha, join(dir, sha));
    return join(dir, sha);
  }

  function wheelPath(
    file: IndexFile,
    meter?: (size: number) => ((bytes: number) => void) | undefined,
  ): Promise<string> {
    const key = file.sha256 ?? file.url;
    let p = wheels.get(key);
    if (!p) {
      p = fetchWheel(file, meter);
      wheels.set(key, p);
      p.catch(() => wheels.delete(key));
    }
    return p;
  }

  async function metadataFromWheel(file: IndexFile): Promise<string> {
    const zip = await ZipReader.open(await wheelPath(file));
    try {
      const entry = zip.entries.find((e) => /^[^/]+\.dist-info\/METADATA$/.test(e.name));
      if (!entry) {
        throw new TugError({
          what: `wheel ${file.filename} has no *.dist-info/METADATA`,
          where: redactUrl(file.url),
        });
      }
      if (entry.uncompressedSize > MAX_METADATA_BYTES) throw metadataTooBig(file);
      return (await zip.read(entry)).toString("utf8");
    } finally {
      await zip.close();
    }
  }

  /** PEP 658 metadata, checked against its advertised sha256 when there is one; undefined when absent. */
  async function metadataFile(file: IndexFile, url: string): Promise<string | undefined> {
    const what = `metadata of ${file.filename}`;
    const got = await fetchUrl(url, { what, deadline: true, crossOrigin: file.metadataSha256 !== undefined });
    if (!got) return undefined;
    const data = await readLimited(got.body, {
      max: MAX_METADATA_BYTES,
      what,
      url: got.url,
      announced: got.contentLength,
    });
    const sha = hexOf(sha256(data));
    if (file.metadataSha256 && sha !== file.metadataSha256) {
      throw hashMismatch(what, url, file.metadataSha256, sha);
    }
    return data.toString("utf8");
  }

  async function metadata(file: IndexFile): Promise<string> {
    if (file.unusable) throw unusableError(file);
    const cached = metadataCachePath(options.cacheDir, file);
    if (cached && (await exists(cached))) return readFile(cached, "utf8");
    let text = file.metadataUrl ? await metadataFile(file, file.metadataUrl) : undefined;
    // Without PEP 658, an http index may still serve ranges: read METADATA out of the wheel's
    // central directory instead of downloading a wheel the resolver may never choose.
    const local = file.sha256 ? join(wheelDir, file.sha256) : undefined;
    const have = wheels.has(file.sha256 ?? file.url) || (local !== undefined && (await exists(local)));
    if (text === undefined && /^https?:/.test(file.url) && !have) {
      text = await metadataByRange(rangeFetch(file), file.url).catch(() => undefined);
    }
    text ??= await metadataFromWheel(file);
    checkMetadataIdentity(file, text);
    if (cached) await writeAtomically(cached, text);
    return text;
  }

  return { projectFiles, metadata, wheelPath, requests };
}

function metadataTooBig(file: IndexFile): TugError {
  return new TugError({
    what: `the METADATA of ${file.filename} is larger than ${MAX_METADATA_BYTES / 1024 / 1024} MiB`,
    where: redactUrl(file.url),
    hint: "no real wheel has metadata this big; the index or the wheel is broken or hostile",
  });
}

/** An index's identity in keys: its URL without login, query or fragment. */
function urlKey(url: string): string {
  const u = new URL(withoutUserinfo(url));
  u.search = "";
  u.hash = "";
  return u.href;
}

/**
 * Where a file's METADATA is cached: keyed by (index, file name, wheel sha256, metadata sha256),
 * so what one index says about a file name can never answer for another index. A file the index
 * gives no hash for at all (neither the wheel's nor the metadata's) is not cached: nothing would
 * tie the cached text to the bytes it describes.
 */
export function metadataCachePath(cacheDir: string, file: IndexFile): string | undefined {
  if (!file.sha256 && !file.metadataSha256) return undefined;
  const key = hashJson({
    index: file.index ?? urlKey(file.url),
    filename: file.filename,
    wheel: file.sha256 ?? null,
    metadata: file.metadataSha256 ?? null,
  });
  return join(cacheDir, "metadata", "v2", key);
}

/** The sha256 a wheel path names (wheels are kept under their sha256). */
export function wheelSha256(path: string): Sha256Hex {
  return ownSha256Hex(basename(path));
}
