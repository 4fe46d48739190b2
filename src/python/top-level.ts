import type { ZipReader } from "../zip/zip-reader.ts";
import { normalizeName } from "./name.ts";

/**
 * The usual distributions whose import name is not their project name, for when no wheel is at
 * hand (mapping an import to a requirement before anything is resolved). A wheel's own
 * `top_level.txt`/RECORD always wins; config overrides both. Keyed by PEP 503 normalised name.
 */
export const KNOWN_TOP_LEVEL: Readonly<Record<string, readonly string[]>> = {
  attrs: ["attr", "attrs"],
  beautifulsoup4: ["bs4"],
  "google-protobuf": ["google"],
  "opencv-python": ["cv2"],
  "opencv-python-headless": ["cv2"],
  pillow: ["PIL"],
  protobuf: ["google"],
  pyjwt: ["jwt"],
  "python-dateutil": ["dateutil"],
  "python-dotenv": ["dotenv"],
  pyyaml: ["yaml"],
  "scikit-image": ["skimage"],
  "scikit-learn": ["sklearn"],
  setuptools: ["setuptools", "pkg_resources", "_distutils_hack"],
  "typing-extensions": ["typing_extensions"],
};

/** A distribution's import names without its wheel: the table above, else the name with `-` → `_`. */
export function guessTopLevel(distribution: string): string[] {
  const key = normalizeName(distribution);
  return [...(KNOWN_TOP_LEVEL[key] ?? [key.replace(/-/g, "_")])];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
// `_cffi_backend.cpython-311-x86_64-linux-gnu.so`, `mod.abi3.so`, `mod.so`, `mod.pyd`: the name is before the first dot.
const EXTENSION = /^([A-Za-z_][A-Za-z0-9_]*)(\.[^/]*)?\.(so|pyd)$/;

/**
 * Importable top-level names from a wheel's file paths (RECORD or the zip listing): package
 * directories, `.py` modules and extension modules with their ABI suffix stripped. Metadata, data
 * files and auditwheel's `NAME.libs/` are not importable and are skipped; `.data/purelib` and
 * `.data/platlib` count as the root, as installers put them there.
 */
export function topLevelFromPaths(paths: Iterable<string>): string[] {
  const names = new Set<string>();
  for (const raw of paths) {
    let path = raw.replace(/\\/g, "/");
    const data = /^[^/]+\.data\/(purelib|platlib)\/(.*)$/.exec(path);
    if (data) path = data[2] as string;
    else if (/^[^/]+\.(dist-info|data)\//.test(path)) continue;
    const slash = path.indexOf("/");
    if (slash > 0) {
      const dir = path.slice(0, slash);
      if (IDENTIFIER.test(dir) && /\.(py|so|pyd)$/.test(path) && dir !== "__pycache__") names.add(dir);
      continue;
    }
    if (path.endsWith(".py") && IDENTIFIER.test(path.slice(0, -3))) names.add(path.slice(0, -3));
    else {
      const ext = EXTENSION.exec(path);
      if (ext) names.add(ext[1] as string);
    }
  }
  return [...names].sort();
}

/** Lines of `top_level.txt`: one name per line, `a/b` for nested ones (of which the top counts). */
export function parseTopLevelTxt(text: string): string[] {
  const names = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const top = line.trim().split(/[/\\]/)[0] ?? "";
    if (IDENTIFIER.test(top)) names.add(top);
  }
  return [...names].sort();
}

/** RECORD is CSV (`path,hash,size`); a path with a comma is quoted. */
export function recordPaths(text: string): string[] {
  const paths: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line) continue;
    const quoted = /^"((?:[^"]|"")*)"/.exec(line);
    paths.push(quoted ? (quoted[1] as string).replace(/""/g, '"') : (line.split(",")[0] as string));
  }
  return paths;
}

/**
 * The import names a wheel provides: `top_level.txt` when the wheel has one (setuptools writes
 * it; it is authoritative, and may name modules the paths alone would not show), else RECORD,
 * else the zip listing itself.
 */
export async function topLevelOfWheel(wheel: ZipReader): Promise<string[]> {
  const meta = (file: string) =>
    wheel.entries.find((e) => /^[^/]+\.dist-info\/[^/]+$/.test(e.name) && e.name.endsWith(`/${file}`));
  const txt = meta("top_level.txt");
  if (txt) {
    const names = parseTopLevelTxt((await wheel.read(txt)).toString("utf8"));
    if (names.length) return names;
  }
  const record = meta("RECORD");
  if (record) return topLevelFromPaths(recordPaths((await wheel.read(record)).toString("utf8")));
  return topLevelFromPaths(wheel.entries.map((e) => e.name));
}
