// Foreign-architecture programs run here through qemu-user-static registered with binfmt_misc.
// A test that needs it fails (never skips) with what is missing and how to install it.
import { readFile } from "node:fs/promises";

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
