import { createPrivateKey, createSign, randomUUID, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";
import { selfSignedCert } from "./tls.ts";

export interface TokenServerOptions {
  /** username → password; requests with these Basic credentials get every action asked for. */
  users?: Record<string, string>;
  /** refresh token → username, for the OAuth2 POST flow docker uses with identity tokens. */
  refreshTokens?: Record<string, string>;
  /** Whether requests without credentials get `pull` (public images). Default true. */
  anonymousPull?: boolean;
}

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  /** Every token request received, for asserting caching. */
  requests: Array<{ user?: string; scopes: string[]; grant?: "refresh_token" }>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/** Starts the server on a free port with a fresh self-signed certificate; closed when `t` ends. */
export async function startTokenServer(t: TestContext, opts: TokenServerOptions = {}): Promise<TokenServer> {
  const { keyPath, certPath } = await selfSignedCert(t, undefined, "tug-test-token");
  const key = createPrivateKey(await readFile(keyPath));
  const cert = new X509Certificate(await readFile(certPath));
  const service = "tug-test-registry";
  const issuer = "tug-test-issuer";
  const requests: TokenServer["requests"] = [];

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    let params = url.searchParams;
    if (req.method === "POST") {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      params = new URLSearchParams(Buffer.concat(chunks).toString());
    }
    const scopes = params
      .getAll("scope")
      .flatMap((s) => s.split(" "))
      .filter(Boolean);
    const deny = () => res.writeHead(401, { "content-type": "application/json" }).end('{"details":"denied"}');
    let user: string | undefined;
    const authz = req.headers.authorization;
    if (req.method === "POST") {
      user = opts.refreshTokens?.[params.get("refresh_token") ?? ""];
      if (params.get("grant_type") !== "refresh_token" || !user) return deny();
    } else if (authz?.startsWith("Basic ")) {
      const [u, p] = Buffer.from(authz.slice(6), "base64").toString().split(":");
      if (!u || opts.users?.[u] !== p) return deny();
      user = u;
    }
    requests.push({
      ...(user ? { user } : {}),
      scopes,
      ...(req.method === "POST" ? { grant: "refresh_token" as const } : {}),
    });
    const access = scopes.map((s) => {
      const [type = "", name = "", actions = ""] = [
        s.slice(0, s.indexOf(":")),
        ...splitLast(s.slice(s.indexOf(":") + 1)),
      ];
      const granted = actions
        .split(",")
        .filter((a) => user || (a === "pull" && opts.anonymousPull !== false));
      return { type, name, actions: granted };
    });
    const now = Math.floor(Date.now() / 1000);
    // x5c carries the signing certificate, which the registry checks against its rootcertbundle.
    const header = { alg: "RS256", typ: "JWT", x5c: [cert.raw.toString("base64")] };
    const claims = {
      iss: issuer,
      sub: user ?? "",
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign("RSA-SHA256").update(signingInput).sign(key);
    const token = `${signingInput}.${b64url(signature)}`;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { realm: `http://127.0.0.1:${port}/token`, service, issuer, certPath, requests };
}

/** `name:actions` where the name itself may contain ":" (a registry host with a port). */
function splitLast(s: string): [string, string] {
  const i = s.lastIndexOf(":");
  return [s.slice(0, i), s.slice(i + 1)];
}
