// The referrers of a manifest in an OCI layout, found as a client without the referrers API
// would: every manifest index.json lists is read, and those whose `subject` is the digest kept.
import { readFile } from "node:fs/promises";
import { join } from "node:path";

export interface LayoutReferrer {
  digest: string;
  artifactType: string;
  /** The referrer's one layer: the document (SBOM, provenance statement) as stored. */
  document: Buffer;
}

export async function layoutReferrers(layout: string, subject: string): Promise<LayoutReferrer[]> {
  const blob = (d: string) => readFile(join(layout, "blobs", "sha256", d.slice("sha256:".length)));
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as {
    manifests: Array<{ digest: string }>;
  };
  const out: LayoutReferrer[] = [];
  for (const m of index.manifests) {
    const manifest = JSON.parse((await blob(m.digest)).toString()) as {
      artifactType?: string;
      subject?: { digest: string };
      layers?: Array<{ digest: string }>;
    };
    const layer = manifest.layers?.[0]?.digest;
    if (manifest.subject?.digest !== subject || !layer) continue;
    out.push({ digest: m.digest, artifactType: manifest.artifactType ?? "", document: await blob(layer) });
  }
  return out;
}
