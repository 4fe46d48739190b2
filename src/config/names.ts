/** Image target names: what `images:` keys and `tug://NAME` references may be. */
export const IMAGE_NAME = /^[a-z0-9][a-z0-9._-]*$/;
