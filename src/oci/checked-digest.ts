import { TugError } from "../errors.ts";
import { parseSha256Hex } from "../util/sha256-hex.ts";
import type { Digest } from "./digest.ts";
import type { Descriptor } from "./types.ts";

// OCI image-spec descriptor.md: algorithm-component ":" encoded.
const ALGORITHM = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):/;

/**
 * The one way a digest from outside (a registry header, a manifest, a config, a layout's
 * index.json) becomes a `Digest`: it names files (blobs/sha256/HEX) and URL paths, so anything
 * but `sha256:` + 64 lowercase hex is refused here, before it reaches `join()` or a URL.
 */
export function parseDigest(s: unknown, where: string): Digest {
  if (typeof s === "string") {
    const algorithm = ALGORITHM.exec(s)?.[1];
    if (algorithm !== undefined && algorithm !== "sha256") {
      throw new TugError({
        what: `unsupported digest algorithm ${JSON.stringify(algorithm)} in ${JSON.stringify(clip(s))}`,
        where,
        hint: "tug reads sha256 digests only; re-push or re-export the image with sha256",
      });
    }
    if (algorithm === "sha256") return `sha256:${parseSha256Hex(s.slice("sha256:".length), where)}`;
  }
  throw new TugError({
    what: `not a digest: ${typeof s === "string" ? JSON.stringify(clip(s)) : typeof s}`,
    where,
    hint: "a digest is sha256: and 64 lowercase hex characters; the source is broken or hostile",
  });
}

/** A descriptor whose digest and size were checked; other fields pass through. */
export function parseDescriptor(d: unknown, where: string): Descriptor {
  if (typeof d !== "object" || d === null) {
    throw new TugError({ what: "a descriptor is not an object", where });
  }
  const desc = d as Partial<Descriptor>;
  const digest = parseDigest(desc.digest, where);
  if (typeof desc.size !== "number" || !Number.isSafeInteger(desc.size) || desc.size < 0) {
    throw new TugError({
      what: `descriptor ${digest} has an invalid size ${JSON.stringify(desc.size)}`,
      where,
      hint: "the manifest is malformed or hostile; re-push the image",
    });
  }
  if (typeof desc.mediaType !== "string") {
    throw new TugError({ what: `descriptor ${digest} has no mediaType`, where });
  }
  return { ...(d as Descriptor), digest };
}

function clip(s: string): string {
  return s.length > 100 ? `${s.slice(0, 100)}…` : s;
}
