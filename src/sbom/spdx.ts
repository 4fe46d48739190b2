import { purlOf, type SbomPackage, type SbomStamp, type SbomSubject, sortedPackages } from "./sbom-model.ts";

// SPDX 2.3 JSON (spdx.github.io/spdx-spec/v2.3). Ids derive from names, the namespace from the
// artifact's digest and `created` from SOURCE_DATE_EPOCH: the same artifact gives the same bytes.

const NAMESPACE_BASE = "https://spdx.org/spdxdocs/tug";

/** SPDXRef-… ids allow only letters, digits, `.` and `-` (spec clause 3.2). */
function idPart(s: string): string {
  return s.replace(/[^A-Za-z0-9.-]/g, "-");
}

function checksumsOf(p: SbomPackage): Array<{ algorithm: string; checksumValue: string }> {
  return [
    ...(p.sha256 ? [{ algorithm: "SHA256", checksumValue: p.sha256 }] : []),
    ...(p.checksums ?? [])
      .filter((c) => !(c.algorithm === "SHA256" && p.sha256))
      .map((c) => ({ algorithm: c.algorithm, checksumValue: c.hex })),
  ];
}

export function spdxDocument(
  subject: SbomSubject,
  packages: readonly SbomPackage[],
  stamp: SbomStamp,
): string {
  const rootId = `SPDXRef-${subject.kind === "zip" ? "Archive" : "Image"}-${idPart(subject.name)}`;
  const used = new Set<string>([rootId]);
  const uniqueId = (base: string) => {
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
    used.add(id);
    return id;
  };
  const rows = sortedPackages(packages).map((p) => ({
    id: uniqueId(`SPDXRef-Package-${p.ecosystem}-${idPart(p.name)}-${idPart(p.version)}`),
    p,
  }));
  const doc = {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: subject.name,
    documentNamespace: `${NAMESPACE_BASE}/${encodeURIComponent(subject.name)}-${subject.sha256}`,
    creationInfo: { created: stamp.created, creators: [`Tool: ${stamp.tool}`] },
    packages: [
      {
        SPDXID: rootId,
        name: subject.name,
        downloadLocation: "NOASSERTION",
        filesAnalyzed: false,
        checksums: [{ algorithm: "SHA256", checksumValue: subject.sha256 }],
        licenseConcluded: "NOASSERTION",
        licenseDeclared: "NOASSERTION",
        copyrightText: "NOASSERTION",
        primaryPackagePurpose: subject.kind === "zip" ? "ARCHIVE" : "CONTAINER",
      },
      ...rows.map(({ id, p }) => ({
        SPDXID: id,
        name: p.name,
        versionInfo: p.version,
        ...(p.fileName ? { packageFileName: p.fileName } : {}),
        downloadLocation: "NOASSERTION",
        filesAnalyzed: false,
        ...(checksumsOf(p).length ? { checksums: checksumsOf(p) } : {}),
        licenseConcluded: "NOASSERTION",
        licenseDeclared: p.license ?? "NOASSERTION",
        copyrightText: "NOASSERTION",
        externalRefs: [
          { referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: purlOf(p) },
        ],
        primaryPackagePurpose: p.ecosystem === "oci" ? "CONTAINER" : "LIBRARY",
      })),
    ],
    relationships: [
      { spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: rootId },
      ...rows.map(({ id, p }) =>
        p.ecosystem === "oci"
          ? { spdxElementId: rootId, relationshipType: "DESCENDANT_OF", relatedSpdxElement: id }
          : { spdxElementId: rootId, relationshipType: "CONTAINS", relatedSpdxElement: id },
      ),
    ],
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
