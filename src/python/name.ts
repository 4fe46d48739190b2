/** PEP 503 normalised project name: lowercase, every run of `-`, `_`, `.` becomes one `-`. */
export function normalizeName(name: string): string {
  return name.replace(/[-_.]+/g, "-").toLowerCase();
}

// PEP 508 names: ASCII letters/digits, with -_. allowed inside but not at either end.
const VALID_NAME = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;

export function isValidName(name: string): boolean {
  return VALID_NAME.test(name);
}
