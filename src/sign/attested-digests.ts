// The artifact digests (hex sha256) an SBOM or provenance document says it describes: the SPDX
// package(s) the document DESCRIBES, CycloneDX's metadata.component, an in-toto statement's
// subjects. Undefined for an artifact type tug does not read (its content is not checked).

const SPDX = "application/spdx+json";
const CYCLONEDX = "application/vnd.cyclonedx+json";
const IN_TOTO = "application/vnd.in-toto+json";

type Json = Record<string, unknown>;
const arr = (v: unknown): Json[] =>
  Array.isArray(v) ? v.filter((x) => typeof x === "object" && x !== null) : [];

export async function attestedDigests(
  artifactType: string,
  read: () => Promise<Buffer>,
): Promise<string[] | undefined> {
  if (artifactType !== SPDX && artifactType !== CYCLONEDX && artifactType !== IN_TOTO) return undefined;
  let doc: Json;
  try {
    doc = JSON.parse((await read()).toString("utf8")) as Json;
  } catch {
    return [];
  }
  if (typeof doc !== "object" || doc === null) return [];
  if (artifactType === SPDX) {
    const described = new Set(
      arr(doc.relationships)
        .filter((r) => r.spdxElementId === "SPDXRef-DOCUMENT" && r.relationshipType === "DESCRIBES")
        .map((r) => r.relatedSpdxElement),
    );
    return arr(doc.packages)
      .filter((p) => described.has(p.SPDXID))
      .flatMap((p) =>
        arr(p.checksums)
          .filter((c) => c.algorithm === "SHA256")
          .map((c) => String(c.checksumValue)),
      );
  }
  if (artifactType === CYCLONEDX) {
    const component = (doc.metadata as Json | undefined)?.component as Json | undefined;
    return arr(component?.hashes)
      .filter((h) => h.alg === "SHA-256")
      .map((h) => String(h.content));
  }
  return arr(doc.subject).map((s) => String((s.digest as Json | undefined)?.sha256 ?? ""));
}
