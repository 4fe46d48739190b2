import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { TugError } from "../errors.ts";
import { redactUrl } from "../util/redact.ts";

/** A login for one host, from an index URL's userinfo or from ~/.netrc. */
export interface Login {
  login: string;
  password: string;
}

/**
 * ~/.netrc as curl, requests (and so pip) and uv read it: `machine HOST login L password P`,
 * `default` for any other host, `macdef` bodies skipped up to the next blank line. Later duplicate
 * machines are ignored (the first one wins, as in curl).
 */
export function parseNetrc(text: string): { machines: Map<string, Login>; fallback?: Login } {
  const machines = new Map<string, Login>();
  let fallback: Login | undefined;
  const lines = text.split(/\r?\n/);
  const tokens: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (/^\s*#/.test(line)) continue;
    const words = line.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
    for (const w of words) tokens.push(w.startsWith('"') ? w.slice(1, -1).replace(/\\(.)/g, "$1") : w);
    if (words[0] === "macdef") {
      tokens.pop(); // the macro name
      tokens.pop();
      while (i + 1 < lines.length && (lines[i + 1] ?? "").trim() !== "") i++;
    }
  }
  let host: string | undefined;
  let isDefault = false;
  let entry: Partial<Login> = {};
  const flush = () => {
    if (entry.login !== undefined && entry.password !== undefined) {
      const login = { login: entry.login, password: entry.password };
      if (isDefault) fallback ??= login;
      else if (host !== undefined && !machines.has(host)) machines.set(host, login);
    }
    entry = {};
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t === "machine") {
      flush();
      host = tokens[++i]?.toLowerCase();
      isDefault = false;
    } else if (t === "default") {
      flush();
      host = undefined;
      isDefault = true;
    } else if (t === "login") entry.login = tokens[++i] ?? "";
    else if (t === "password") entry.password = tokens[++i] ?? "";
    else if (t === "account") i++;
  }
  flush();
  return fallback ? { machines, fallback } : { machines };
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** Basic credentials may travel over https, or over plain http to this machine only. */
export function mayCarryCredentials(url: URL): boolean {
  return url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.test(url.hostname));
}

/** The URL with no user name or password: what is fetched, logged, keyed and written. */
export function withoutUserinfo(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === "" && u.password === "") return url;
    u.username = "";
    u.password = "";
    return u.href;
  } catch {
    return url;
  }
}

export interface IndexAuth {
  /** The Authorization header for a request to `url`, when its origin is an index's with a login. */
  authorization(url: URL): string | undefined;
}

/**
 * Logins for the indexes' own origins: the URL's `user:password@` first (pip's order), else the
 * netrc entry for the host ($NETRC, else ~/.netrc, as requests and curl read it). Files linked on
 * other hosts (a CDN) and redirects elsewhere get no credentials. A login written into a plain
 * http URL of another machine is refused rather than sent in clear text; a netrc entry is then
 * simply not used.
 */
export function indexAuth(indexUrls: readonly string[], env: NodeJS.ProcessEnv = process.env): IndexAuth {
  const explicit = new Map<string, Login>();
  const origins = new Set<string>();
  for (const raw of indexUrls) {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      continue;
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") continue;
    origins.add(u.origin);
    if (u.username !== "" || u.password !== "") {
      const login = { login: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
      if (!explicit.has(u.origin)) explicit.set(u.origin, login);
    }
  }
  let netrc: ReturnType<typeof parseNetrc> | undefined;
  const fromNetrc = (host: string): Login | undefined => {
    netrc ??= readNetrc(env);
    return netrc.machines.get(host.toLowerCase()) ?? netrc.fallback;
  };
  return {
    authorization(url) {
      if (!origins.has(url.origin)) return undefined;
      const given = explicit.get(url.origin);
      if (given && !mayCarryCredentials(url)) {
        throw new TugError({
          what: `refusing to send the password in the index URL over plain http to ${url.host}`,
          where: redactUrl(url.href),
          hint: "use https for an index that needs a login (or put it behind a loopback proxy)",
        });
      }
      const login = given ?? (mayCarryCredentials(url) ? fromNetrc(url.hostname) : undefined);
      if (!login) return undefined;
      return `Basic ${Buffer.from(`${login.login}:${login.password}`).toString("base64")}`;
    },
  };
}

function readNetrc(env: NodeJS.ProcessEnv): ReturnType<typeof parseNetrc> {
  const path = env.NETRC || join(env.HOME || homedir(), ".netrc");
  try {
    return parseNetrc(readFileSync(path, "utf8"));
  } catch {
    return { machines: new Map() };
  }
}
