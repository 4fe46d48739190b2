import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { TugError } from "../../errors.ts";
import { DOCKER_HUB } from "../reference.ts";

/** What a registry login yields: a username/password pair, or an OAuth2 refresh token. */
export interface Credentials {
  username?: string;
  password?: string;
  identityToken?: string;
}

/** Looks up credentials for a registry as named in references (`docker.io`, `host:port`). */
export type CredentialSource = (registry: string) => Promise<Credentials | undefined>;

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

export interface DockerConfigOptions {
  /** Directory holding config.json; default `$DOCKER_CONFIG` or `~/.docker`. */
  dir?: string;
  /** Environment for credential helpers (PATH lookup); default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

// Docker Hub credentials are stored under the legacy v1 index URL.
const HUB_KEY = "https://index.docker.io/v1/";

/** config.json keys may carry a scheme and a path (`https://host:5000/v1/`); compare hosts only. */
export function normalizeAuthKey(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, "").split("/")[0] ?? "";
  if (host === "index.docker.io" || host === "registry-1.docker.io" || host === DOCKER_HUB) return DOCKER_HUB;
  return host.toLowerCase();
}

function decodeEntry(entry: AuthEntry, key: string): Credentials | undefined {
  if (entry.identitytoken) return { identityToken: entry.identitytoken, username: entry.username };
  if (entry.auth) {
    const text = Buffer.from(entry.auth, "base64").toString("utf8");
    const sep = text.indexOf(":");
    if (sep < 0) {
      throw new TugError({
        what: `the "auth" entry for ${key} in docker config.json is not base64 of user:password`,
        hint: `run \`docker login ${key}\` again`,
      });
    }
    return { username: text.slice(0, sep), password: text.slice(sep + 1) };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  return undefined;
}

/** Runs `docker-credential-NAME get` (the docker credential helper protocol). */
export async function runCredentialHelper(
  name: string,
  serverUrl: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Credentials | undefined> {
  const program = `docker-credential-${name}`;
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(program, ["get"], { env, stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.setEncoding("utf8").on("data", (c: string) => {
        out += c;
      });
      child.stderr.setEncoding("utf8").on("data", (c: string) => {
        err += c;
      });
      child.on("error", (e: NodeJS.ErrnoException) =>
        reject(
          new TugError({
            what: `cannot run credential helper ${program}: ${e.code ?? e.message}`,
            hint: `install ${program}, or remove "${name}" from credsStore/credHelpers in docker config.json`,
          }),
        ),
      );
      child.on("close", (c) => resolve({ code: c, stdout: out, stderr: err }));
      child.stdin.end(serverUrl);
    },
  );
  if (code !== 0) {
    // Helpers report a missing entry on stdout or stderr with this phrase; that is not an error.
    if (/credentials not found/i.test(stdout + stderr)) return undefined;
    throw new TugError({
      what: `credential helper ${program} failed for ${serverUrl} (exit ${code})`,
      hint: `check \`echo ${serverUrl} | ${program} get\` by hand`,
    });
  }
  let parsed: { Username?: string; Secret?: string };
  try {
    parsed = JSON.parse(stdout) as { Username?: string; Secret?: string };
  } catch {
    throw new TugError({ what: `credential helper ${program} printed something that is not JSON` });
  }
  if (!parsed.Secret) return undefined;
  // "<token>" as the username marks the secret as an identity (refresh) token.
  if (parsed.Username === "<token>") return { identityToken: parsed.Secret };
  return { username: parsed.Username ?? "", password: parsed.Secret };
}

async function readConfig(dir: string): Promise<DockerConfigFile | undefined> {
  const path = join(dir, "config.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as DockerConfigFile;
  } catch {
    throw new TugError({
      what: `${path} is not valid JSON`,
      hint: "fix or remove it; docker login rewrites it",
    });
  }
}

/**
 * Credentials the way the docker CLI finds them: a per-registry credHelper first, then the
 * global credsStore, then inline `auths` entries.
 */
export function dockerConfigCredentials(opts: DockerConfigOptions = {}): CredentialSource {
  const env = opts.env ?? process.env;
  const dir = opts.dir ?? env.DOCKER_CONFIG ?? join(homedir(), ".docker");
  let config: Promise<DockerConfigFile | undefined> | undefined;
  return async (registry) => {
    config ??= readConfig(dir);
    const cfg = await config;
    if (!cfg) return undefined;
    const want = normalizeAuthKey(registry);
    const serverUrl = want === DOCKER_HUB ? HUB_KEY : want;
    const helper = Object.entries(cfg.credHelpers ?? {}).find(([k]) => normalizeAuthKey(k) === want)?.[1];
    if (helper) return runCredentialHelper(helper, serverUrl, env);
    if (cfg.credsStore) {
      const found = await runCredentialHelper(cfg.credsStore, serverUrl, env);
      if (found) return found;
    }
    for (const [key, entry] of Object.entries(cfg.auths ?? {})) {
      if (normalizeAuthKey(key) === want) {
        const creds = decodeEntry(entry, key);
        if (creds) return creds;
      }
    }
    return undefined;
  };
}
