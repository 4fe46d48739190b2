import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { ELF_MACHINE, elfMachine, elfMachineOf } from "../../src/node/elf.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";

const HOST = { x64: "amd64", arm64: "arm64" }[process.arch as "x64" | "arm64"];

test("reads the machine of real binaries as file(1) names it", async () => {
  for (const bin of ["/bin/true", process.execPath]) {
    const described = (await runTool("file", ["-L", bin])).stdout;
    const expected = /x86-64/.test(described) ? 62 : /aarch64|ARM aarch64/.test(described) ? 183 : undefined;
    assert.ok(expected !== undefined, `file(1) said: ${described}`);
    assert.equal(await elfMachine(bin), expected, bin);
    if (HOST) assert.equal(expected, ELF_MACHINE[HOST]);
  }
});

test("big-endian and 32-bit headers: e_machine in EI_DATA's byte order", () => {
  const header = (cls: number, data: number, machine: number) => {
    const b = Buffer.alloc(64);
    b.set([0x7f, 0x45, 0x4c, 0x46, cls, data, 1]);
    if (data === 1) b.writeUInt16LE(machine, 18);
    else b.writeUInt16BE(machine, 18);
    return b;
  };
  assert.equal(elfMachineOf(header(2, 1, 183)), 183);
  assert.equal(elfMachineOf(header(2, 2, 22)), 22);
  assert.equal(elfMachineOf(header(1, 1, 40)), 40);
});

test("truncated, empty, non-ELF and hostile headers are not binaries of any machine", async (t) => {
  const dir = await tempDir(t);
  const cases: Array<[string, Buffer]> = [
    ["empty.node", Buffer.alloc(0)],
    ["magic-only.node", Buffer.from([0x7f, 0x45, 0x4c, 0x46])],
    [
      "cut-before-machine.node",
      Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 62]),
    ],
    ["mach-o.node", Buffer.from("cffaedfe0c000001000000000600000000000000000000000000000000", "hex")],
    ["bad-class.node", Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 9, 1]), Buffer.alloc(20)])],
    ["bad-data.node", Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 7]), Buffer.alloc(20)])],
    ["text.node", Buffer.from("module.exports = 42;\n")],
  ];
  for (const [name, bytes] of cases) {
    await writeFile(join(dir, name), bytes);
    assert.equal(await elfMachine(join(dir, name)), undefined, name);
  }
  // A huge file is not read whole: the first 20 bytes decide.
  const big = join(dir, "big.node");
  const head = Buffer.alloc(64);
  head.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  head.writeUInt16LE(183, 18);
  await writeFile(big, Buffer.concat([head, Buffer.alloc(8 << 20)]));
  assert.equal(await elfMachine(big), 183);
  await assert.rejects(elfMachine(join(dir, "missing.node")), /ENOENT/);
});
