import type { Engine } from "../engine/engine.ts";
import { TugError } from "../errors.ts";
import type { Digest } from "../oci/digest.ts";
import { meteredArtifact } from "../oci/metered.ts";
import { formatReference, parseReference, type Reference } from "../oci/reference.ts";
import type { RegistryClient } from "../oci/registry/client.ts";
import type { PushOptions, PushResult } from "../oci/registry/push.ts";
import { refuseCredentialsInReference } from "../oci/registry/reference-credentials.ts";
import type { Artifact } from "../oci/types.ts";
import type { Sink } from "./sinks.ts";

/** The registry operations a build needs, on one lazily created client (no cost when unused). */
export interface RegistryAccess {
  resolveDigest(ref: Reference, where?: string): Promise<Digest>;
  fetch(ref: Reference, where?: string): Promise<Artifact>;
  client(): Promise<RegistryClient>;
  push(artifact: Artifact, target: Reference, opts?: PushOptions): Promise<PushResult>;
  close(): Promise<void>;
}

// The registry modules are only needed when a build really talks to a registry: import them
// then, so local and no-op builds do not pay for loading them.
const registryModules = () =>
  Promise.all([
    import("../oci/registry/client.ts"),
    import("../oci/registry/push.ts"),
    import("../oci/registry/remote-image.ts"),
  ]);

export function registryAccess(
  opts: { insecureRegistries?: string[]; client?: RegistryClient } = {},
): RegistryAccess {
  let client: Promise<RegistryClient> | undefined = opts.client ? Promise.resolve(opts.client) : undefined;
  const get = () => {
    client ??= registryModules().then(
      ([m]) => new m.RegistryClient({ insecureRegistries: opts.insecureRegistries }),
    );
    return client;
  };
  return {
    client: get,
    resolveDigest: (ref, where) =>
      withWhere(where, async () => (await registryModules())[2].resolveDigest(await get(), ref)),
    fetch: (ref, where) =>
      withWhere(where, async () => (await registryModules())[2].fetchArtifact(await get(), ref)),
    push: async (artifact, target, pushOpts) =>
      (await registryModules())[1].pushArtifact(await get(), artifact, target, pushOpts),
    close: async () => {
      if (client && !opts.client) await (await client).close();
    },
  };
}

async function withWhere<T>(where: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof TugError && where && !e.where)
      throw new TugError({ what: e.what, where, hint: e.hint, cause: e });
    throw e;
  }
}

export interface RegistrySinkOptions {
  repo: string;
  /** Repositories of the same registry that may hold the blobs already (the target's base). */
  mountFrom?: (name: string) => string[];
  /** Skip even the manifest HEAD when this cache recorded pushing this digest to this tag. */
  trustPushed?: boolean;
}

/**
 * Pushes to `repo/NAME:TAG`. When the tag already names this digest (one manifest HEAD, or
 * none with `trustPushed` and a record of the earlier push), nothing else is sent: that is the
 * whole cost of a no-op build against a registry.
 */
export function registrySink(access: RegistryAccess, engine: Engine, opts: RegistrySinkOptions): Sink {
  return {
    async publish(artifact, name, tags) {
      const digest = await artifact.digest();
      refuseCredentialsInReference(`${opts.repo}/${name}`, "--repo");
      const target = parseReference(`${opts.repo}/${name}`);
      const repoRef = { registry: target.registry, repository: target.repository };
      let pushedBytes = 0;
      for (const tag of tags) {
        const recordKey = `${repoRef.registry}/${repoRef.repository}:${tag}`;
        const recorded = await engine.store.getRecord<string>("pushed", recordKey);
        if (opts.trustPushed && recorded === digest) continue;
        // This cache pushed another digest to the tag (an edit): the registry cannot be expected
        // to hold this one, so the manifest HEAD is skipped. Pushing what is there costs only
        // blob HEADs and an idempotent manifest PUT.
        const client = await access.client();
        const head =
          recorded !== undefined && recorded !== digest
            ? undefined
            : await engine.io.run(() => client.headManifest(repoRef, tag));
        if (head?.digest !== digest) {
          // The bytes each upload sends show in the progress view (no wrapping when no one listens).
          const metered = meteredArtifact(artifact, (size) => engine.timings.meter(name, "publish", size));
          const res = await access.push(
            metered,
            { ...repoRef, tag },
            { mountFrom: opts.mountFrom?.(name) ?? [] },
          );
          pushedBytes += res.pushedBytes;
        }
        await engine.store.putRecord("pushed", recordKey, digest);
      }
      return { ref: `${formatReference({ ...repoRef })}@${digest}`, digest, pushedBytes };
    },
  };
}
