import { link, rm, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { TugError } from "../errors.ts";
import { keyPassword, newKeyPair, PASSWORD_ENV } from "../sign/keys.ts";
import { tempPathFor } from "../util/dead-temps.ts";
import { cli } from "./context.ts";

// `tug keygen`: a P-256 pair for `tug build --sign-key` and `tug verify --key` (and
// `cosign verify --key`). The private key is written 0600 and never printed; an existing file is
// never replaced; both files appear whole or not at all.

async function writeNew(path: string, data: string, mode: number): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, data, { mode, flag: "wx" });
    // link() fails when `path` exists: no race between a check and the write.
    await link(tmp, path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TugError({
      what:
        code === "EEXIST"
          ? `${path} exists already`
          : `could not write ${path}: ${code ?? (e as Error).message}`,
      where: path,
      hint:
        code === "EEXIST"
          ? "tug keygen never replaces a key: move it away or pick another --output-key-prefix"
          : undefined,
    });
  } finally {
    await rm(tmp, { force: true });
  }
}

export function keygenCommand(program: Command): void {
  program
    .command("keygen")
    .description(
      `write an ECDSA P-256 signing pair, PREFIX.key (PKCS#8 PEM, encrypted when ${PASSWORD_ENV.join(" or ")} is set) and PREFIX.pub`,
    )
    .option("--output-key-prefix <prefix>", "file name prefix", "cosign")
    .action(async (flags: { outputKeyPrefix: string }) => {
      const password = keyPassword();
      const { privatePem, publicPem } = newKeyPair(password);
      const keyPath = resolve(`${flags.outputKeyPrefix}.key`);
      const pubPath = resolve(`${flags.outputKeyPrefix}.pub`);
      await writeNew(keyPath, privatePem, 0o600);
      try {
        await writeNew(pubPath, publicPem, 0o644);
      } catch (e) {
        await rm(keyPath, { force: true });
        throw e;
      }
      cli.stderr.write(
        `wrote ${keyPath} (${password ? "encrypted" : `unencrypted: set ${PASSWORD_ENV[0]} to encrypt it`}) and ${pubPath}\n`,
      );
    });
}
