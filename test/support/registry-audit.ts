// Reads back everything a registry holds through a second, independent client (skopeo), to
// prove that no tag names a manifest whose blobs are missing.
import { join } from "node:path";
import type { RunningRegistry } from "./registry.ts";
import { skopeoCopy } from "./tools.ts";

async function getJson<T>(url: string): Promise<T | undefined> {
  const res = await fetch(url);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Every `repository:tag` the registry serves (catalog, then each repository's tags). */
export async function registryTags(registry: RunningRegistry): Promise<string[]> {
  const catalog = await getJson<{ repositories?: string[] }>(`${registry.url}/v2/_catalog?n=1000`);
  const out: string[] = [];
  for (const repo of catalog?.repositories ?? []) {
    const tags = await getJson<{ tags?: string[] | null }>(`${registry.url}/v2/${repo}/tags/list`);
    for (const tag of tags?.tags ?? []) out.push(`${repo}:${tag}`);
  }
  return out.sort();
}

/**
 * Copies every tag to an OCI layout under `scratch` with skopeo, which fetches and verifies every
 * blob. Returns the failures as `repo:tag: message`; empty when every tag is whole.
 */
export async function brokenTags(registry: RunningRegistry, scratch: string): Promise<string[]> {
  const broken: string[] = [];
  let n = 0;
  for (const ref of await registryTags(registry)) {
    const dir = join(scratch, `copy-${n++}`);
    try {
      await skopeoCopy(`docker://${registry.host}:${registry.port}/${ref}`, `oci:${dir}:x`, { all: true });
    } catch (e) {
      broken.push(`${ref}: ${(e as Error).message}`);
    }
  }
  return broken;
}
