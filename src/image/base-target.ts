import type { Engine } from "../engine/engine.ts";
import { type Digest, isDigest } from "../oci/digest.ts";
import { type Platform, platformString } from "../oci/types.ts";

// A target built on `tug://NAME` reuses its own layers when only the base changed: they never
// read the base (builders run on the host), so re-basing is just a new config and manifest —
// ko's model. What changes is the image, and that is keyed on the base's config digest (its
// diff_ids and settings; not manifest annotations such as the git revision): the build reports
// `cached: false` when the base target's config differs from the one this target was last built
// on, and `tug explain` says so. Records are per project (engine.scope), like explain records.

/** The base target one build of a target used. */
export interface BaseUse {
  target: string;
  config: Digest;
}

interface BaseUseRecord {
  last: BaseUse;
  previous?: BaseUse;
}

function isBaseUse(v: unknown): v is BaseUse {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r.target === "string" && typeof r.config === "string" && isDigest(r.config);
}

function isBaseUseRecord(v: unknown): v is BaseUseRecord {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return isBaseUse(r.last) && (r.previous === undefined || isBaseUse(r.previous));
}

function key(engine: Engine, target: string, platform: Platform): string {
  return `${engine.scope}|${target}|${platformString(platform)}`;
}

/** Remembers the base this build used; true when it differs from the last build's (a re-base). */
export async function recordBaseUse(
  engine: Engine,
  target: string,
  platform: Platform,
  use: BaseUse,
): Promise<boolean> {
  const k = key(engine, target, platform);
  const rec = await engine.store.getRecord("base-use", k, isBaseUseRecord);
  if (rec && rec.last.target === use.target && rec.last.config === use.config) return false;
  await engine.store.putRecord<BaseUseRecord>("base-use", k, {
    last: use,
    ...(rec ? { previous: rec.last } : {}),
  });
  return true;
}

export async function readBaseUse(
  engine: Engine,
  target: string,
  platform: Platform,
): Promise<BaseUseRecord | undefined> {
  return engine.store.getRecord("base-use", key(engine, target, platform), isBaseUseRecord);
}

/** The config digest of the image a target's last build made for `platform`. */
export async function rememberBuiltConfig(
  engine: Engine,
  target: string,
  platform: Platform,
  config: Digest,
): Promise<void> {
  const k = key(engine, target, platform);
  if ((await engine.store.getRecord<string>("built-config", k)) === config) return;
  await engine.store.putRecord("built-config", k, config);
}

export async function lastBuiltConfig(
  engine: Engine,
  target: string,
  platform: Platform,
): Promise<Digest | undefined> {
  const v = await engine.store.getRecord(
    "built-config",
    key(engine, target, platform),
    (x): x is Digest => typeof x === "string" && isDigest(x),
  );
  return v;
}
