import type { Engine } from "../engine/engine.ts";
import { TugError } from "../errors.ts";
import type { Digest } from "../oci/digest.ts";
import { formatReference, parseReference, type Reference } from "../oci/reference.ts";
import { RegistryClient } from "../oci/registry/client.ts";
import { pushArtifact } from "../oci/registry/push.ts";
import { fetchArtifact, resolveDigest } from "../oci/registry/remote-image.ts";
import type { Artifact } from "../oci/types.ts";
import type { Sink } from "./sinks.ts";

/** The registry operations a build needs, on one lazily created client (no cost when unused). */
export interface RegistryAccess {
  resolveDigest(ref: Reference, where?: string): Promise<Digest>;
  fetch(ref: Reference, where?: string): Promise<Artifact>;
  client(): RegistryClient;
  close(): Promise<void>;
}

export function registryAccess(opts: { insecureRegistries?: string[]; uploads?: number; client?: RegistryClient } = {}): RegistryAccess {
  let client = opts.client;
  const get = () => {
    client ??= new RegistryClient({ insecureRegistries: opts.insecureRegistries });
    return client;
  };
  return {
    client: get,
    resolveDigest: (ref, where) => withWhere(where, () => resolveDigest(get(), ref)),
    fetch: (ref, where) => withWhere(where, () => fetchArtifact(get(), ref)),
    close: async () => {
      if (client && !opts.client) await client.close();
    },
  };
}

async function withWhere<T>(where: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof TugError && where && !e.where) throw new TugError({ what: e.what, where, hint: e.hint, cause: e });
    throw e;
  }
}

/**
 * Pushes to `repo/NAME:TAG`. When the tag already names this digest (one manifest HEAD), nothing
 * else is sent: that is the whole cost of a no-op build against a registry.
 */
export function registrySink(access: RegistryAccess, engine: Engine, repo: string, mountFrom: (name: string) => string[] = () => []): Sink {
  return {
    async publish(artifact, name, tags) {
      const digest = await artifact.digest();
      const target = parseReference(`${repo}/${name}`);
      const client = access.client();
      const repoRef = { registry: target.registry, repository: target.repository };
      let pushedBytes = 0;
      for (const tag of tags) {
        const head = await engine.io.run(() => client.headManifest(repoRef, tag));
        if (head?.digest === digest) continue;
        const res = await pushArtifact(client, artifact, { ...repoRef, tag }, { mountFrom: mountFrom(name) });
        pushedBytes += res.pushedBytes;
      }
      return { ref: `${formatReference({ ...repoRef })}@${digest}`, digest, pushedBytes };
    },
  };
}
