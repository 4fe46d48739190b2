import { cyclonedxDocument } from "./cyclonedx.ts";
import { type SbomFormat, type SbomPackage, type SbomSubject, sbomStamp, sbomSuffix } from "./sbom-model.ts";
import { spdxDocument } from "./spdx.ts";

/** The document of `format` for an artifact and the suffix its file takes, or undefined for none. */
export function sbomDocument(
  format: SbomFormat,
  subject: SbomSubject,
  packages: readonly SbomPackage[],
  env: NodeJS.ProcessEnv = process.env,
): { suffix: string; text: string; mediaType: string } | undefined {
  if (format === "none") return undefined;
  const stamp = sbomStamp(env);
  return format === "spdx"
    ? {
        suffix: sbomSuffix(format),
        text: spdxDocument(subject, packages, stamp),
        mediaType: "application/spdx+json",
      }
    : {
        suffix: sbomSuffix(format),
        text: cyclonedxDocument(subject, packages, stamp),
        mediaType: "application/vnd.cyclonedx+json",
      };
}
