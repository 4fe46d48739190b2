import { TugError } from "../errors.ts";
import type { RemoteCache, RemoteTimeouts } from "./remote-cache.ts";

export interface OpenRemoteCacheOptions {
  timeouts?: RemoteTimeouts;
  /** For `oci://`: registry hosts spoken to over plain HTTP (loopback always is). */
  insecureRegistries?: string[];
}

/**
 * The backend for a `cache.remote` / `TUG_REMOTE_CACHE` URL. Each backend is imported only when
 * named, so a build without a remote cache loads none of them.
 *   http(s)://[user:pass@]host[:port][/prefix]  Bazel HTTP cache; TUG_REMOTE_CACHE_TOKEN → bearer
 *   s3://bucket[/prefix]                        S3 API; AWS_* variables, ~/.aws/credentials
 *   oci://registry/repo                         OCI registry; docker's credentials
 * Every backend's limits come from --http-timeout / TUG_HTTP_TIMEOUT unless `timeouts` is given.
 * Records are signed and checked by RemoteSync (TUG_REMOTE_CACHE_KEY), above any backend.
 */
export async function openRemoteCache(
  url: string,
  env: NodeJS.ProcessEnv = process.env,
  opts: OpenRemoteCacheOptions = {},
): Promise<RemoteCache> {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case "http":
    case "https": {
      const { httpRemoteCache } = await import("./http-cache.ts");
      return httpRemoteCache(url, {
        timeouts: opts.timeouts,
        token: env.TUG_REMOTE_CACHE_TOKEN || undefined,
      });
    }
    case "s3": {
      const { s3RemoteCache } = await import("./s3-cache.ts");
      return s3RemoteCache(url, { timeouts: opts.timeouts, env });
    }
    case "oci": {
      const { ociRemoteCache } = await import("./oci-cache.ts");
      return ociRemoteCache(url, { timeouts: opts.timeouts, insecureRegistries: opts.insecureRegistries });
    }
    default:
      throw new TugError({
        what: `unknown remote cache URL "${url.replace(/\/\/[^/@]*@/, "//")}"`,
        where: env.TUG_REMOTE_CACHE ? "TUG_REMOTE_CACHE" : "cache.remote in tug.yaml",
        hint: "use http(s)://host[:port][/prefix] (Bazel HTTP cache), s3://bucket[/prefix] or oci://registry/repo",
      });
  }
}
