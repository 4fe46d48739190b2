import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A new temp dir whose path is all lowercase: buildah names an image pulled from `oci:PATH`
 * after PATH, and rejects upper case (mkdtemp's suffix has some).
 */
export function benchDir(prefix: string): string {
  const dir = join(tmpdir(), `${prefix}${randomBytes(5).toString("hex")}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}
