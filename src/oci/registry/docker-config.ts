import { spawn } from "node:child_process";
import { TugError } from "../../errors.ts";

/** What a registry login yields: a username/password pair, or an OAuth2 refresh token. */
export interface Credentials {
  username?: string;
  password?: string;
  identityToken?: string;
}

/**
 * Looks up credentials for a registry as named in references (`docker.io`, `host:port`) and,
 * when known, the repository, for logins scoped to a namespace (`quay.io/team`).
 */
export type CredentialSource = (registry: string, repository?: string) => Promise<Credentials | undefined>;

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
            hint: `install ${program}, or remove "${name}" from credsStore/credHelpers in your registry login file (docker config.json or containers auth.json)`,
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
