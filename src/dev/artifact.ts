import type { DevArtifact } from "../builders/builder.ts";
import { builderFor } from "../builders/index.ts";
import type { ImageTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import type { Platform } from "../oci/types.ts";

export type { DevArtifact };

/** The target's in-place artifact (see BuilderDev.artifact); undefined: syncs carry every change. */
export async function devArtifact(
  engine: Engine,
  target: ImageTarget,
  platform: Platform,
  externals: string[],
): Promise<DevArtifact | undefined> {
  return builderFor(target).dev?.artifact?.({ engine, target, platform, externals });
}
