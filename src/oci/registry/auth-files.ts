import { homedir } from "node:os";
import { join } from "node:path";
import { TugError } from "../../errors.ts";
import { readBoundedFile } from "../../util/bounded-file.ts";
import { DOCKER_HUB } from "../reference.ts";
import { type CredentialSource, type Credentials, runCredentialHelper } from "./docker-config.ts";

/** A login file: podman/buildah/skopeo's containers-auth.json, or docker's config.json. */
export interface AuthFile {
  path: string;
  kind: "containers" | "docker";
}

// Real login files hold a handful of entries; 1 MiB is far beyond any and bounds a hostile one.
const MAX_AUTH_FILE_BYTES = 1024 * 1024;

// Docker Hub credentials are stored under the legacy v1 index URL.
const HUB_KEY = "https://index.docker.io/v1/";

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface AuthFileContent {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

// Checked by hand, not with zod: the registry client is on every push's start-up path, and zod
// is most of the JavaScript a one-shot build would otherwise load (~580 KB).
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The path of the first value with an unexpected type, with what was expected; undefined when all fit. */
function authFileShapeError(json: unknown): { at: string; expected: string } | undefined {
  if (!isRecord(json)) return { at: "the top level", expected: "an object" };
  const { auths, credsStore, credHelpers } = json;
  if (credsStore !== undefined && typeof credsStore !== "string")
    return { at: "credsStore", expected: "a string" };
  if (credHelpers !== undefined) {
    if (!isRecord(credHelpers)) return { at: "credHelpers", expected: "an object" };
    for (const [k, v] of Object.entries(credHelpers))
      if (typeof v !== "string") return { at: `credHelpers.${k}`, expected: "a string" };
  }
  if (auths !== undefined) {
    if (!isRecord(auths)) return { at: "auths", expected: "an object" };
    for (const [k, entry] of Object.entries(auths)) {
      if (!isRecord(entry)) return { at: `auths.${k}`, expected: "an object" };
      for (const field of ["auth", "username", "password", "identitytoken"])
        if (entry[field] !== undefined && typeof entry[field] !== "string")
          return { at: `auths.${k}.${field}`, expected: "a string" };
    }
  }
  return undefined;
}

/**
 * The files containers/image (podman, buildah, skopeo) searches, in its order: an explicit
 * `$REGISTRY_AUTH_FILE` is the only file read; otherwise `$XDG_RUNTIME_DIR/containers/auth.json`
 * (where `podman login` writes; `/run/containers/UID/auth.json` without XDG_RUNTIME_DIR, as for
 * root), `$XDG_CONFIG_HOME/containers/auth.json`, then docker's `$DOCKER_CONFIG/config.json`
 * (where `docker login` writes). The first file holding an entry for the registry wins, so a
 * user of both tools gets what `podman push` would use.
 */
export function authFilePaths(
  env: NodeJS.ProcessEnv,
  home: string = homedir(),
  uid: number = process.getuid?.() ?? 0,
): AuthFile[] {
  if (env.REGISTRY_AUTH_FILE) return [{ path: env.REGISTRY_AUTH_FILE, kind: "containers" }];
  const runtimeDir = env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, "containers") : `/run/containers/${uid}`;
  const files: AuthFile[] = [{ path: join(runtimeDir, "auth.json"), kind: "containers" }];
  const configHome = env.XDG_CONFIG_HOME || join(home, ".config");
  files.push({ path: join(configHome, "containers/auth.json"), kind: "containers" });
  files.push({ path: join(env.DOCKER_CONFIG || join(home, ".docker"), "config.json"), kind: "docker" });
  return files;
}

function loginHint(file: AuthFile, key: string): string {
  return file.kind === "docker" ? `run \`docker login ${key}\` again` : `run \`podman login ${key}\` again`;
}

/** Reads and checks one login file; a missing file is no credentials, a broken one an error naming it. */
export async function readAuthFile(file: AuthFile): Promise<AuthFileContent | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readBoundedFile(file.path, MAX_AUTH_FILE_BYTES, "registry login file");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    if (e instanceof TugError) throw e;
    throw new TugError({
      what: `cannot read registry login file ${file.path}: ${code ?? (e as Error).message}`,
      hint: "check its permissions, or point $REGISTRY_AUTH_FILE / $DOCKER_CONFIG elsewhere",
    });
  }
  const fix =
    file.kind === "docker"
      ? "fix or remove it; `docker login` rewrites it"
      : "fix or remove it; `podman login` rewrites it";
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new TugError({ what: `registry login file ${file.path} is not valid JSON`, hint: fix });
  }
  const bad = authFileShapeError(json);
  if (bad) {
    throw new TugError({
      what: `registry login file ${file.path} has an unexpected shape at ${bad.at}: expected ${bad.expected}`,
      hint: fix,
    });
  }
  return json as AuthFileContent;
}

/**
 * A login key as a comparable `host[/path]`. Keys with a scheme are docker's legacy URL form
 * (`https://index.docker.io/v1/`) and name a whole registry; keys without one may name a
 * namespace (`quay.io/team/app`), as containers-auth.json(5) allows.
 */
export function normalizeAuthKey(key: string): string {
  const legacy = /^[a-z]+:\/\//i.test(key);
  const bare = key.replace(/^[a-z]+:\/\//i, "").replace(/\/+$/, "");
  const cut = bare.indexOf("/");
  let host = (cut < 0 ? bare : bare.slice(0, cut)).toLowerCase();
  if (host === "index.docker.io" || host === "registry-1.docker.io") host = DOCKER_HUB;
  if (legacy || cut < 0) return host;
  return `${host}${bare.slice(cut)}`;
}

function decodeEntry(entry: AuthEntry, key: string, file: AuthFile): Credentials | undefined {
  if (entry.identitytoken) return { identityToken: entry.identitytoken, username: entry.username };
  if (entry.auth) {
    const text = Buffer.from(entry.auth, "base64").toString("utf8");
    const sep = text.indexOf(":");
    if (sep < 0) {
      throw new TugError({
        what: `the "auth" entry for ${key} in ${file.path} is not base64 of user:password`,
        hint: loginHint(file, key),
      });
    }
    return { username: text.slice(0, sep), password: text.slice(sep + 1) };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  return undefined;
}

/** `host/a/b/c` → `host/a/b/c`, `host/a/b`, `host/a`, `host`: the most specific login first. */
function scopesOf(registry: string, repository: string | undefined): string[] {
  const out = [normalizeAuthKey(registry)];
  const parts = (repository ?? "").split("/").filter(Boolean);
  for (let i = 1; i <= parts.length; i++)
    out.unshift(`${out[out.length - 1]}/${parts.slice(0, i).join("/")}`);
  return out;
}

/** Credentials for `registry/repository` from one file; undefined when it has none for it. */
export async function credentialsInFile(
  file: AuthFile,
  content: AuthFileContent,
  registry: string,
  repository: string | undefined,
  env: NodeJS.ProcessEnv,
  runHelper: typeof runCredentialHelper = runCredentialHelper,
): Promise<Credentials | undefined> {
  const host = normalizeAuthKey(registry);
  const serverUrl = host === DOCKER_HUB ? HUB_KEY : host;
  const helper = Object.entries(content.credHelpers ?? {}).find(([k]) => normalizeAuthKey(k) === host)?.[1];
  if (helper) return runHelper(helper, serverUrl, env);
  // containers/image ignores credsStore (registries.conf configures its helpers); docker honours it.
  if (file.kind === "docker" && content.credsStore) {
    const found = await runHelper(content.credsStore, serverUrl, env);
    if (found) return found;
  }
  const entries = Object.entries(content.auths ?? {});
  for (const scope of scopesOf(registry, repository)) {
    for (const [key, entry] of entries) {
      if (normalizeAuthKey(key) !== scope) continue;
      const creds = decodeEntry(entry, key, file);
      if (creds) return creds;
    }
  }
  return undefined;
}

export interface RegistryCredentialsOptions {
  /** The files to search, in order; default: `authFilePaths(env)`. */
  files?: AuthFile[];
  /** Environment for file locations and credential helpers; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** Credentials from podman's and docker's login files, searched in containers/image's order. */
export function registryCredentials(opts: RegistryCredentialsOptions = {}): CredentialSource {
  const env = opts.env ?? process.env;
  const files = opts.files ?? authFilePaths(env);
  const contents = new Map<string, Promise<AuthFileContent | undefined>>();
  const read = (file: AuthFile) => {
    let p = contents.get(file.path);
    if (!p) {
      p = readAuthFile(file);
      contents.set(file.path, p);
    }
    return p;
  };
  // Lookups are per repository (namespace-scoped keys); a helper answers per host, so once.
  const helperAnswers = new Map<string, Promise<Credentials | undefined>>();
  const runHelper: typeof runCredentialHelper = (name, serverUrl, helperEnv) => {
    const key = `${name}\0${serverUrl}`;
    let p = helperAnswers.get(key);
    if (!p) {
      p = runCredentialHelper(name, serverUrl, helperEnv);
      helperAnswers.set(key, p);
    }
    return p;
  };
  return async (registry, repository) => {
    for (const file of files) {
      const content = await read(file);
      if (!content) continue;
      const found = await credentialsInFile(file, content, registry, repository, env, runHelper);
      if (found) return found;
    }
    return undefined;
  };
}

/** Only docker's config.json in `dir` (default `$DOCKER_CONFIG` or `~/.docker`), as the docker CLI reads it. */
export function dockerConfigCredentials(
  opts: { dir?: string; env?: NodeJS.ProcessEnv } = {},
): CredentialSource {
  const env = opts.env ?? process.env;
  const dir = opts.dir ?? (env.DOCKER_CONFIG || join(homedir(), ".docker"));
  return registryCredentials({ env, files: [{ path: join(dir, "config.json"), kind: "docker" }] });
}
