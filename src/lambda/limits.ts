import { TugError } from "../errors.ts";
import { isDirEntry, type ZipEntry } from "../zip/entry.ts";

/**
 * AWS Lambda's limits for a deployment package: 50 MB zipped applies only to a zip uploaded
 * directly (console, CreateFunction's ZipFile); one uploaded through S3 (`upload: s3`) is held
 * only to 250 MB unzipped, function and layers together.
 */
export const LAMBDA_ZIPPED_LIMIT = 50 * 1024 * 1024;
export const LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024;

// Local header (30) + central header (46) per entry, plus the name twice; ZIP64 extras are rare.
const PER_ENTRY = 76;

interface Contributor {
  /** A wheel file name, "first-party sources", …: what to point at in the message. */
  wheel: string;
  entries: readonly ZipEntry[];
  /** Sizes already known (a block kept from the last zip), counted besides `entries`. */
  sizes?: { zipped: number; unzipped: number };
}

function sizes(entries: readonly ZipEntry[]): { zipped: number; unzipped: number } {
  let zipped = 0;
  let unzipped = 0;
  for (const e of entries) {
    if (isDirEntry(e)) continue;
    const name = Buffer.byteLength(e.name);
    if ("data" in e) {
      // Compressed later: counted at full size, which only ever over-estimates.
      zipped += e.data.length + PER_ENTRY + 2 * name;
      unzipped += e.data.length;
    } else if ("crc32" in e) {
      zipped += e.compressedSize + PER_ENTRY + 2 * name;
      unzipped += e.uncompressedSize;
    }
  }
  return { zipped, unzipped };
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

/**
 * Refuses a zip over Lambda's limits before a byte is written, listing the biggest contributors
 * (wheels and first-party sources) so the fix is obvious: strip, a layer, or an image instead.
 * Sizes come from the entries' records (pre-compressed), so this costs no I/O; a wheel's records
 * are trusted because its table exists only once every entry inflated to exactly its declared
 * size (wheel-table.ts, zip-verify.ts): a wheel cannot lie its way under the 250 MB check.
 */
export function checkLimits(
  target: { name: string; where: string; upload?: "direct" | "s3" },
  parts: readonly Contributor[],
): void {
  const direct = (target.upload ?? "direct") === "direct";
  const each = parts.map((p) => {
    const own = sizes(p.entries);
    return {
      wheel: p.wheel,
      zipped: own.zipped + (p.sizes?.zipped ?? 0),
      unzipped: own.unzipped + (p.sizes?.unzipped ?? 0),
    };
  });
  const zipped = each.reduce((n, p) => n + p.zipped, 22);
  const unzipped = each.reduce((n, p) => n + p.unzipped, 0);
  const over =
    unzipped > LAMBDA_UNZIPPED_LIMIT
      ? `${mb(unzipped)} unzipped (Lambda allows ${mb(LAMBDA_UNZIPPED_LIMIT)})`
      : direct && zipped > LAMBDA_ZIPPED_LIMIT
        ? `${mb(zipped)} zipped (Lambda allows ${mb(LAMBDA_ZIPPED_LIMIT)} for a direct upload)`
        : undefined;
  if (!over) return;
  const top = [...each]
    .sort((a, b) => b.unzipped - a.unzipped)
    .slice(0, 5)
    .map((p) => `  ${p.wheel}: ${mb(p.unzipped)} unzipped, ${mb(p.zipped)} zipped`);
  throw new TugError({
    what: `lambda ${target.name} would be ${over}; the biggest parts:\n${top.join("\n")}`,
    where: target.where,
    hint: direct
      ? "leave files out with python.strip (tests, pyi, docs), move big distributions to a layer, ship the function as an image, or set upload: s3 (upload: direct | s3; through S3 only the 250 MB unzipped limit applies)"
      : "leave files out with python.strip (tests, pyi, docs), move big distributions to a layer, or ship the function as an image (250 MB unzipped is Lambda's limit for every upload: direct | s3)",
  });
}
