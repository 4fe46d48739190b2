import { execFile } from "node:child_process";
import { open } from "node:fs/promises";
import { promisify } from "node:util";
import { TugError } from "../errors.ts";
import type { SbomPackage } from "./sbom-model.ts";

// A Go binary's modules as its own build info records them (`go version -m`): the versions
// that were linked, not ones re-derived from go.mod.

/**
 * Packages from `go version -m` output: the main module (`mod`, version `(devel)` when built from
 * a checkout) and each dependency (`dep`). After a `=>` replacement line the entry keeps its
 * module path (what importers name) and takes the replacement's version, which is what was linked.
 */
export function goModulesFromBuildInfo(text: string): SbomPackage[] {
  const out: SbomPackage[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] === "mod" || f[0] === "dep") {
      if (!f[1]) continue;
      out.push({ ecosystem: "golang", name: f[1], version: f[2] ?? "(devel)" });
    } else if (f[0] === "=>" && f[1] && out.length > 0) {
      const replaced = out[out.length - 1] as SbomPackage;
      out[out.length - 1] = { ...replaced, version: f[2] ?? "(devel)" };
    }
  }
  return out;
}

// The `.go.buildinfo` blob Go 1.18+ links into every binary (stripped ones too): a 16-byte
// aligned header (14-byte magic, pointer size, flags), then, with flag 2, the Go version and the
// module info as varint-length strings at offset 32. The module info is `go version -m`'s text
// between 16-byte sentinels. Older binaries keep pointers instead; those go to `go version -m`.
const BUILDINFO_MAGIC = Buffer.from("\xff Go buildinf:", "latin1");
const MAX_MODINFO_BYTES = 1 << 20;

function readVarint(buf: Buffer, at: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let shift = 0, i = at; i < buf.length && shift < 35; shift += 7, i++) {
    const b = buf[i] as number;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return { value, next: i + 1 };
  }
  return undefined;
}

/** `go version -m`-style module lines from a binary's bytes; undefined when it holds no inline build info. */
export function inlineModuleInfo(binary: Buffer): string | undefined {
  for (let at = binary.indexOf(BUILDINFO_MAGIC); at >= 0; at = binary.indexOf(BUILDINFO_MAGIC, at + 1)) {
    if (at % 16 !== 0 || ((binary[at + 15] ?? 0) & 2) === 0) continue;
    const version = readVarint(binary, at + 32);
    if (!version || version.value > 64) continue;
    const text = binary.subarray(version.next, version.next + version.value).toString("latin1");
    if (!text.startsWith("go")) continue;
    const info = readVarint(binary, version.next + version.value);
    if (!info || info.value > MAX_MODINFO_BYTES) continue;
    const raw = binary.subarray(info.next, info.next + info.value).toString("utf8");
    // Between the 16-byte sentinels; an empty module info (GOPATH mode) has neither.
    return raw.length >= 33 ? raw.slice(16, -16) : "";
  }
  return undefined;
}

/**
 * The module lines of a Go binary: read from its build info in-process (no `go` process per
 * image), else as `go version -m BINARY` prints them (go is on PATH wherever the Go builder runs).
 * The file is scanned in 1 MiB reads, never held whole: an entrypoint may be a 100 MB base binary.
 */
export async function goBuildInfo(binary: string): Promise<string> {
  const inline = await scanModuleInfo(binary);
  if (inline !== undefined && goModulesFromBuildInfo(inline).length > 0) return inline;
  return (await promisify(execFile)("go", ["version", "-m", binary], { maxBuffer: 16 << 20 })).stdout;
}

async function scanModuleInfo(binary: string): Promise<string | undefined> {
  const CHUNK = 1 << 20;
  const fh = await open(binary, "r");
  try {
    const { size } = await fh.stat();
    const buf = Buffer.allocUnsafe(CHUNK);
    // Chunks start at multiples of 16 and overlap by 16 bytes, so an aligned magic is never cut.
    for (let pos = 0; pos < size; pos += CHUNK - 16) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      for (let at = chunk.indexOf(BUILDINFO_MAGIC); at >= 0; at = chunk.indexOf(BUILDINFO_MAGIC, at + 1)) {
        if ((pos + at) % 16 !== 0) continue;
        const head = Buffer.alloc(32 + 10 + 64 + 10 + MAX_MODINFO_BYTES);
        const got = (await fh.read(head, 0, head.length, pos + at)).bytesRead;
        const found = inlineModuleInfo(head.subarray(0, got));
        if (found !== undefined) return found;
      }
    }
    return undefined;
  } finally {
    await fh.close();
  }
}

/** The modules `go version -m BINARY` names; an error when it names none. */
export async function goModulesOf(binary: string, where?: string): Promise<SbomPackage[]> {
  try {
    const stdout = await goBuildInfo(binary);
    const modules = goModulesFromBuildInfo(stdout);
    // `go version -m` exits 0 on a file that is no Go binary, and says so on stderr.
    if (modules.length === 0)
      throw new Error("no Go build info in it (not a Go binary, or built without modules)");
    return modules;
  } catch (e) {
    throw new TugError({
      what: `could not read the Go build info of ${binary}: ${(e as Error).message.split("\n")[0]}`,
      ...(where ? { where } : {}),
      hint: "the SBOM lists a Go image's modules from its binary; build with --sbom none to skip it",
    });
  }
}
