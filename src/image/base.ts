import { promises as fs } from "node:fs";
import type { ImageTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { withKeyLock } from "../engine/key-lock.ts";
import { TugError } from "../errors.ts";
import { hexOf, isDigest } from "../oci/digest.ts";
import { emptyImage } from "../oci/image.ts";
import { adoptLayout, readLayout, writeLayout } from "../oci/layout.ts";
import { meteredImage } from "../oci/metered.ts";
import { formatReference, parseReference, type Reference } from "../oci/reference.ts";
import { refuseCredentialsInReference } from "../oci/registry/reference-credentials.ts";
import { type Artifact, type Image, type Platform, platformString } from "../oci/types.ts";
import { hostBase } from "./host-base.ts";
import { selectPlatform } from "./platform-select.ts";
import type { RegistryAccess } from "./registry-sink.ts";
import type { BaseResolver, ResolvedBase } from "./target-image.ts";

/**
 * Base images by reference are copied once into the cache, which is itself an OCI layout
 * (blobs/sha256 is the CAS every layer lives in), under a ref.name derived from the child
 * manifest digest. A digest-pinned base never touches the network again; a tag costs one
 * manifest HEAD, and none with --offline.
 */
export function baseResolver(opts: {
  engine: Engine;
  registry: RegistryAccess;
  offline: boolean;
  /** The built image of another target (`base: tug://NAME`), in-process: no registry involved. */
  targetImage?: (name: string) => Promise<Artifact>;
}): BaseResolver {
  const memo = new Map<string, Promise<ResolvedBase>>();
  return (target, platform) => {
    const key = `${JSON.stringify(target.base)}|${platformString(platform)}`;
    let p = memo.get(key);
    if (!p && target.base.kind === "target") {
      // Not a timed step: the time is the base target's own build, reported under its name.
      p = targetBase(target.base.name, platform, opts.targetImage);
      memo.set(key, p);
    }
    if (!p) {
      p = opts.engine.timings.step(target.name, `base ${platformString(platform)}`, async () => ({
        value: await resolveOne(opts, target, platform),
        cached: target.base.kind !== "registry",
      }));
      memo.set(key, p);
    }
    return p;
  };
}

async function targetBase(
  name: string,
  platform: Platform,
  targetImage: ((name: string) => Promise<Artifact>) | undefined,
): Promise<ResolvedBase> {
  if (!targetImage) throw new Error(`base tug://${name}: this build cannot build other targets`);
  const image = await selectPlatform(await targetImage(name), platform, `tug://${name}`);
  return { image, digest: await image.digest(), target: name };
}

async function resolveOne(
  opts: { engine: Engine; registry: RegistryAccess; offline: boolean },
  target: ImageTarget,
  platform: Platform,
): Promise<ResolvedBase> {
  const base = target.base;
  if (base.kind === "scratch") return { image: emptyImage(platform) };
  if (base.kind === "target") throw new Error("tug:// bases are resolved by targetBase");
  if (base.kind === "host") return hostBase({ engine: opts.engine, target, platform, program: base.program });
  if (base.kind === "layout") {
    const exists = await fs.stat(base.path).then(
      () => true,
      () => false,
    );
    if (!exists)
      throw new TugError({
        what: `base layout ${base.path} does not exist`,
        where: target.where,
        hint: "create it (e.g. `skopeo copy docker://IMAGE oci:PATH:TAG`) or fix `base:`",
      });
    const artifact = await readLayout(base.path, base.tag);
    const image = await selectPlatform(artifact, platform, `oci-layout:${base.path}:${base.tag}`);
    await checkedBase(image, `oci-layout:${base.path}:${base.tag}`, target.where);
    return { image, digest: await artifact.digest() };
  }
  let ref: Reference;
  refuseCredentialsInReference(base.ref, target.where);
  try {
    ref = parseReference(base.ref);
  } catch (e) {
    if (e instanceof TugError) throw new TugError({ what: e.what, where: target.where, hint: e.hint });
    throw e;
  }
  const { engine, registry } = opts;
  const name = formatReference({ ...ref, digest: undefined });
  let digest = ref.digest;
  if (!digest) {
    const tagKey = formatReference(ref);
    if (opts.offline) {
      // A record names a URL path and a cache key next: one that is not a digest is a miss.
      const recorded = await engine.store.getRecord<unknown>("base-tag", tagKey);
      digest = typeof recorded === "string" && isDigest(recorded) ? recorded : undefined;
      if (!digest)
        throw new TugError({
          what: `base ${base.ref} is not in the cache, and --offline forbids fetching it`,
          where: target.where,
          hint: "run once without --offline, or pin the base by digest after fetching it",
        });
    } else {
      digest = await registry.resolveDigest(ref, target.where);
      await engine.store.putRecord("base-tag", tagKey, digest);
    }
  }
  const childKey = `${digest}|${platformString(platform)}`;
  const known = await engine.store.getRecord<string>("base", childKey);
  if (known) {
    const image = await readLayout(engine.store.root, known).catch(() => undefined);
    if (image && "layers" in image) return { image, name, digest };
  }
  if (opts.offline)
    throw new TugError({
      what: `base ${base.ref} (${platformString(platform)}) is not in the cache`,
      where: target.where,
      hint: "run once without --offline",
    });
  const artifact = await registry.fetch({ ...ref, digest }, target.where);
  const step = `base ${platformString(platform)}`;
  const image = meteredImage(await selectPlatform(artifact, platform, base.ref), (size) =>
    engine.timings.meter(target.name, step, size),
  );
  // Checked before it enters the cache: a base whose config disagrees with its manifest is refused here.
  await checkedBase(image, base.ref, target.where);
  const tag = `base-${hexOf(await image.digest())}`;
  await withKeyLock(engine.store.root, "cache-index", async () => {
    await adoptLayout(engine.store.root);
    await writeLayout(engine.store.root, image, { tags: [tag], verifyDiffIds: true }).catch((e: unknown) => {
      if (e instanceof TugError)
        throw new TugError({
          what: `base ${base.ref}: ${e.what}`,
          where: target.where,
          hint: e.hint,
          cause: e,
        });
      throw e;
    });
  });
  await engine.store.putRecord("base", childKey, tag);
  const cachedImage = await readLayout(engine.store.root, tag);
  if (!("layers" in cachedImage)) throw new Error("cached base is not an image");
  return { image: cachedImage, name, digest };
}

/** Reads the base's config (rootfs checked against its layers) and names the base in any error. */
async function checkedBase(image: Image, name: string, where: string): Promise<void> {
  try {
    await image.config();
  } catch (e) {
    if (e instanceof TugError)
      throw new TugError({
        what: `base ${name}: ${e.what}`,
        where: `${where} (${e.where ?? name})`,
        hint: e.hint,
        cause: e,
      });
    throw e;
  }
}
