import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { get as httpGet, type IncomingMessage } from "node:http";
import { get as httpsGet } from "node:https";
import { dirname, join } from "node:path";
import { type Readable, Transform } from "node:stream";
import { fileURLToPath } from "node:url";
import { tempPathFor } from "../../engine/dead-temps.ts";
import { pipeToFile } from "../../engine/file-write.ts";
import { TugError } from "../../errors.ts";
import { hexOf, sha256 } from "../../oci/digest.ts";
import { ZipReader } from "../../zip/zip-reader.ts";
import { type IndexFile, PEP691_JSON, parseHtmlPage, parseJsonPage } from "./index-page.ts";
import { normalizeName } from "./name.ts";
import { metadataByRange, type RangeFetch } from "./range-metadata.ts";

export type { DistMetadata, IndexFile } from "./index-page.ts";
export { parseMetadata } from "./index-page.ts";

export interface SimpleIndexOptions {
  /** index_url first, then extra_index_urls; http(s):// or file:// URLs of a `simple/` root. */
  urls: readonly string[];
  /** METADATA lands in `cacheDir/metadata/sha256/HEX`; wheels in `wheelDir` (default `cacheDir/wheels/sha256`). */
  cacheDir: string;
  /**
   * Where wheels are kept by sha256. tug passes its CAS (`$TUG_CACHE/blobs/sha256`): a wheel is
   * then one more content-addressed blob that `tug cache stats/prune/verify` see.
   */
  wheelDir?: string;
  /** Asked before downloading a wheel: true when it was put into `wheelDir` (e.g. from a shared cache). */
  fromCache?: (sha256: string) => Promise<boolean>;
  /** Told about each wheel used, downloaded or already cached (e.g. to share it). */
  onWheel?: (sha256: string, path: string) => void;
}

export interface SimpleIndex {
  /** Every file the indexes list for the project, in index order; [] when none knows it. */
  projectFiles(name: string): Promise<IndexFile[]>;
  /** The file's core METADATA: PEP 658 `.metadata` when offered, else read from the wheel. */
  metadata(file: IndexFile): Promise<string>;
  /** The wheel in the cache, downloaded once and checked against the index's sha256. */
  wheelPath(file: IndexFile): Promise<string>;
  /** URLs fetched so far (pages, metadata, wheels), for tests and "no requests" checks. */
  readonly requests: readonly string[];
}

// PEP 691: prefer JSON, accept the HTML flavours; a PEP 503-only server ignores the header.
const ACCEPT = `${PEP691_JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01`;
const MAX_REDIRECTS = 5;

interface Fetched {
  /** Undefined for file:// (the type is guessed from the file name). */
  contentType: string | undefined;
  body: Readable;
  url: string;
}

function unreachable(url: string, why: string, cause?: unknown): TugError {
  return new TugError({
    what: `cannot fetch ${url}: ${why}`,
    hint: "check index_url / extra_index_urls and the network",
    cause,
  });
}

function httpRequest(url: string, accept: string | undefined, redirects = 0): Promise<Fetched | undefined> {
  return httpGetWith(url, accept ? { accept } : {}, redirects);
}

function httpGetWith(
  url: string,
  headers: Record<string, string>,
  redirects = 0,
): Promise<(Fetched & { status: number; contentRange: string | undefined }) | undefined> {
  const get = url.startsWith("https:") ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    const req = get(url, { headers }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects >= MAX_REDIRECTS) return reject(unreachable(url, "too many redirects"));
        const next = new URL(res.headers.location, url).href;
        return resolve(httpGetWith(next, headers, redirects + 1));
      }
      if (status === 404 || status === 410) {
        res.resume();
        return resolve(undefined);
      }
      if (status < 200 || status >= 300) {
        res.resume();
        return reject(unreachable(url, `HTTP ${status}`));
      }
      resolve({
        contentType: res.headers["content-type"],
        body: res,
        url,
        status,
        contentRange: res.headers["content-range"],
      });
    });
    req.on("error", (err) => reject(unreachable(url, err.message, err)));
  });
}

/**
 * Range reads of an http(s) file, for metadataByRange: undefined as soon as the server answers
 * a range request with the whole file (200) or without a total size.
 */
function rangeFetch(url: string, log: (what: string) => void): RangeFetch {
  return async (range) => {
    const spec = "suffix" in range ? `bytes=-${range.suffix}` : `bytes=${range.start}-${range.end}`;
    log(`${url} (${spec})`);
    const got = await httpGetWith(url, { range: spec });
    if (!got) return undefined;
    const total = Number(/\/(\d+)$/.exec(got.contentRange ?? "")?.[1]);
    if (got.status !== 206 || !Number.isSafeInteger(total)) {
      got.body.destroy();
      return undefined;
    }
    return { bytes: await readAll(got.body), total };
  };
}

/** GETs an http(s) or file URL; undefined when it does not exist. A file:// directory means its index.html. */
async function fetchUrl(url: string, accept?: string): Promise<Fetched | undefined> {
  if (url.startsWith("http:") || url.startsWith("https:")) return httpRequest(url, accept);
  if (!url.startsWith("file:")) throw unreachable(url, "only http, https and file URLs are supported");
  let path = fileURLToPath(url);
  if (url.endsWith("/")) path = join(path, "index.html");
  try {
    if (!(await stat(path)).isFile()) return undefined;
  } catch {
    return undefined;
  }
  return { contentType: undefined, body: createReadStream(path), url };
}

async function readAll(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function hashMismatch(what: string, url: string, want: string, got: string): TugError {
  return new TugError({
    what: `${what} does not match the index's sha256 (expected ${want}, got ${got})`,
    where: url,
    hint: "the index or a proxy serves different bytes than it lists; fix or rebuild the index",
  });
}

/** Writes a stream into `dest` atomically and returns its sha256; `dest` appears only when `want` matches. */
async function download(
  body: Readable,
  dest: string,
  label: string,
  url: string,
  want?: string,
): Promise<string> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = tempPathFor(dest);
  const hash = createHash("sha256");
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeToFile(body, [tap], tmp);
    const got = hash.digest("hex");
    if (want && got !== want) throw hashMismatch(label, url, want, got);
    await rename(tmp, dest);
    return got;
  } finally {
    await rm(tmp, { force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** A PEP 503 / PEP 691 client over one or more indexes, with a sha256-keyed download cache. */
export function simpleIndex(options: SimpleIndexOptions): SimpleIndex {
  const wheelDir = options.wheelDir ?? join(options.cacheDir, "wheels", "sha256");
  const requests: string[] = [];
  const pages = new Map<string, Promise<IndexFile[]>>();
  const wheels = new Map<string, Promise<string>>();
  const fetchLogged = (url: string, accept?: string) => {
    requests.push(url);
    return fetchUrl(url, accept);
  };

  async function page(root: string, name: string): Promise<IndexFile[]> {
    const pageUrl = new URL(`${normalizeName(name)}/`, root.endsWith("/") ? root : `${root}/`).href;
    const got = await fetchLogged(pageUrl, ACCEPT);
    if (!got) return [];
    const text = (await readAll(got.body)).toString("utf8");
    const json = got.contentType?.split(";")[0]?.trim().toLowerCase() === PEP691_JSON;
    return json ? parseJsonPage(text, got.url) : parseHtmlPage(text, got.url);
  }

  async function projectFiles(name: string): Promise<IndexFile[]> {
    const key = normalizeName(name);
    let p = pages.get(key);
    if (!p) {
      p = Promise.all(options.urls.map((u) => page(u, key))).then((lists) => lists.flat());
      pages.set(key, p);
      p.catch(() => pages.delete(key));
    }
    return p;
  }

  async function fetchWheel(file: IndexFile): Promise<string> {
    const dir = wheelDir;
    if (file.sha256 && (await exists(join(dir, file.sha256)))) {
      // Used now: `tug cache prune` drops the least recently used blobs first.
      const now = new Date();
      utimes(join(dir, file.sha256), now, now).catch(() => {});
      options.onWheel?.(file.sha256, join(dir, file.sha256));
      return join(dir, file.sha256);
    }
    if (file.sha256 && (await options.fromCache?.(file.sha256))) return join(dir, file.sha256);
    const got = await fetchLogged(file.url);
    if (!got) throw unreachable(file.url, "the index lists it but it is not there");
    if (file.sha256) {
      const dest = join(dir, file.sha256);
      await download(got.body, dest, `wheel ${file.filename}`, file.url, file.sha256);
      options.onWheel?.(file.sha256, dest);
      return dest;
    }
    // No hash from the index: keep it under the hash of what arrived.
    // pid in the name: a killed download is swept by the next build (sweepDeadTemps).
    const tmp = tempPathFor(join(dir, "unverified"));
    const sha = await download(got.body, tmp, `wheel ${file.filename}`, file.url);
    await rename(tmp, join(dir, sha));
    options.onWheel?.(sha, join(dir, sha));
    return join(dir, sha);
  }

  function wheelPath(file: IndexFile): Promise<string> {
    const key = file.sha256 ?? file.url;
    let p = wheels.get(key);
    if (!p) {
      p = fetchWheel(file);
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
        throw new TugError({ what: `wheel ${file.filename} has no *.dist-info/METADATA`, where: file.url });
      }
      return (await zip.read(entry)).toString("utf8");
    } finally {
      await zip.close();
    }
  }

  async function metadata(file: IndexFile): Promise<string> {
    // Keyed by the wheel's hash: METADATA is part of the wheel, so it never changes for one sha256.
    const cached = file.sha256 ? join(options.cacheDir, "metadata", "sha256", file.sha256) : undefined;
    if (cached && (await exists(cached))) return readFile(cached, "utf8");
    let text: string | undefined;
    if (file.metadataUrl) {
      const got = await fetchLogged(file.metadataUrl);
      if (got) {
        const data = await readAll(got.body);
        const sha = hexOf(sha256(data));
        if (file.metadataSha256 && sha !== file.metadataSha256) {
          throw hashMismatch(`metadata of ${file.filename}`, file.metadataUrl, file.metadataSha256, sha);
        }
        text = data.toString("utf8");
      }
    }
    // Without PEP 658, an http index may still serve ranges: read METADATA out of the wheel's
    // central directory instead of downloading a wheel the resolver may never choose.
    const local = file.sha256 ? join(wheelDir, file.sha256) : undefined;
    const have = wheels.has(file.sha256 ?? file.url) || (local !== undefined && (await exists(local)));
    if (text === undefined && /^https?:/.test(file.url) && !have) {
      text = await metadataByRange(
        rangeFetch(file.url, (u) => requests.push(u)),
        file.url,
      ).catch(() => undefined);
    }
    text ??= await metadataFromWheel(file);
    if (cached) {
      await mkdir(dirname(cached), { recursive: true });
      const tmp = tempPathFor(cached);
      await writeFile(tmp, text);
      await rename(tmp, cached);
    }
    return text;
  }

  return { projectFiles, metadata, wheelPath, requests };
}
