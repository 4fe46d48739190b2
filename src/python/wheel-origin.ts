import { isSha256Hex } from "../util/sha256-hex.ts";

// pip keeps no record of which wheel file a distribution was installed from. tug's image
// installer writes one beside each METADATA, `NAME.dist-info/tug-wheel.json`, so the image's
// SBOM can list the wheel's file name and sha256 (they are read back from the layer, which is
// hostile input like any other: a value that does not look right is left out).

export const WHEEL_ORIGIN_FILE = "tug-wheel.json";

export function wheelOriginJson(wheel: string, sha256: string): Buffer {
  return Buffer.from(`${JSON.stringify({ wheel, sha256 })}\n`);
}

/** The wheel file and sha256 recorded beside a METADATA; nothing when absent or malformed. */
export function parseWheelOrigin(bytes: Buffer | undefined): { fileName?: string; sha256?: string } {
  if (!bytes) return {};
  try {
    const o = JSON.parse(bytes.toString("utf8")) as { wheel?: unknown; sha256?: unknown };
    if (typeof o.wheel !== "string" || !/^[^/\\]{1,255}\.whl$/.test(o.wheel) || !isSha256Hex(o.sha256))
      return {};
    return { fileName: o.wheel, sha256: o.sha256 };
  } catch {
    return {};
  }
}
