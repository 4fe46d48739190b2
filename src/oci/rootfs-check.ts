import { TugError } from "../errors.ts";
import { parseDigest } from "./checked-digest.ts";
import type { Digest } from "./digest.ts";

/**
 * An image's config must describe its manifest's layers: `rootfs.type` "layers" and one valid
 * diff_id per layer, in order. containerd fails at unpack otherwise, so a base that disagrees
 * is refused before tug appends to it (and pushes something that cannot run).
 */
export function checkRootfs(config: unknown, layerCount: number, where: string): Digest[] {
  const rootfs = (config as { rootfs?: { type?: unknown; diff_ids?: unknown } } | null)?.rootfs;
  if (rootfs?.type !== "layers") {
    throw new TugError({
      what: `the image config's rootfs.type is ${JSON.stringify(rootfs?.type)}, not "layers"`,
      where,
      hint: "the base image is malformed; use another base or re-push it with a current tool",
    });
  }
  if (!Array.isArray(rootfs.diff_ids) || rootfs.diff_ids.length !== layerCount) {
    const count = Array.isArray(rootfs.diff_ids) ? rootfs.diff_ids.length : 0;
    throw new TugError({
      what: `the image config lists ${count} diff_ids for ${layerCount} layers in its manifest`,
      where,
      hint: "config and manifest disagree, so containerd could not unpack it; use another base or re-push it",
    });
  }
  return rootfs.diff_ids.map((d, i) => parseDigest(d, `${where}: rootfs.diff_ids[${i}]`));
}
