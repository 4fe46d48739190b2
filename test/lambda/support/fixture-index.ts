import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { pathToFileURL } from "node:url";
import { normalizeName } from "../../../src/python/name.ts";

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
  /** Text of the package's `__init__.py` (default: `VERSION = "…"`). */
  initPy?: string;
  /** More files in the wheel, path inside the wheel → bytes (e.g. a compiled extension). */
  files?: Record<string, Buffer>;
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

// Wheels are zipped by Python's own zipfile, never by tug's writer: a fixture tug wrote would
// prove only that tug reads its own zips. Fixed dates and modes keep the bytes (and so the
// index's hashes) the same from run to run.
const WHEEL_WRITER = `
import base64, json, sys, zipfile
for spec in json.load(sys.stdin):
    with zipfile.ZipFile(spec["path"], "w", zipfile.ZIP_DEFLATED) as z:
        for name, b64 in spec["files"]:
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, base64.b64decode(b64))
`;

/** Writes every wheel in one python3 process; `specs` are paths with their (name, bytes) files. */
function pythonZips(specs: Array<{ path: string; files: Array<[string, Buffer]> }>): Promise<void> {
  const input = JSON.stringify(
    specs.map((s) => ({ path: s.path, files: s.files.map(([n, d]) => [n, d.toString("base64")]) })),
  );
  return new Promise((resolve, reject) => {
    const child = execFile("python3", ["-c", WHEEL_WRITER], { maxBuffer: 1 << 20 }, (e, _out, err) =>
      e
        ? reject(new Error(`python3 zipfile could not write the fixture wheels: ${err || e.message}`))
        : resolve(),
    );
    child.stdin?.end(input);
  });
}

/** The files of a PEP 427 wheel for `w`, RECORD last, and where it goes. */
function wheelFiles(
  w: FixtureWheel,
  dir: string,
): { filename: string; path: string; files: Array<[string, Buffer]> } {
  const dist = w.name.replace(/[-_.]+/g, "_");
  const filename = `${dist}-${w.version}-${w.tag}.whl`;
  const info = `${dist}-${w.version}.dist-info`;
  const [py, abi, plat] = w.tag.split("-");
  const pure = abi === "none" && plat === "any";
  const files: Array<[string, Buffer]> = [
    [`${dist.toLowerCase()}/__init__.py`, Buffer.from(w.initPy ?? `VERSION = "${w.version}"\n`)],
    ...Object.entries(w.files ?? {}),
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
  return { filename, path: join(dir, filename), files };
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
  const planned = wheels.map((w) => wheelFiles(w, filesDir));
  await pythonZips(planned);
  for (const [i, w] of wheels.entries()) {
    const { filename, path } = planned[i]!;
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
  opts: { json?: boolean; ranges?: boolean } = {},
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
    // Single ranges ("bytes=A-B", "bytes=-N"), as static file servers and CDNs answer them.
    const range = opts.ranges === false ? null : /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
    stat(file).then(
      (s) => {
        if (range && !path.endsWith("/")) {
          const [start, end] = range[1]
            ? [Number(range[1]), range[2] ? Math.min(Number(range[2]), s.size - 1) : s.size - 1]
            : [Math.max(0, s.size - Number(range[2])), s.size - 1];
          log[log.length - 1] += ` range ${start}-${end}`;
          res.writeHead(206, {
            "content-type": type,
            "content-length": end - start + 1,
            "content-range": `bytes ${start}-${end}/${s.size}`,
          });
          createReadStream(file, { start, end }).pipe(res);
          return;
        }
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

const EM_X86_64 = 62;
const EM_AARCH64 = 183;

/**
 * A minimal ELF64 little-endian shared-object header (64 bytes) for `machine`: enough for
 * `readelf -h` and for tests that check which architecture's `.so` landed in a zip. It is not
 * loadable; a real extension comes from compileExtension.
 */
export function elfHeader(machine: "x86_64" | "aarch64"): Buffer {
  const b = Buffer.alloc(64);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // magic, ELFCLASS64, little-endian, EV_CURRENT, System V
  b.writeUInt16LE(3, 16); // ET_DYN
  b.writeUInt16LE(machine === "x86_64" ? EM_X86_64 : EM_AARCH64, 18);
  b.writeUInt32LE(1, 20); // e_version
  b.writeUInt16LE(64, 52); // e_ehsize
  b.writeUInt16LE(56, 54); // e_phentsize
  b.writeUInt16LE(64, 58); // e_shentsize
  return b;
}

/** e_machine of an ELF file's bytes: "x86_64", "aarch64" or the number. */
export function elfMachine(data: Buffer): string {
  if (data.subarray(0, 4).toString("latin1") !== "\x7fELF") throw new Error("not an ELF file");
  const m = data.readUInt16LE(18);
  return m === EM_X86_64 ? "x86_64" : m === EM_AARCH64 ? "aarch64" : String(m);
}

/** The local python3 and what a wheel of a C extension built for it is called. */
export interface LocalPython {
  /** [major, minor], e.g. [3, 11]. */
  version: [number, number];
  /** "cp311". */
  tag: string;
  /** "x86_64" or "aarch64". */
  machine: string;
  /** ".cpython-311-x86_64-linux-gnu.so". */
  extSuffix: string;
  include: string;
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
      if (error && typeof error.code === "string") reject(error);
      else resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Facts about the machine's python3 for building an extension. A missing python3, gcc or
 * Python.h is a broken test machine (scripts/ci-deps.sh installs them), so it throws, naming the fix.
 */
export async function localPython(): Promise<LocalPython> {
  const script = [
    "import json, os, platform, sys, sysconfig",
    "inc = sysconfig.get_paths()['include']",
    "print(json.dumps({'version': list(sys.version_info[:2]), 'machine': platform.machine(),",
    " 'extSuffix': sysconfig.get_config_var('EXT_SUFFIX'), 'include': inc,",
    " 'header': os.path.exists(os.path.join(inc, 'Python.h'))}))",
  ].join("\n");
  const py = await run("python3", ["-c", script]).catch((e: Error) => {
    throw new Error(
      `python3 is needed to build the extension fixture (${e.message}); run scripts/ci-deps.sh`,
    );
  });
  if (py.code !== 0) throw new Error(`python3 failed: ${py.stderr}`);
  const info = JSON.parse(py.stdout) as LocalPython & { header: boolean };
  if (!info.header) {
    throw new Error(
      `Python.h is missing under ${info.include}: install the Python headers (python3-dev; scripts/ci-deps.sh does)`,
    );
  }
  const gcc = await run("gcc", ["--version"]).catch(() => undefined);
  if (gcc?.code !== 0) throw new Error("gcc is missing: install it (scripts/ci-deps.sh does)");
  const [major, minor] = info.version;
  return {
    version: [major, minor],
    tag: `cp${major}${minor}`,
    machine: info.machine,
    extSuffix: info.extSuffix,
    include: info.include,
  };
}

/**
 * Compiles a CPython extension module from C `source` with gcc against the local Python's
 * headers; returns the shared object's file name (`module` + EXT_SUFFIX) and bytes.
 */
export async function compileExtension(
  dir: string,
  python: LocalPython,
  module: string,
  source: string,
): Promise<{ filename: string; data: Buffer }> {
  await mkdir(dir, { recursive: true });
  const c = join(dir, `${module}.c`);
  const filename = `${module}${python.extSuffix}`;
  await writeFile(c, source);
  const out = join(dir, filename);
  const r = await run("gcc", ["-shared", "-fPIC", "-O2", `-I${python.include}`, c, "-o", out]);
  if (r.code !== 0) throw new Error(`gcc could not build ${module}:\n${r.stderr}`);
  return { filename, data: await readFile(out) };
}
