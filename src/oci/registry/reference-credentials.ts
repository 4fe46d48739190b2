import { TugError } from "../../errors.ts";
import { redactUrl } from "../../util/redact.ts";

// `scheme://user:pass@…`, or `user:pass@host/repo`: userinfo before the first slash, and a
// slash after it (`alpine:3@sha256:…` is a digest reference, not credentials).
const SCHEME_USERINFO = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*@/i;
const BARE_USERINFO = /^[^/@\s]*@[^@\s]*\//;

/**
 * Image references and repositories never carry credentials (docker has no such syntax; logins
 * live in auth.json or config.json). One that does is refused with the password hidden, so neither the
 * error, nor --json, nor a record repeats it.
 */
export function refuseCredentialsInReference(input: string, where: string | undefined): void {
  if (!SCHEME_USERINFO.test(input) && !BARE_USERINFO.test(input)) return;
  const shown = redactUrl(/^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `x://${input}`).replace(
    /^x:\/\//,
    "",
  );
  throw new TugError({
    what: `image reference ${shown} carries credentials`,
    where,
    hint: "remove user:password@ from it and log in with `podman login HOST` or `docker login HOST` (tug reads both login files)",
  });
}
