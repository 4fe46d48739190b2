/** Image target names: what `images:` keys and `tug://NAME` references may be. */
export const IMAGE_NAME = /^[a-z0-9][a-z0-9._-]*$/;

/** The scheme that names a tug target where an image reference goes (`base:`, Kubernetes YAML). */
export const TUG_SCHEME = "tug://";
