import type { Project } from "../config/types.ts";
import { TugError } from "../errors.ts";
import { readLayout } from "../oci/layout.ts";
import { formatReference, parseReference } from "../oci/reference.ts";
import { refuseCredentialsInReference } from "../oci/registry/reference-credentials.ts";
import { isIndex } from "../oci/types.ts";
import type { ArtifactReport } from "./build.ts";
import { registryAccess } from "./registry-sink.ts";

export interface PublishOptions {
  /** OCI layout written by `tug build --out` (its `oci` directory). */
  from: string;
  targets: string[];
  repo: string;
  /** Tags per target; from tug.yaml when a project is known, else ["latest"]. */
  project?: Project;
  insecureRegistries?: string[];
}

/**
 * Pushes exactly the artifacts that an earlier `tug build --out` wrote (and that may have been
 * tested since): no rebuild, the digests cannot change between test and push.
 */
export async function publishFromLayout(opts: PublishOptions): Promise<ArtifactReport[]> {
  const access = registryAccess({ insecureRegistries: opts.insecureRegistries });
  try {
    return await Promise.all(
      opts.targets.map(async (name) => {
        const started = performance.now();
        const artifact = await readLayout(opts.from, name).catch((e: unknown) => {
          if (e instanceof TugError)
            throw new TugError({
              what: e.what,
              where: opts.from,
              hint: e.hint ?? "build it first with `tug build --out DIR`",
            });
          throw e;
        });
        refuseCredentialsInReference(`${opts.repo}/${name}`, "--repo");
        const target = parseReference(`${opts.repo}/${name}`);
        const tags = opts.project?.targets.find((t) => t.name === name)?.tags ?? ["latest"];
        let pushedBytes = 0;
        for (const tag of tags) pushedBytes += (await access.push(artifact, { ...target, tag })).pushedBytes;
        const digest = await artifact.digest();
        const platforms = isIndex(artifact)
          ? (await artifact.manifest()).manifests.map((m) =>
              m.platform ? `${m.platform.os}/${m.platform.architecture}` : "unknown",
            )
          : [`${(await artifact.config()).os}/${(await artifact.config()).architecture}`];
        return {
          target: name,
          kind: "image" as const,
          platforms,
          digest,
          ref: `${formatReference({ registry: target.registry, repository: target.repository })}@${digest}`,
          cached: true,
          ms: Math.round(performance.now() - started),
          pushedBytes,
        };
      }),
    );
  } finally {
    await access.close();
  }
}
