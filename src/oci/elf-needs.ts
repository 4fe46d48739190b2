// The shared libraries an ELF file asks the dynamic loader for (DT_NEEDED) and where it says to
// look (DT_RUNPATH, else DT_RPATH), read from the dynamic section as ld.so does. The bytes come
// from wheels and other outside input: every offset is bounds-checked, and anything that does
// not parse is "not a dynamic ELF" (undefined), never a crash.

export interface ElfNeeds {
  needed: string[];
  /** Search directories, `$ORIGIN` still in them. */
  runpath: string[];
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_RPATH = 15;
const DT_RUNPATH = 29;
const MAX_HEADERS = 4096;
const MAX_DYNAMIC = 1 << 16;
const MAX_NAME = 4096;

/** Whether `bytes` start like an ELF file (worth parsing). */
export function isElf(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46
  );
}

export function elfNeeds(bytes: Uint8Array): ElfNeeds | undefined {
  if (!isElf(bytes) || bytes.length < 64) return undefined;
  const is64 = bytes[4] === 2;
  if (!is64 && bytes[4] !== 1) return undefined;
  if (bytes[5] !== 1 && bytes[5] !== 2) return undefined;
  const le = bytes[5] === 1;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = bytes.byteLength;
  const u16 = (o: number) => (o + 2 <= size ? view.getUint16(o, le) : Number.NaN);
  const u32 = (o: number) => (o + 4 <= size ? view.getUint32(o, le) : Number.NaN);
  const word = (o: number) => {
    if (!is64) return u32(o);
    if (o + 8 > size) return Number.NaN;
    const v = view.getBigUint64(o, le);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.NaN : Number(v);
  };
  const phoff = word(is64 ? 0x20 : 0x1c);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  if (!Number.isFinite(phoff) || !(phentsize >= (is64 ? 56 : 32)) || !(phnum <= MAX_HEADERS))
    return undefined;
  const loads: Array<{ vaddr: number; offset: number; filesz: number }> = [];
  let dynamic: { offset: number; filesz: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const h = phoff + i * phentsize;
    if (h + phentsize > size) return undefined;
    const type = u32(h);
    const offset = word(is64 ? h + 8 : h + 4);
    const vaddr = word(is64 ? h + 16 : h + 8);
    const filesz = word(is64 ? h + 32 : h + 16);
    if (type === PT_LOAD) loads.push({ vaddr, offset, filesz });
    else if (type === PT_DYNAMIC) dynamic = { offset, filesz };
  }
  if (!dynamic) return { needed: [], runpath: [] }; // static: asks the loader for nothing
  const entry = is64 ? 16 : 8;
  const tags: Array<[number, number]> = [];
  for (let i = 0; i < Math.min(MAX_DYNAMIC, Math.floor(dynamic.filesz / entry)); i++) {
    const o = dynamic.offset + i * entry;
    const tag = word(o);
    const val = word(o + entry / 2);
    if (!Number.isFinite(tag) || !Number.isFinite(val)) return undefined;
    if (tag === DT_NULL) break;
    tags.push([tag, val]);
  }
  const strtab = tags.find(([t]) => t === DT_STRTAB)?.[1];
  if (strtab === undefined) return undefined;
  const seg = loads.find((l) => strtab >= l.vaddr && strtab < l.vaddr + l.filesz);
  if (!seg) return undefined;
  const base = strtab - seg.vaddr + seg.offset;
  const str = (off: number): string | undefined => {
    const start = base + off;
    if (!(start >= 0 && start < size)) return undefined;
    const end = bytes.subarray(start, Math.min(size, start + MAX_NAME)).indexOf(0);
    return end < 0 ? undefined : Buffer.from(bytes.subarray(start, start + end)).toString("latin1");
  };
  const names = (tag: number) => tags.filter(([t]) => t === tag).map(([, v]) => str(v));
  const needed = names(DT_NEEDED);
  const runpaths = names(DT_RUNPATH);
  const rpaths = names(DT_RPATH);
  if ([...needed, ...runpaths, ...rpaths].some((n) => n === undefined)) return undefined;
  // ld.so ignores DT_RPATH when DT_RUNPATH is present.
  const path = (runpaths.length > 0 ? runpaths : rpaths) as string[];
  return {
    needed: needed as string[],
    runpath: path.flatMap((p) => p.split(":")).filter((p) => p !== ""),
  };
}
