// How wheels become the files of a Python image's dependencies layer: `pip install --target
// /app/site-packages` semantics (wheel-layout.ts decides each file's place), plus what pip puts
// beside the target: `.data/scripts` and generated console-script launchers in /app/bin.
import { inflateRawSync } from "node:zlib";
import { TugError } from "../errors.ts";
import type { LayerEntry } from "../oci/tar.ts";
import { installedName } from "../python/wheel-layout.ts";
import { WHEEL_ORIGIN_FILE, wheelOriginJson } from "../python/wheel-origin.ts";
import type { WheelFile, WheelRow } from "../python/wheel-table.ts";
import { invalidNameReason } from "../zip/entry.ts";

export const SITE_PACKAGES = "app/site-packages";
export const BIN = "app/bin";

/** Bump when the `.pth` sitePthEntry writes changes. */
export const SITE_PTH_VERSION = 1;

/**
 * A `.pth` in the base's own site directory that makes /app/site-packages a site directory too:
 * PYTHONPATH alone puts it on sys.path, but only `site` reads the `.pth` files wheels install there
 * (setuptools' distutils-precedence.pth, namespace-package and path hooks), as a venv or a pip
 * install into the base would. `addsitedir` keeps PYTHONPATH's place for the directory (it is
 * already on sys.path) and runs its `.pth` files. No sitecustomize: the base may have its own.
 */
export function sitePthEntry(siteDir: string): LayerEntry {
  const line = `import site; site.addsitedir(${JSON.stringify(`/${SITE_PACKAGES}`)})\n`;
  return {
    path: `${siteDir.replace(/^\/+/, "")}/tug-app-site-packages.pth`,
    type: "file",
    mode: 0o644,
    data: Buffer.from(line),
  };
}
/** Launchers and rewritten scripts run the base's python3 from PATH, with PYTHONPATH set by the image. */
const SHEBANG = "#!/usr/bin/env python3";

export interface ConsoleScript {
  name: string;
  module: string;
  /** Dotted attribute path inside the module, e.g. "main" or "cli.run". */
  attr: string;
}

const SCRIPT_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const DOTTED = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/**
 * The `[console_scripts]` and `[gui_scripts]` of an entry_points.txt (the packaging spec's INI
 * form: `name = module:attr [extras]`). A wheel is outside input: a name that is no plain file
 * name, or a target that is not `module:attr`, is refused naming the wheel.
 */
export function consoleScripts(text: string, wheel: string): ConsoleScript[] {
  const out: ConsoleScript[] = [];
  let section = "";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) {
      section = (head[1] as string).trim();
      continue;
    }
    if (section !== "console_scripts" && section !== "gui_scripts") continue;
    const eq = line.indexOf("=");
    const name = line.slice(0, eq).trim();
    const value = line
      .slice(eq + 1)
      .replace(/\[[^\]]*\]\s*$/, "")
      .trim();
    const [module = "", attr = ""] = value.split(":").map((s) => s.trim());
    if (eq <= 0 || !SCRIPT_NAME.test(name) || !DOTTED.test(module) || !DOTTED.test(attr)) {
      throw new TugError({
        what: `wheel ${wheel} declares an entry point that cannot be installed: ${JSON.stringify(line)}`,
        hint: "entry points are `name = module:attr`, name a plain file name; use another version of the distribution",
      });
    }
    out.push({ name, module, attr });
  }
  return out;
}

/** The launcher pip writes for a console script, run by the image's python3. */
export function launcherScript(s: ConsoleScript): string {
  const first = s.attr.split(".")[0] as string;
  return [
    SHEBANG,
    "# -*- coding: utf-8 -*-",
    "import re",
    "import sys",
    `from ${s.module} import ${first}`,
    "if __name__ == '__main__':",
    "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])",
    `    sys.exit(${s.attr}())`,
    "",
  ].join("\n");
}

/** `#!python` (the wheel spec's placeholder) becomes the image's interpreter, as installers do. */
export function rewriteShebang(data: Uint8Array): Uint8Array {
  const buf = Buffer.from(data);
  if (!buf.subarray(0, 8).toString("latin1").startsWith("#!python")) return data;
  const eol = buf.indexOf(0x0a);
  const rest = eol < 0 ? Buffer.alloc(0) : buf.subarray(eol);
  return Buffer.concat([Buffer.from(SHEBANG), rest]);
}

async function contents(file: WheelFile, row: WheelRow): Promise<Uint8Array> {
  const raw = await file.raw(row);
  let bytes: Uint8Array;
  if (raw instanceof Uint8Array) bytes = raw;
  else {
    const chunks: Buffer[] = [];
    for await (const c of raw) chunks.push(c as Buffer);
    bytes = Buffer.concat(chunks);
  }
  // The wheel's table was verified (CRC, sizes) before it was recorded: inflating is safe.
  return row.method === 8 ? inflateRawSync(bytes) : bytes;
}

/** One installed wheel: its rows (from the verified wheel table) read through `file`. */
export interface InstalledWheel {
  wheel: string;
  /** Hex sha256 of the wheel file: written beside its METADATA for the image's SBOM. */
  sha256: string;
  rows: readonly WheelRow[];
  file: WheelFile;
}

/**
 * The layer entries of several wheels installed together. Two wheels writing one path with
 * different bytes is refused naming both (pip would silently let the later one win).
 */
export async function installEntries(wheels: readonly InstalledWheel[]): Promise<LayerEntry[]> {
  const byPath = new Map<string, { wheel: string; entry: LayerEntry }>();
  const add = (wheel: string, entry: LayerEntry) => {
    const prior = byPath.get(entry.path);
    if (prior && !Buffer.from(prior.entry.data ?? []).equals(Buffer.from(entry.data ?? []))) {
      throw new TugError({
        what: `wheels ${prior.wheel} and ${wheel} both install /${entry.path} with different content`,
        hint: "two distributions provide the same file; drop or pin one of them",
      });
    }
    byPath.set(entry.path, { wheel, entry });
  };
  for (const w of wheels) {
    for (const row of w.rows) {
      if (row.name.endsWith("/")) continue;
      const script = /^[^/]+\.data\/scripts\/([^/]+)$/.exec(row.name);
      if (script) {
        const data = rewriteShebang(await contents(w.file, row));
        add(w.wheel, { path: `${BIN}/${script[1]}`, type: "file", mode: 0o755, data });
        continue;
      }
      const name = installedName(row.name);
      if (name === undefined) continue;
      const invalid = invalidNameReason(name, false);
      if (invalid) {
        throw new TugError({
          what: `wheel ${w.wheel} has an entry ${JSON.stringify(row.name)} that cannot be installed: ${invalid}`,
          hint: "the wheel is malformed; use another version or rebuild it",
        });
      }
      const data = await contents(w.file, row);
      add(w.wheel, {
        path: `${SITE_PACKAGES}/${name}`,
        type: "file",
        mode: row.mode & 0o111 ? 0o755 : 0o644,
        data,
      });
      const metadata = /^([^/]+\.dist-info)\/METADATA$/.exec(name);
      if (metadata) {
        // Which wheel file this distribution came from, for the image's SBOM (wheel-origin.ts).
        add(w.wheel, {
          path: `${SITE_PACKAGES}/${metadata[1]}/${WHEEL_ORIGIN_FILE}`,
          type: "file",
          mode: 0o644,
          data: wheelOriginJson(w.wheel, w.sha256),
        });
      }
      if (/^[^/]+\.dist-info\/entry_points\.txt$/.test(name)) {
        for (const s of consoleScripts(Buffer.from(data).toString("utf8"), w.wheel)) {
          add(w.wheel, {
            path: `${BIN}/${s.name}`,
            type: "file",
            mode: 0o755,
            data: Buffer.from(launcherScript(s)),
          });
        }
      }
    }
  }
  return [...byPath.values()].map((v) => v.entry).sort((a, b) => (a.path < b.path ? -1 : 1));
}
