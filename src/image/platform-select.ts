import { TugError } from "../errors.ts";
import { type Artifact, type Image, isIndex, type Platform, platformString } from "../oci/types.ts";

/** The child of an index for `platform` (or the image itself, if its config matches). */
export async function selectPlatform(artifact: Artifact, platform: Platform, name: string): Promise<Image> {
  if (!isIndex(artifact)) {
    const cfg = await artifact.config();
    if (cfg.os === platform.os && cfg.architecture === platform.architecture) return artifact;
    throw new TugError({
      what: `base ${name} is ${cfg.os}/${cfg.architecture}, not ${platformString(platform)}`,
      hint: "use a multi-platform base, or set `platforms:` to what the base provides",
    });
  }
  const children = await artifact.images();
  const match =
    children.find(
      (c) =>
        c.descriptor.platform?.os === platform.os &&
        c.descriptor.platform?.architecture === platform.architecture &&
        (platform.variant === undefined || c.descriptor.platform?.variant === platform.variant),
    ) ?? undefined;
  if (!match) {
    const offered = children
      .map((c) => (c.descriptor.platform ? platformString(c.descriptor.platform) : "?"))
      .join(", ");
    throw new TugError({
      what: `base ${name} has no ${platformString(platform)} image`,
      hint: `it offers: ${offered || "nothing"}; change \`platforms:\` or the base`,
    });
  }
  return match.image;
}
