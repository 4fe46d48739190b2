/** One challenge from a WWW-Authenticate header (RFC 7235), e.g. `Bearer realm="…",service="…"`. */
export interface Challenge {
  scheme: "basic" | "bearer" | string;
  params: Record<string, string>;
}

/**
 * Parses WWW-Authenticate values. Registries send one challenge per header, but RFC 7235
 * allows several in one value, so a token followed by a space starts a new challenge.
 */
export function parseWwwAuthenticate(values: string | string[] | undefined): Challenge[] {
  const list = values === undefined ? [] : Array.isArray(values) ? values : [values];
  const out: Challenge[] = [];
  for (const value of list) {
    let i = 0;
    let current: Challenge | undefined;
    const s = value;
    const skip = (chars: string) => {
      while (i < s.length && chars.includes(s.charAt(i))) i++;
    };
    while (i < s.length) {
      skip(" \t,");
      const start = i;
      while (i < s.length && !" \t,=".includes(s.charAt(i))) i++;
      const token = s.slice(start, i);
      if (!token) break;
      skip(" \t");
      if (s.charAt(i) === "=" && current) {
        i++;
        skip(" \t");
        let v = "";
        if (s.charAt(i) === '"') {
          i++;
          while (i < s.length && s.charAt(i) !== '"') {
            if (s.charAt(i) === "\\") i++;
            v += s.charAt(i);
            i++;
          }
          i++;
        } else {
          const vs = i;
          while (i < s.length && !" \t,".includes(s.charAt(i))) i++;
          v = s.slice(vs, i);
        }
        current.params[token.toLowerCase()] = v;
      } else {
        current = { scheme: token.toLowerCase(), params: {} };
        out.push(current);
      }
    }
  }
  return out;
}
