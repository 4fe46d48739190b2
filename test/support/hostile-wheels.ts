// Wheels written by Python's zipfile (an independent writer), then tampered with at the byte
// level the way a hostile index or a corrupt mirror would: each tamper edits the real records.
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { runTool } from "./tools.ts";

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;

/**
 * Writes a zip with Python's zipfile: name → content (each char one byte, latin1, so binary
 * content survives); `stored` names are not compressed.
 */
export async function pythonZip(
  path: string,
  files: Record<string, string>,
  stored: string[] = [],
): Promise<void> {
  const script = `
import json, sys, zipfile
path, spec = sys.argv[1], json.load(open(sys.argv[2]))
files, stored = spec["files"], set(spec["stored"])
with zipfile.ZipFile(path, "w") as z:
    for name, content in files.items():
        i = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
        i.external_attr = 0o100644 << 16
        i.compress_type = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
        z.writestr(i, content.encode("latin1"))
`;
  // Through a file, not argv: contents may be megabytes.
  const spec = `${path}.spec.json`;
  await writeFile(spec, JSON.stringify({ files, stored }));
  try {
    await runTool("python3", ["-c", script, path, spec]);
  } finally {
    await rm(spec, { force: true });
  }
}

/** Offsets of one entry's records in a zip's bytes. */
export interface EntryRecords {
  central: number;
  local: number;
  dataOffset: number;
}

export function eocdOffset(zip: Buffer): number {
  for (let i = zip.length - 22; i >= 0; i--) if (zip.readUInt32LE(i) === SIG_EOCD) return i;
  throw new Error("no end record");
}

export function recordsOf(zip: Buffer, name: string): EntryRecords {
  const eocd = eocdOffset(zip);
  let p = zip.readUInt32LE(eocd + 16);
  while (zip.readUInt32LE(p) === SIG_CENTRAL) {
    const nameLen = zip.readUInt16LE(p + 28);
    const here = zip.subarray(p + 46, p + 46 + nameLen).toString("utf8");
    if (here === name) {
      const local = zip.readUInt32LE(p + 42);
      if (zip.readUInt32LE(local) !== SIG_LOCAL) throw new Error("no local header");
      const dataOffset = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      return { central: p, local, dataOffset };
    }
    p += 46 + nameLen + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32);
  }
  throw new Error(`no entry ${name}`);
}

/** The fields both headers carry, at their offsets in a central (+c) and local (+l) header. */
const FIELDS = {
  flags: { c: 8, l: 6, bytes: 2 },
  method: { c: 10, l: 8, bytes: 2 },
  crc32: { c: 16, l: 14, bytes: 4 },
  compressedSize: { c: 20, l: 18, bytes: 4 },
  uncompressedSize: { c: 24, l: 22, bytes: 4 },
} as const;

export type Field = keyof typeof FIELDS;

/** Sets a field of `name`'s central record, local header or both. */
export function setField(
  zip: Buffer,
  name: string,
  field: Field,
  value: number,
  where: "central" | "local" | "both" = "both",
): void {
  const r = recordsOf(zip, name);
  const f = FIELDS[field];
  const put = (at: number) =>
    f.bytes === 2 ? zip.writeUInt16LE(value, at) : zip.writeUInt32LE(value >>> 0, at);
  if (where !== "local") put(r.central + f.c);
  if (where !== "central") put(r.local + f.l);
}

export function getField(zip: Buffer, name: string, field: Field): number {
  const r = recordsOf(zip, name);
  const f = FIELDS[field];
  return f.bytes === 2 ? zip.readUInt16LE(r.central + f.c) : zip.readUInt32LE(r.central + f.c);
}

/** Changes the first character of `name` in its local header only (same length). */
export function renameLocal(zip: Buffer, name: string, first: string): void {
  const r = recordsOf(zip, name);
  zip.write(first, r.local + 30, 1, "latin1");
}

/** Sets the entry count in the end record (both fields), leaving the directory as it is. */
export function setEntryCount(zip: Buffer, count: number): void {
  const eocd = eocdOffset(zip);
  zip.writeUInt16LE(count, eocd + 8);
  zip.writeUInt16LE(count, eocd + 10);
}

/**
 * A zip whose entry `outer` (stored) holds, as its content, a complete local header and data of
 * `inner`, with a central record for `inner` pointing inside `outer`: each entry is honest on
 * its own, but their bytes overlap (the construction of non-recursive zip bombs).
 */
export async function overlappingZip(
  path: string,
  outer: string,
  inner: string,
  innerContent: string,
  other: Record<string, string> = {},
): Promise<void> {
  const scratch = `${path}.inner.zip`;
  await pythonZip(scratch, { [inner]: innerContent }, [inner]);
  const innerZip = await readFile(scratch);
  const innerEocd = eocdOffset(innerZip);
  const innerCd = innerZip.readUInt32LE(innerEocd + 16);
  const innerLocal = innerZip.subarray(0, innerCd);
  const innerCentral = Buffer.from(innerZip.subarray(innerCd, innerEocd));
  await pythonZip(path, { ...other, [outer]: innerLocal.toString("latin1") }, [outer]);
  const zip = await readFile(path);
  const eocd = eocdOffset(zip);
  const cd = zip.readUInt32LE(eocd + 16);
  // The outer entry's content is the inner zip's local part, written as latin1: byte for byte.
  const at = zip.indexOf(innerLocal);
  if (at < 0) throw new Error("inner bytes not found");
  innerCentral.writeUInt32LE(at, 42);
  const count = zip.readUInt16LE(eocd + 10) + 1;
  const centralOld = zip.subarray(cd, eocd);
  const end = Buffer.from(zip.subarray(eocd));
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(centralOld.length + innerCentral.length, 12);
  await writeFile(path, Buffer.concat([zip.subarray(0, cd), centralOld, innerCentral, end]));
}

export interface WheelIndex {
  /** `file://…/simple/` */
  simpleUrl: string;
  wheelPath: string;
  filename: string;
}

/**
 * A file:// PEP 503 index holding one wheel, with its sha256 and a PEP 658 metadata file, so
 * resolution never opens the wheel: the first to read it is the cache's ingest.
 */
export async function singleWheelIndex(
  root: string,
  dist: string,
  version: string,
  write: (wheelPath: string, files: Record<string, string>) => Promise<void>,
  moduleFiles: Record<string, string>,
): Promise<WheelIndex> {
  const filename = `${dist}-${version}-py3-none-any.whl`;
  const info = `${dist}-${version}.dist-info`;
  const metadata = `Metadata-Version: 2.1\nName: ${dist}\nVersion: ${version}\n\n`;
  const files: Record<string, string> = {
    ...moduleFiles,
    [`${info}/METADATA`]: metadata,
    [`${info}/WHEEL`]:
      "Wheel-Version: 1.0\nGenerator: python-zipfile\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    [`${info}/RECORD`]: "",
  };
  await mkdir(join(root, "files"), { recursive: true });
  const wheelPath = join(root, "files", filename);
  await write(wheelPath, files);
  const sha = createHash("sha256")
    .update(await readFile(wheelPath))
    .digest("hex");
  await writeFile(`${wheelPath}.metadata`, metadata);
  const msha = createHash("sha256").update(metadata).digest("hex");
  await mkdir(join(root, "simple", dist), { recursive: true });
  await writeFile(
    join(root, "simple", dist, "index.html"),
    `<!DOCTYPE html><html><body>\n<a href="../../files/${filename}#sha256=${sha}" data-dist-info-metadata="sha256=${msha}" data-core-metadata="sha256=${msha}">${filename}</a>\n</body></html>\n`,
  );
  return { simpleUrl: `${pathToFileURL(join(root, "simple")).href}/`, wheelPath, filename };
}
