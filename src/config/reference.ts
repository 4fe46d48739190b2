// The distribution reference grammar (github.com/distribution/reference, regexp.go), checked
// here so a typo in tug.yaml is reported at its line instead of by a registry much later.
const alnum = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?";
const domain = `(?:${alnum}(?:\\.${alnum})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const component = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const repository = `(?:${domain}/)?${component}(?:/${component})*`;
const tag = "[\\w][\\w.-]{0,127}";
const digest = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";

const REPOSITORY = new RegExp(`^${repository}$`);
const REFERENCE = new RegExp(`^${repository}(?::${tag})?(?:@${digest})?$`);
const TAG = new RegExp(`^${tag}$`);

/** Why `s` is not a repository name like `ghcr.io/me/app`; undefined when it is one. */
export function repositoryProblem(s: string): string | undefined {
  if (REPOSITORY.test(s)) return undefined;
  if (REPOSITORY.test(s.toLowerCase())) return "repository names must be lowercase";
  if (REFERENCE.test(s)) return "a repository has no tag or digest; tug chooses tags itself";
  return "expected a repository like registry.example.com/team/app or 127.0.0.1:5000/demo";
}

/** Why `s` is not an image reference like `docker.io/library/node:20`; undefined when it is one. */
export function referenceProblem(s: string): string | undefined {
  if (REFERENCE.test(s)) return undefined;
  const at = s.indexOf("@");
  const name = at < 0 ? s : s.slice(0, at);
  if (at >= 0 && !new RegExp(`^${digest}$`).test(s.slice(at + 1))) {
    return "the part after @ must be a digest like sha256:<64 hex digits>";
  }
  if (REFERENCE.test(name.toLowerCase())) return "repository names must be lowercase";
  return "expected a reference like docker.io/library/node:20, registry:5000/base@sha256:…, oci-layout:PATH[:TAG], host:PROGRAM or scratch";
}

export function isValidTag(s: string): boolean {
  return TAG.test(s);
}
