import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { normalizeName } from "../../../src/python/name.ts";

const exec = promisify(execFile);

/**
 * A wheel written by Python's own zipfile (an independent writer), laid out exactly as given:
 * namespace directories without `__init__.py`, no `top_level.txt` unless asked for (hatchling,
 * flit and maturin write none), RECORD listing every file.
 */
export interface PyWheel {
  name: string;
  version: string;
  /** Default py3-none-any. */
  tag?: string;
  /** Path inside the wheel → text, or bytes (a compiled extension, a shared library). */
  files: Record<string, string | Buffer>;
  requiresDist?: string[];
  /** Lines of top_level.txt; absent → no top_level.txt at all. */
  topLevel?: string[];
  /** More files in the `.dist-info` directory, name → text (e.g. entry_points.txt). */
  distInfo?: Record<string, string>;
  /** More METADATA header lines (License-Expression, Classifier, License). */
  metadata?: string[];
}

const WRITER = `
import base64, hashlib, json, sys, zipfile
spec = json.load(sys.stdin)
with zipfile.ZipFile(spec["path"], "w", zipfile.ZIP_DEFLATED) as z:
    record = []
    for name, b64 in spec["files"]:
        data = base64.b64decode(b64)
        z.writestr(name, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(spec["record"] + ",,")
    z.writestr(spec["record"], "\\n".join(record) + "\\n")
`;

/** Writes the wheels with python3's zipfile and a PEP 503 tree; returns the `file://…/simple/` URL. */
export async function pythonWheelIndex(root: string, wheels: readonly PyWheel[]): Promise<string> {
  const filesDir = join(root, "files");
  await mkdir(filesDir, { recursive: true });
  const pages = new Map<string, string[]>();
  for (const w of wheels) {
    const dist = w.name.replace(/[-_.]+/g, "_");
    const tag = w.tag ?? "py3-none-any";
    const filename = `${dist}-${w.version}-${tag}.whl`;
    const info = `${dist}-${w.version}.dist-info`;
    const [py, abi, plat] = tag.split("-");
    const meta = [`Metadata-Version: 2.1`, `Name: ${w.name}`, `Version: ${w.version}`];
    for (const r of w.requiresDist ?? []) meta.push(`Requires-Dist: ${r}`);
    meta.push(...(w.metadata ?? []));
    const files: Array<[string, string | Buffer]> = [
      ...Object.entries(w.files),
      [`${info}/METADATA`, `${meta.join("\n")}\n\n`],
      [
        `${info}/WHEEL`,
        `Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: ${abi === "none" && plat === "any"}\nTag: ${py}-${abi}-${plat}\n`,
      ],
    ];
    if (w.topLevel) files.push([`${info}/top_level.txt`, `${w.topLevel.join("\n")}\n`]);
    for (const [name, text] of Object.entries(w.distInfo ?? {})) files.push([`${info}/${name}`, text]);
    const path = join(filesDir, filename);
    const encoded = files.map(([name, data]) => [name, Buffer.from(data).toString("base64")]);
    const spec = JSON.stringify({ path, files: encoded, record: `${info}/RECORD` });
    const child = exec("python3", ["-c", WRITER]);
    child.child.stdin?.end(spec);
    await child;
    const sha = createHash("sha256")
      .update(await readFile(path))
      .digest("hex");
    const key = normalizeName(w.name);
    pages.set(key, [
      ...(pages.get(key) ?? []),
      `<a href="../../files/${filename}#sha256=${sha}">${filename}</a>`,
    ]);
  }
  for (const [name, links] of pages) {
    await mkdir(join(root, "simple", name), { recursive: true });
    await writeFile(
      join(root, "simple", name, "index.html"),
      `<html><body>\n${links.join("\n")}\n</body></html>\n`,
    );
  }
  return `${pathToFileURL(join(root, "simple")).href}/`;
}
