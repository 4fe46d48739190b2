import { promises as fs } from "node:fs";

/** ELF e_machine values of the architectures images are built for (the ELF gABI's table). */
export const ELF_MACHINE: Record<string, number> = {
  amd64: 62, // EM_X86_64
  arm64: 183, // EM_AARCH64
  arm: 40, // EM_ARM
  "386": 3, // EM_386
  ppc64le: 21, // EM_PPC64
  s390x: 22, // EM_S390
  riscv64: 243, // EM_RISCV
};

/** The OCI architecture an e_machine value stands for, for messages; the number otherwise. */
export function machineName(machine: number): string {
  return Object.entries(ELF_MACHINE).find(([, m]) => m === machine)?.[0] ?? `e_machine ${machine}`;
}

/**
 * The e_machine field of an ELF file, or undefined when the bytes are not an ELF header (a
 * Mach-O or PE prebuild for another OS, a truncated or empty file). Reads 20 bytes, whatever
 * the file's size: e_machine sits at offset 18 in both ELF classes, in the byte order EI_DATA
 * names.
 */
export async function elfMachine(path: string): Promise<number | undefined> {
  const handle = await fs.open(path, "r");
  try {
    const header = Buffer.alloc(20);
    const { bytesRead } = await handle.read(header, 0, 20, 0);
    return elfMachineOf(header.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

export function elfMachineOf(header: Uint8Array): number | undefined {
  if (header.length < 20) return undefined;
  if (header[0] !== 0x7f || header[1] !== 0x45 || header[2] !== 0x4c || header[3] !== 0x46) return undefined;
  const cls = header[4];
  if (cls !== 1 && cls !== 2) return undefined; // ELFCLASS32 / ELFCLASS64
  const data = header[5];
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (data === 1) return view.getUint16(18, true); // ELFDATA2LSB
  if (data === 2) return view.getUint16(18, false); // ELFDATA2MSB
  return undefined;
}
