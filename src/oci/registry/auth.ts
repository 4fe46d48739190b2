import { TugError } from "../../errors.ts";
import { redactUrl } from "../../util/redact.ts";
import { sha256 } from "../digest.ts";
import { MAX_TOKEN_BYTES } from "../size-limits.ts";
import type { CredentialSource, Credentials } from "./docker-config.ts";
import { networkError, RegistryError } from "./errors.ts";
import type { Transport } from "./transport.ts";
import { type Challenge, parseWwwAuthenticate } from "./www-authenticate.ts";

/** `repository:NAME:pull` or `repository:NAME:pull,push` (distribution token scope grammar). */
export function repositoryScope(repository: string, push: boolean): string {
  return `repository:${repository}:${push ? "pull,push" : "pull"}`;
}

/** Splits scopes into single-action atoms so a cached `pull,push` token also serves `pull`. */
function atoms(scopes: string[]): Set<string> {
  const out = new Set<string>();
  for (const s of scopes) {
    const cut = s.lastIndexOf(":");
    if (cut < 0) continue;
    for (const action of s.slice(cut + 1).split(",")) out.add(`${s.slice(0, cut)}:${action}`);
  }
  return out;
}

interface CachedToken {
  header: string;
  /** Which login fetched it: a namespace-scoped login must not reuse another login's token. */
  login: string;
  atoms: Set<string>;
  expiresAt: number;
}

interface RegistryState {
  /** The challenge `/v2/` answered with; null when the registry needs no auth. */
  challenge?: Promise<Challenge | null>;
  /** Credentials by repository: logins may be scoped to a namespace (containers-auth.json). */
  credentials: Map<string, Promise<Credentials | undefined>>;
  tokens: CachedToken[];
  /** Token requests in flight by scope set, so parallel requests share one fetch. */
  pending: Map<string, Promise<CachedToken>>;
}

const EXPIRY_MARGIN_MS = 10_000;

/** The repository of the first scope: the one the request is about, whose login applies. */
function repositoryOf(scopes: string[]): string | undefined {
  const first = scopes[0];
  if (!first?.startsWith("repository:")) return undefined;
  return first.slice("repository:".length, first.lastIndexOf(":"));
}

/** Identifies a login without keeping its secret in a second place. */
function loginId(creds: Credentials | undefined): string {
  if (!creds) return "anonymous";
  return sha256(JSON.stringify([creds.username ?? "", creds.password ?? "", creds.identityToken ?? ""]));
}

/**
 * Auth per registry: ping `/v2/` once to learn the scheme, then Basic from stored credentials
 * or Bearer tokens from the realm (anonymous when there are no credentials), cached by scope.
 * Header values never leave this class except on requests to the registry's own origin.
 */
export class Authenticator {
  private readonly state = new Map<string, RegistryState>();

  constructor(
    private readonly transport: Transport,
    private readonly credentialSource: CredentialSource,
  ) {}

  private of(registry: string): RegistryState {
    let s = this.state.get(registry);
    if (!s) {
      s = { tokens: [], pending: new Map(), credentials: new Map() };
      this.state.set(registry, s);
    }
    return s;
  }

  async hasCredentials(registry: string, repository?: string): Promise<boolean> {
    return (await this.credentials(registry, repository)) !== undefined;
  }

  private credentials(registry: string, repository: string | undefined): Promise<Credentials | undefined> {
    const s = this.of(registry);
    let p = s.credentials.get(repository ?? "");
    if (!p) {
      p = this.credentialSource(registry, repository);
      s.credentials.set(repository ?? "", p);
    }
    return p;
  }

  private challenge(registry: string): Promise<Challenge | null> {
    const s = this.of(registry);
    if (!s.challenge) {
      s.challenge = this.ping(registry);
      s.challenge.catch(() => {
        s.challenge = undefined; // a failed ping may be transient; let the next call try again
      });
    }
    return s.challenge;
  }

  private async ping(registry: string): Promise<Challenge | null> {
    const url = `${this.transport.baseUrl(registry)}/v2/`;
    const res = await this.transport.send({ registry, method: "GET", url });
    await res.body.dump();
    if (res.statusCode === 401) {
      const challenges = parseWwwAuthenticate(res.headers["www-authenticate"]);
      return (
        challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "basic") ?? null
      );
    }
    if (res.statusCode >= 500 || res.statusCode === 429) {
      throw new RegistryError({
        what: `registry ${registry} answered ${res.statusCode} to GET /v2/`,
        hint: "the registry is overloaded or failing; try again later",
        retryable: true,
        status: res.statusCode,
      });
    }
    if (res.statusCode >= 300) {
      throw new RegistryError({
        what: `${registry} does not look like an OCI registry: GET /v2/ answered ${res.statusCode}`,
        // Go's net/http answers 400 to plain HTTP on a TLS port.
        hint:
          res.statusCode === 400 && url.startsWith("http:")
            ? `tug spoke plain HTTP to it (loopback or --insecure-registry); if it serves HTTPS, drop it from --insecure-registry`
            : "check the registry host and port in the image reference",
        status: res.statusCode,
      });
    }
    return null;
  }

  /** The Authorization header value for these scopes, or undefined when none is needed. */
  async authorization(registry: string, scopes: string[]): Promise<string | undefined> {
    const challenge = await this.challenge(registry);
    if (!challenge) return undefined;
    return this.headerFor(registry, challenge, scopes);
  }

  /**
   * After a 401: drops cached tokens and fetches one for the scopes the registry asked for
   * (e.g. `insufficient_scope` on a cross-repository mount). Undefined means asking again is pointless.
   */
  async reauthorize(
    registry: string,
    scopes: string[],
    wwwAuthenticate: string | string[] | undefined,
  ): Promise<string | undefined> {
    const fresh = parseWwwAuthenticate(wwwAuthenticate);
    const challenge = fresh.find((c) => c.scheme === "bearer") ?? fresh.find((c) => c.scheme === "basic");
    if (!challenge) return undefined;
    const s = this.of(registry);
    s.challenge = Promise.resolve(challenge);
    const wanted = atoms(scopes);
    s.tokens = s.tokens.filter((t) => ![...wanted].every((a) => t.atoms.has(a)));
    const extra = challenge.params.scope ? challenge.params.scope.split(" ") : [];
    if (challenge.scheme === "basic" && !(await this.credentials(registry, repositoryOf(scopes))))
      return undefined;
    return this.headerFor(registry, challenge, [...new Set([...scopes, ...extra])]);
  }

  private async headerFor(
    registry: string,
    challenge: Challenge,
    scopes: string[],
  ): Promise<string | undefined> {
    const creds = await this.credentials(registry, repositoryOf(scopes));
    if (challenge.scheme === "basic") {
      if (!creds?.username || creds.password === undefined) return undefined;
      return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
    }
    if (challenge.scheme !== "bearer") return undefined;
    const s = this.of(registry);
    const wanted = atoms(scopes);
    const now = Date.now();
    const login = loginId(creds);
    const hit = s.tokens.find(
      (t) => t.login === login && t.expiresAt > now && [...wanted].every((a) => t.atoms.has(a)),
    );
    if (hit) return hit.header;
    const key = `${login} ${[...wanted].sort().join(" ")}`;
    let pending = s.pending.get(key);
    if (!pending) {
      pending = this.fetchToken(registry, challenge, scopes, creds).then((fetched) => {
        const token = { ...fetched, login };
        s.tokens = s.tokens.filter((t) => t.expiresAt > Date.now());
        s.tokens.push(token);
        return token;
      });
      s.pending.set(key, pending);
      const forget = () => s.pending.delete(key);
      pending.then(forget, forget);
    }
    return (await pending).header;
  }

  /**
   * Where a token may be asked for (go-containerregistry's rule, and docker's): the realm is an
   * http(s) URL; an https registry's realm must be https, or a hostile or misconfigured registry
   * could collect the user's credentials in the clear; and credentials go over plain HTTP only
   * to a host that is loopback or listed with --insecure-registry.
   */
  private checkedRealm(registry: string, realm: string | undefined, creds: Credentials | undefined): URL {
    if (!realm) {
      throw new RegistryError({ what: `registry ${registry} sent a Bearer challenge without a realm` });
    }
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      url = new URL("invalid:");
    }
    const shown = redactUrl(realm);
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new RegistryError({
        what: `registry ${registry} named a token realm that is not an http(s) URL: ${JSON.stringify(shown.slice(0, 200))}`,
        hint: "the registry is misconfigured or hostile",
      });
    }
    if (url.username || url.password) {
      throw new RegistryError({
        what: `registry ${registry} named a token realm with credentials in it: ${shown}`,
        hint: "the registry is misconfigured or hostile",
      });
    }
    if (url.protocol === "http:") {
      const registryIsHttps = this.transport.baseUrl(registry).startsWith("https:");
      if (registryIsHttps) {
        throw new RegistryError({
          what: `refused token realm ${shown}: registry ${registry} is https, its token realm must be https too`,
          hint: "credentials and tokens would travel in the clear; fix the registry's auth configuration",
        });
      }
      const hasSecret =
        creds !== undefined && (creds.identityToken !== undefined || creds.password !== undefined);
      if (hasSecret && !this.transport.allowsPlainHttp(url.host)) {
        throw new RegistryError({
          what: `refused token realm ${shown}: credentials for ${registry} are not sent over plain http to ${url.host}`,
          hint: `if ${url.host} is trusted on this network, allow it with --insecure-registry ${url.host}`,
        });
      }
    }
    return url;
  }

  private async fetchToken(
    registry: string,
    challenge: Challenge,
    scopes: string[],
    creds: Credentials | undefined,
  ): Promise<Omit<CachedToken, "login">> {
    const url = this.checkedRealm(registry, challenge.params.realm, creds);
    const service = challenge.params.service;
    const headers: Record<string, string> = {};
    let method = "GET";
    let body: Buffer | undefined;
    if (creds?.identityToken) {
      // An identity token is an OAuth2 refresh token: exchange it with a POST (distribution token spec).
      method = "POST";
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: creds.identityToken,
        client_id: "tug",
      });
      if (service) form.set("service", service);
      if (scopes.length) form.set("scope", scopes.join(" "));
      body = Buffer.from(form.toString());
      headers["content-type"] = "application/x-www-form-urlencoded";
    } else {
      if (service) url.searchParams.set("service", service);
      for (const scope of scopes) url.searchParams.append("scope", scope);
      if (creds?.username && creds.password !== undefined) {
        headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
      }
    }
    const res = await this.transport.send({ registry, method, url: url.toString(), headers, body });
    if (res.statusCode === 401 || res.statusCode === 403) {
      await res.body.dump();
      throw new RegistryError({
        what: creds
          ? `the token service of ${registry} rejected the stored credentials`
          : `registry ${registry} requires credentials`,
        where: `${url.origin}${url.pathname}`,
        hint: `run \`podman login ${registry}\` or \`docker login ${registry}\` (tug reads both; see README "Registry logins")`,
        status: res.statusCode,
      });
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new RegistryError({
        what: `the token service of ${registry} answered ${res.statusCode}`,
        where: `${url.origin}${url.pathname}`,
        retryable: res.statusCode >= 500 || res.statusCode === 429,
        status: res.statusCode,
      });
    }
    const where = `${url.origin}${url.pathname}`;
    let json: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      json = (await res.body.json({
        maxBytes: MAX_TOKEN_BYTES,
        what: `the token response of ${registry}`,
        where,
      })) as typeof json;
    } catch (e) {
      if (!(e instanceof SyntaxError))
        throw e instanceof TugError ? e : networkError(e, { registry, method, url: where });
      throw new RegistryError({
        what: `the token service of ${registry} sent something that is not JSON`,
        where,
      });
    }
    const token = json?.token ?? json?.access_token;
    // A token goes into a header: anything but printable ASCII is refused, not sent.
    if (typeof token !== "string" || !/^[\x21-\x7e]+$/.test(token)) {
      throw new RegistryError({ what: `the token service of ${registry} returned no usable token`, where });
    }
    // Spec: a missing expires_in means 60 seconds.
    const expiresIn = typeof json.expires_in === "number" && json.expires_in > 0 ? json.expires_in : 60;
    const ttlMs = expiresIn * 1000;
    return {
      header: `Bearer ${token}`,
      atoms: atoms(scopes),
      expiresAt: Date.now() + Math.max(ttlMs - EXPIRY_MARGIN_MS, ttlMs / 2),
    };
  }
}
