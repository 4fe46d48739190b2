/**
 * Secrets never reach a message, a record or --json. URLs keep their user name (it says which
 * account was used) and lose the password: `https://user:****@host/path`. Query strings are
 * dropped: presigned URLs and `?token=` carry secrets there.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Not a URL: still hide anything that looks like userinfo.
    return url.replace(/\/\/([^/@:]*)(:[^/@]*)?@/, (_m, user: string, pass?: string) =>
      pass ? `//${user}:****@` : `//${user}@`,
    );
  }
  if (u.password) u.password = "****";
  u.search = "";
  u.hash = "";
  return u.href;
}

/** The URL without userinfo, query or fragment: the form to key records on and to share. */
export function urlWithoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    u.search = "";
    u.hash = "";
    return u.href;
  } catch {
    return url.replace(/\/\/[^/@]*@/, "//");
  }
}

/** Every redacted form of the URLs in a text (e.g. an error message from a library). */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)([^/@\s:]*):([^/@\s]+)@/gi, "$1$2:****@");
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join("****");
  return out;
}
