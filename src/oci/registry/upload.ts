import type { Readable } from "node:stream";
import type { Digest } from "../digest.ts";
import { repositoryScope } from "./auth.ts";
import type { RegistryClient, Repo } from "./client.ts";
import { RegistryError } from "./errors.ts";
import type { HttpResponse } from "./transport.ts";

/** Bytes to upload, named by digest and size up front; `open` is called once per attempt. */
export interface BlobSource {
  digest: Digest;
  size: number;
  open: () => Promise<Readable>;
}

export type MountResult = { mounted: true } | { mounted: false; location: string };

function locationOf(client: RegistryClient, repo: Repo, res: HttpResponse, operation: string): string {
  const location = res.headers.location;
  if (typeof location !== "string" || location === "") {
    throw new RegistryError({
      what: `registry ${repo.registry} sent no upload Location (${operation})`,
      where: `${repo.registry}/${repo.repository}`,
      retryable: true,
    });
  }
  // Location may be relative to the registry (distribution sends absolute, others do not).
  return new URL(location, client.url(repo, "/v2/")).toString();
}

/**
 * Cross-repository mount: 201 means the registry linked the blob without a byte sent; 202
 * means it could not (unknown blob, no pull access on `from`) and opened a normal upload session.
 */
export async function mountBlob(
  client: RegistryClient,
  repo: Repo,
  digest: Digest,
  from: string,
): Promise<MountResult> {
  const operation = `mount blob ${digest} from ${from}`;
  return client.retrying(operation, async () => {
    const res = await client.send({
      repo,
      method: "POST",
      path: `blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
      operation,
      push: true,
      scopes: [repositoryScope(from, false)],
      headers: { "content-length": "0" },
      expect: [201, 202],
    });
    await res.body.dump();
    if (res.statusCode === 201) return { mounted: true };
    return { mounted: false, location: locationOf(client, repo, res, operation) };
  });
}

/** Abandons an upload session; failures are ignored because the registry expires sessions anyway. */
export async function cancelUpload(client: RegistryClient, repo: Repo, location: string): Promise<void> {
  try {
    const res = await client.send({
      repo,
      method: "DELETE",
      path: location,
      operation: "cancel upload",
      push: true,
      expect: [200, 202, 204, 404],
    });
    await res.body.dump();
  } catch {
    // best effort
  }
}

async function startUpload(client: RegistryClient, repo: Repo, operation: string): Promise<string> {
  const res = await client.send({
    repo,
    method: "POST",
    path: "blobs/uploads/",
    operation,
    push: true,
    headers: { "content-length": "0" },
    expect: [202],
  });
  await res.body.dump();
  return locationOf(client, repo, res, operation);
}

function withDigest(location: string, digest: Digest): string {
  const u = new URL(location);
  u.searchParams.set("digest", digest);
  return u.toString();
}

/**
 * Uploads a blob: one PUT for small blobs, a streamed PATCH then a closing PUT for large ones,
 * so a large blob is never held in memory. A failed attempt restarts with a new session and a
 * freshly opened stream; it first HEADs the blob, since a lost response can hide a success.
 */
export async function uploadBlob(
  client: RegistryClient,
  repo: Repo,
  blob: BlobSource,
  opts: { location?: string } = {},
): Promise<void> {
  const operation = `upload blob ${blob.digest}`;
  const octets = { "content-type": "application/octet-stream", "content-length": String(blob.size) };
  await client.retrying(
    operation,
    async (attempt) => {
      let location = attempt === 0 ? opts.location : undefined;
      if (attempt > 0 && (await client.headBlob(repo, blob.digest)) !== undefined) return;
      location ??= await startUpload(client, repo, operation);
      if (blob.size <= client.monolithicMaxBytes) {
        const res = await client.send({
          repo,
          method: "PUT",
          path: withDigest(location, blob.digest),
          operation,
          push: true,
          headers: octets,
          body: blob.open,
          expect: [201, 204],
        });
        await res.body.dump();
        return;
      }
      const patched = await client.send({
        repo,
        method: "PATCH",
        path: location,
        operation,
        push: true,
        headers: octets,
        body: blob.open,
        expect: [202, 204],
      });
      await patched.body.dump();
      const closing = await client.send({
        repo,
        method: "PUT",
        path: withDigest(locationOf(client, repo, patched, operation), blob.digest),
        operation,
        push: true,
        headers: { "content-length": "0" },
        expect: [201, 204],
      });
      await closing.body.dump();
    },
    // Each attempt is bounded by idle timeouts; a large upload may outlast the HTTP deadline
    // and still deserve its retries, so only their count bounds them.
    { budgetMs: Number.POSITIVE_INFINITY },
  );
}
