// Foreign-architecture programs run here through qemu-user-static registered with binfmt_misc.
// A test that needs it fails (never skips) with what is missing and how to install it.
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { tempDir } from "./tmp.ts";

const HOW =
  "install qemu-user-static and binfmt-support (scripts/ci-deps.sh) and run update-binfmts --enable";

/**
 * Throws unless the kernel hands aarch64 ELF files to qemu. The F flag (interpreter opened at
 * registration) matters: without it podman's containers cannot see /usr/libexec/qemu-binfmt.
 */
export async function requireArm64Emulation(): Promise<void> {
  const entry = "/proc/sys/fs/binfmt_misc/qemu-aarch64";
  let text: string;
  try {
    text = await readFile(entry, "utf8");
  } catch (e) {
    throw new Error(
      `arm64 emulation is not registered (${entry}: ${(e as NodeJS.ErrnoException).code}); ${HOW}`,
    );
  }
  if (!/^enabled$/m.test(text))
    throw new Error(`arm64 emulation is registered but disabled (${entry}); ${HOW}`);
  const flags = /^flags: (\S*)$/m.exec(text)?.[1] ?? "";
  if (!flags.includes("F")) {
    throw new Error(
      `arm64 binfmt entry lacks the F flag (flags: "${flags}"), so containers cannot use it; ${HOW}`,
    );
  }
}

/** Where scripts/ci-deps.sh unpacks Debian's arm64 CPython (TUG_TEST_ARM64_PYTHON overrides). */
export const ARM64_PYTHON_ROOT = process.env.TUG_TEST_ARM64_PYTHON || "/opt/tug-test/arm64-python";

export interface Arm64Python {
  /** "3.11": the version ci-deps.sh unpacked (the host python3's). */
  version: string;
  /** A directory holding `python3.X`, a launcher of the arm64 interpreter; put it first on PATH. */
  binDir: string;
}

/**
 * A `python3.X` on PATH that is Debian's arm64 CPython under qemu. The launcher sets
 * QEMU_LD_PREFIX itself: `tug invoke` passes handlers only PATH, HOME, TMPDIR and AWS_*.
 */
export async function arm64Python(t: TestContext): Promise<Arm64Python> {
  await requireArm64Emulation();
  const bin = join(ARM64_PYTHON_ROOT, "usr", "bin");
  const names = await readdir(bin).catch(() => [] as string[]);
  const exe = names.find((n) => /^python3\.\d+$/.test(n));
  if (!exe) {
    throw new Error(`no arm64 python3.X under ${bin}; scripts/ci-deps.sh (as root) unpacks Debian's there`);
  }
  const binDir = await tempDir(t, "tug-arm64-python-");
  const launcher = join(binDir, exe);
  await writeFile(
    launcher,
    `#!/bin/sh\nQEMU_LD_PREFIX='${ARM64_PYTHON_ROOT}' exec '${join(bin, exe)}' "$@"\n`,
    { mode: 0o755 },
  );
  return { version: exe.slice("python".length), binDir };
}
