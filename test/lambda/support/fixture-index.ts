import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { pathToFileURL } from "node:url";
import { normalizeName } from "../../../src/lambda/python/name.ts";
import { createZip } from "../../../src/zip/zip-writer.ts";

/** One wheel of the fixture index: a real PEP 427 zip with METADATA, WHEEL, RECORD and a module. */
export interface FixtureWheel {
  name: string;
  version: string;
  /** "py3-none-any", "cp311-abi3-manylinux_2_17_x86_64", "cp311-cp311-macosx_11_0_arm64", … */
  tag: string;
  requiresDist?: string[];
  requiresPython?: string;
  /** PEP 592: true or a reason. */
  yanked?: boolean | string;
  /** Write a PEP 658 `FILE.metadata` next to the wheel and advertise it. */
  metadataFile?: boolean;
}

export interface FixtureIndex {
  /** Directory holding `simple/` and `files/`. */
  root: string;
  /** `file://…/simple/` */
  simpleUrl: string;
  /** filename → local path of the wheel under `files/`. */
  wheels: Map<string, string>;
}

function b64url(data: Buffer): string {
  return data.toString("base64url");
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function metadataText(w: FixtureWheel): string {
  const lines = ["Metadata-Version: 2.1", `Name: ${w.name}`, `Version: ${w.version}`];
  if (w.requiresPython) lines.push(`Requires-Python: ${w.requiresPython}`);
  for (const r of w.requiresDist ?? []) lines.push(`Requires-Dist: ${r}`);
  return `${lines.join("\n")}\n\n# ${w.name}\n\nRequires-Dist: not-a-header-in-the-body\n`;
}

async function buildWheel(w: FixtureWheel, dir: string): Promise<{ filename: string; path: string }> {
  const dist = w.name.replace(/[-_.]+/g, "_");
  const filename = `${dist}-${w.version}-${w.tag}.whl`;
  const info = `${dist}-${w.version}.dist-info`;
  const [py, abi, plat] = w.tag.split("-");
  const pure = abi === "none" && plat === "any";
  const files: Array<[string, Buffer]> = [
    [`${dist.toLowerCase()}/__init__.py`, Buffer.from(`VERSION = "${w.version}"\n`)],
    [`${info}/METADATA`, Buffer.from(metadataText(w))],
    [
      `${info}/WHEEL`,
      Buffer.from(
        `Wheel-Version: 1.0\nGenerator: tug-fixtures\nRoot-Is-Purelib: ${pure}\nTag: ${py}-${abi}-${plat}\n`,
      ),
    ],
    [`${info}/top_level.txt`, Buffer.from(`${dist.toLowerCase()}\n`)],
  ];
  const record = files.map(
    ([n, d]) => `${n},sha256=${b64url(createHash("sha256").update(d).digest())},${d.length}`,
  );
  record.push(`${info}/RECORD,,`);
  files.push([`${info}/RECORD`, Buffer.from(`${record.join("\n")}\n`)]);
  const path = join(dir, filename);
  await createZip(
    files.map(([name, data]) => ({ name, data })),
    path,
  );
  return { filename, path };
}

const sha256File = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

/** Builds the wheels and a PEP 503 tree (`simple/NAME/index.html` + PEP 691 `index.json`). */
export async function buildFixtureIndex(
  root: string,
  wheels: readonly FixtureWheel[],
): Promise<FixtureIndex> {
  const filesDir = join(root, "files");
  await mkdir(filesDir, { recursive: true });
  const byProject = new Map<string, { html: string[]; json: object[] }>();
  const out = new Map<string, string>();
  for (const w of wheels) {
    const { filename, path } = await buildWheel(w, filesDir);
    out.set(filename, path);
    const sha = await sha256File(path);
    const href = `../../files/${filename}`;
    const attrs = [`href="${href}#sha256=${sha}"`];
    const json: Record<string, unknown> = { filename, url: href, hashes: { sha256: sha } };
    if (w.requiresPython) {
      attrs.push(`data-requires-python="${escapeHtml(w.requiresPython)}"`);
      json["requires-python"] = w.requiresPython;
    }
    if (w.yanked !== undefined && w.yanked !== false) {
      const reason = w.yanked === true ? "" : w.yanked;
      attrs.push(reason ? `data-yanked="${escapeHtml(reason)}"` : "data-yanked");
      json.yanked = reason || true;
    }
    if (w.metadataFile) {
      const meta = Buffer.from(metadataText(w));
      await writeFile(`${path}.metadata`, meta);
      const msha = createHash("sha256").update(meta).digest("hex");
      attrs.push(`data-dist-info-metadata="sha256=${msha}"`, `data-core-metadata="sha256=${msha}"`);
      json["core-metadata"] = { sha256: msha };
    }
    const key = normalizeName(w.name);
    const page = byProject.get(key) ?? { html: [], json: [] };
    page.html.push(`<a ${attrs.join(" ")}>${escapeHtml(filename)}</a>`);
    page.json.push(json);
    byProject.set(key, page);
  }
  for (const [name, page] of byProject) {
    const dir = join(root, "simple", name);
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, "index.html"),
      `<!DOCTYPE html><html><body>\n${page.html.join("\n")}\n</body></html>\n`,
    );
    const doc = { meta: { "api-version": "1.1" }, name, files: page.json };
    await writeFile(join(dir, "index.json"), JSON.stringify(doc));
  }
  return { root, simpleUrl: `${pathToFileURL(join(root, "simple")).href}/`, wheels: out };
}

export interface ServedIndex {
  /** `http://127.0.0.1:PORT/simple/` */
  simpleUrl: string;
  /** Request paths with the content type served, e.g. "GET /simple/foo/ json". */
  log: string[];
}

/**
 * Serves a fixture tree over HTTP: project pages as PEP 691 JSON when the Accept header asks
 * for it (or `json: false` to act as a PEP 503-only server), everything else as files.
 * The server is closed when `t` ends.
 */
export async function serveFixtureIndex(
  t: TestContext,
  root: string,
  opts: { json?: boolean } = {},
): Promise<ServedIndex> {
  const log: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    if (path.includes("..")) return void res.writeHead(400).end();
    const wantsJson =
      opts.json !== false && (req.headers.accept ?? "").includes("application/vnd.pypi.simple.v1+json");
    const [file, type] = path.endsWith("/")
      ? wantsJson
        ? [join(root, path, "index.json"), "application/vnd.pypi.simple.v1+json"]
        : [join(root, path, "index.html"), "text/html"]
      : [join(root, path), "application/octet-stream"];
    log.push(`GET ${path} ${type.includes("json") ? "json" : type.includes("html") ? "html" : "file"}`);
    stat(file).then(
      (s) => {
        res.writeHead(200, { "content-type": type, "content-length": s.size });
        createReadStream(file).pipe(res);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { simpleUrl: `http://127.0.0.1:${port}/simple/`, log };
}
