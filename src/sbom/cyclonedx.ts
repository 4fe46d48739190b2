import { createHash } from "node:crypto";
import { purlOf, type SbomPackage, type SbomStamp, type SbomSubject, sortedPackages } from "./sbom-model.ts";

// CycloneDX 1.5 JSON (cyclonedx.org/docs/1.5/json): the same content as the SPDX document. The
// serial number is a UUID derived from the artifact's digest, so equal artifacts give equal bytes.

function uuidFrom(hex: string): string {
  const h = createHash("sha256").update(`tug-cyclonedx:${hex}`).digest("hex");
  // RFC 4122 version 5-style bits on a digest (name-based, deterministic).
  const variant = ((Number.parseInt(h[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** CycloneDX spells the algorithms with a dash: SHA-256, SHA-512. */
function hashesOf(p: SbomPackage): Array<{ alg: string; content: string }> {
  return [
    ...(p.sha256 ? [{ alg: "SHA-256", content: p.sha256 }] : []),
    ...(p.checksums ?? [])
      .filter((c) => !(c.algorithm === "SHA256" && p.sha256))
      .map((c) => ({ alg: c.algorithm.replace(/^SHA/, "SHA-"), content: c.hex })),
  ];
}

export function cyclonedxDocument(
  subject: SbomSubject,
  packages: readonly SbomPackage[],
  stamp: SbomStamp,
): string {
  const [tool, version] = [stamp.tool.replace(/-[^-]*$/, ""), stamp.tool.replace(/^.*-/, "")];
  const components = sortedPackages(packages).map((p) => {
    const purl = purlOf(p);
    return {
      type: p.ecosystem === "oci" ? "container" : "library",
      "bom-ref": purl,
      name: p.name,
      version: p.version,
      ...(hashesOf(p).length ? { hashes: hashesOf(p) } : {}),
      ...(p.license ? { licenses: [{ expression: p.license }] } : {}),
      purl,
      ...(p.fileName ? { properties: [{ name: "tug:fileName", value: p.fileName }] } : {}),
    };
  });
  const rootRef = `${subject.kind}:${subject.name}@sha256:${subject.sha256}`;
  const doc = {
    bomFormat: "CycloneDX",
    specVersion: "1.5",
    serialNumber: `urn:uuid:${uuidFrom(subject.sha256)}`,
    version: 1,
    metadata: {
      timestamp: stamp.created,
      tools: { components: [{ type: "application", name: tool, version }] },
      component: {
        type: subject.kind === "zip" ? "file" : "container",
        "bom-ref": rootRef,
        name: subject.name,
        hashes: [{ alg: "SHA-256", content: subject.sha256 }],
      },
    },
    components,
    dependencies: [{ ref: rootRef, dependsOn: components.map((c) => c["bom-ref"]) }],
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
