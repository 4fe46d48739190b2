import { createHash } from "node:crypto";
import { Transform } from "node:stream";
import { createGunzip } from "node:zlib";
import { TugError } from "../errors.ts";
import type { Digest } from "./digest.ts";
import { MediaType } from "./types.ts";

const GZIP = new Set<string>([MediaType.ociLayerGzip, MediaType.dockerLayerGzip]);
const TAR = new Set<string>([MediaType.ociLayer, "application/vnd.docker.image.rootfs.diff.tar"]);

/**
 * Passes a layer's compressed bytes through unchanged while hashing them uncompressed, and fails
 * at the end when that hash is not the config's diff_id: a base whose layers disagree with its
 * config cannot be unpacked by containerd, so tug refuses it while it reads the layer anyway
 * (one gunzip beside the write, no second read). Undefined for media types tug cannot decompress
 * (zstd): those stay unchecked.
 */
export function diffIdCheck(
  mediaType: string,
  expected: () => Promise<Digest>,
  where: string,
): Transform | undefined {
  if (TAR.has(mediaType)) return undefined; // diff_id = digest, which the writer checks already
  if (!GZIP.has(mediaType)) return undefined;
  const hash = createHash("sha256");
  const gunzip = createGunzip();
  let failure: Error | undefined;
  gunzip.on("data", (c: Buffer) => hash.update(c));
  gunzip.on("error", (e) => {
    failure ??= e;
  });
  const ended = new Promise<void>((resolve) => {
    gunzip.once("end", resolve);
    gunzip.once("close", resolve);
  });
  const notGzip = (e: Error) =>
    new TugError({ what: `a layer is not valid gzip (${e.message})`, where, cause: e });
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (failure) {
        cb(notGzip(failure));
        return;
      }
      // Waits for gunzip to take the chunk, so a slow inflate cannot make memory grow.
      if (gunzip.write(chunk)) cb(null, chunk);
      else gunzip.once("drain", () => cb(null, chunk));
    },
    flush(cb) {
      gunzip.end();
      Promise.all([ended, expected()]).then(
        ([, want]) => {
          if (failure) return cb(notGzip(failure));
          const got: Digest = `sha256:${hash.digest("hex")}`;
          cb(got === want ? null : mismatch(want, got, where));
        },
        (e: unknown) => cb(e as Error),
      );
    },
    destroy(err, cb) {
      gunzip.destroy();
      cb(err);
    },
  });
}

function mismatch(expected: Digest, actual: Digest, where: string): TugError {
  return new TugError({
    what: `a layer does not match its diff_id: the config says ${expected}, its uncompressed bytes are ${actual}`,
    where,
    hint: "the base image is inconsistent, so containerd could not unpack it; use another base or re-push it",
  });
}
