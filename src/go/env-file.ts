import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { TugError } from "../errors.ts";

/** A go env file is a few lines; anything larger is not one. */
const MAX_ENV_FILE = 1 << 20;

/**
 * Where `go env -w` writes: $GOENV ("off": none), else os.UserConfigDir()/go/env
 * ($XDG_CONFIG_HOME, or ~/.config, on Unix; ~/Library/Application Support on macOS;
 * %AppData% on Windows). Go ignores a relative XDG_CONFIG_HOME, and so does this.
 */
export function goEnvFilePath(
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  if (env.GOENV) return env.GOENV === "off" ? undefined : env.GOENV;
  let dir: string | undefined;
  if (platform === "win32") dir = env.AppData || env.APPDATA;
  else if (platform === "darwin") dir = env.HOME && join(env.HOME, "Library", "Application Support");
  else if (env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME)) dir = env.XDG_CONFIG_HOME;
  else dir = env.HOME && join(env.HOME, ".config");
  return dir ? join(dir, "go", "env") : undefined;
}

/**
 * The settings of a go env file as cmd/go reads them (cfg.readEnvFile): `KEY=value` lines whose
 * key starts with an upper-case letter; the value is the rest of the line, untrimmed.
 */
export function parseGoEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq <= 0 || !/^[A-Z]/.test(line)) continue;
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/**
 * The go env file's settings for an environment; empty when there is none. Read synchronously:
 * it is one small file, and a build's key must see what `go build` will see without spawning
 * `go env` on a no-op build.
 */
export function readGoEnvFile(env: NodeJS.ProcessEnv, where?: string): Record<string, string> {
  const path = goEnvFilePath(env);
  if (!path) return {};
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return {};
    throw new TugError({
      what: `cannot read the go env file ${path}: ${(e as Error).message}`,
      where,
      hint: "fix its permissions, or set GOENV=off to build without it",
    });
  }
  if (text.length > MAX_ENV_FILE) {
    throw new TugError({
      what: `the go env file ${path} is ${text.length} bytes, larger than a go env file can be`,
      where,
      hint: "check GOENV / XDG_CONFIG_HOME, or set GOENV=off",
    });
  }
  return parseGoEnvFile(text.toString("utf8"));
}

/**
 * `env` with the go env file's settings where `env` leaves them unset or empty: what `go build`
 * sees (cfg.Getenv prefers a non-empty variable, then the file), made explicit so the key,
 * `go list` and `go build` agree.
 */
export function withGoEnvFile(env: NodeJS.ProcessEnv, where?: string): NodeJS.ProcessEnv {
  const file = readGoEnvFile(env, where);
  const out: NodeJS.ProcessEnv = { ...env };
  for (const [k, v] of Object.entries(file)) if (!out[k]) out[k] = v;
  return out;
}
