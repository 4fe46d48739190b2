import { randomBytes } from "node:crypto";
import { mkdir, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Supervised } from "./supervised.ts";

/** Dev images kept in podman storage per target: the running one and the one before it. */
export const KEEP_DEV_IMAGES = 2;

/**
 * A lowercase stand-in path for an OCI layout: podman names an image pulled from `oci:PATH:TAG`
 * after PATH (`localhost/PATH:latest`), refuses upper-case letters there, and a ':' would end
 * PATH. The directory name carries the target and a time stamp, so the dev images of one
 * target are known by name and ordered (`pruneDevImages`).
 */
export async function layoutLink(layout: string, target: string): Promise<{ dir: string; path: string }> {
  const base = /^[a-z0-9/._-]+$/.test(tmpdir()) ? tmpdir() : "/tmp";
  const stamp = Date.now().toString(36).padStart(9, "0");
  const dir = join(base, `tug-dev-${family(target)}-${stamp}-${randomBytes(4).toString("hex")}`);
  await mkdir(dir);
  await symlink(resolve(layout), join(dir, "layout"));
  return { dir, path: join(dir, "layout") };
}

/** The target name as it appears in image names: lowercase, [a-z0-9_.-]. */
function family(target: string): string {
  return target.toLowerCase().replace(/[^a-z0-9_.-]/g, "-");
}

/** Stamp of a dev image name of `target` (as `layoutLink` made it), or undefined for any other. */
export function devImageStamp(repository: string, target: string): string | undefined {
  const f = family(target).replace(/[.]/g, "\\.");
  return new RegExp(`/tug-dev-${f}-([0-9a-z]{9})-[0-9a-f]{8}/layout$`).exec(repository)?.[1];
}

/**
 * Removes the names of `target`'s dev images from podman storage but the newest `keep`; an image
 * a container still uses stays (podman refuses, and that is right). Best effort: a failure to
 * list or remove never fails the dev loop.
 */
export async function pruneDevImages(box: Supervised, target: string, keep = KEEP_DEV_IMAGES): Promise<void> {
  const r = await box.run(["images", "--format", "{{.Repository}}:{{.Tag}}"]).catch(() => undefined);
  if (r?.code !== 0) return;
  const ours = r.stdout
    .split("\n")
    .map((name) => name.trim())
    .flatMap((name) => {
      const stamp = devImageStamp(name.slice(0, name.lastIndexOf(":")), target);
      return stamp ? [{ name, stamp }] : [];
    })
    .sort((a, b) => b.stamp.localeCompare(a.stamp));
  const old = ours.slice(keep).map((i) => i.name);
  if (old.length > 0) await box.run(["rmi", ...old]).catch(() => undefined);
}

/** The container runs and publishes `port` (its own mapping, or its pod's). */
export async function containerServes(box: Supervised, cid: string, port: number): Promise<boolean> {
  const state = await box.run(["inspect", "--format", "{{.State.Running}}", cid]).catch(() => undefined);
  if (state?.code !== 0 || state.stdout.trim() !== "true") return false;
  const ports = await box.run(["port", cid]).catch(() => undefined);
  return ports?.code === 0 && new RegExp(`:${port}\\s*$`, "m").test(ports.stdout);
}
