/** tug's own version: `tug --version`, and the tool named in every SBOM it writes. */
export const TUG_VERSION = "0.1.0";
