// Independent readers the zip tests check tug's output with: CPython's zipfile and Info-ZIP unzip.
import { runTool } from "../support/tools.ts";

export interface PyEntry {
  name: string;
  /** external_attr >> 16: unix type and permission bits. */
  st_mode: number;
  external_attr: number;
  date_time: number[];
  flag_bits: number;
  compress_type: number;
  create_system: number;
  create_version: number;
  extract_version: number;
  extra: string;
  file_size: number;
  compress_size: number;
  header_offset: number;
  /** sha256 of the content Python extracts; omitted with `hashes: false`. */
  sha256?: string;
}

const INSPECT = `
import hashlib, json, sys, zipfile
path, hashes = sys.argv[1], sys.argv[2] == "1"
with zipfile.ZipFile(path) as z:
    bad = z.testzip()
    if bad is not None:
        sys.exit("testzip: first bad entry " + bad)
    out = []
    for i in z.infolist():
        e = dict(name=i.filename, st_mode=i.external_attr >> 16, external_attr=i.external_attr,
                 date_time=list(i.date_time), flag_bits=i.flag_bits, compress_type=i.compress_type,
                 create_system=i.create_system, create_version=i.create_version,
                 extract_version=i.extract_version, extra=i.extra.hex(), file_size=i.file_size,
                 compress_size=i.compress_size, header_offset=i.header_offset)
        if hashes:
            h = hashlib.sha256()
            with z.open(i) as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            e["sha256"] = h.hexdigest()
        out.append(e)
    sys.stdout.write(json.dumps(out))
`;

/** Python's `ZipFile.testzip()` (every CRC checked) plus its view of each entry. */
export async function pyInspect(zip: string, hashes = true): Promise<PyEntry[]> {
  const { stdout } = await runTool("python3", ["-c", INSPECT, zip, hashes ? "1" : "0"], {
    timeoutMs: 300_000,
  });
  return JSON.parse(stdout) as PyEntry[];
}

/** `python3 -m zipfile -t`, the stdlib's own command-line test. */
export async function pyZipfileTest(zip: string): Promise<string> {
  return (await runTool("python3", ["-m", "zipfile", "-t", zip], { timeoutMs: 300_000 })).stdout;
}

/** `unzip -t`: Info-ZIP tests every entry; throws on any warning or error (exit ≠ 0). */
export async function unzipTest(zip: string): Promise<string> {
  return (await runTool("unzip", ["-tq", zip], { timeoutMs: 300_000 })).stdout;
}

export async function unzipExtract(zip: string, dir: string): Promise<void> {
  await runTool("unzip", ["-q", zip, "-d", dir], { timeoutMs: 300_000 });
}

const READ_ALL = `
import base64, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    bad = z.testzip()
    if bad is not None:
        sys.exit("testzip: first bad entry " + bad)
    json.dump([[i.filename, base64.b64encode(z.read(i)).decode()] for i in z.infolist()], sys.stdout)
`;

/**
 * Every entry of `zip` in central-directory order, name → bytes, as CPython's zipfile reads them
 * (after `testzip()` checked every CRC) and after Info-ZIP's `unzip -t` passed: for tests of zips
 * tug wrote, so that tug's own reader is never the only judge.
 */
export async function readZipIndependently(zip: string): Promise<Map<string, Buffer>> {
  await unzipTest(zip);
  const { stdout } = await runTool("python3", ["-c", READ_ALL, zip], { timeoutMs: 300_000 });
  const rows = JSON.parse(stdout) as Array<[string, string]>;
  return new Map(rows.map(([name, b64]) => [name, Buffer.from(b64, "base64")]));
}
