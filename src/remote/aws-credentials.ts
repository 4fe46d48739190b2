import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { TugError } from "../errors.ts";
import type { AwsCredentials } from "./sigv4.ts";

/** INI sections as the AWS shared credentials file writes them: `[name]` then `key = value`. */
export function parseIni(text: string): Map<string, Record<string, string>> {
  const sections = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header?.[1]) {
      current = {};
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf("=");
    if (current && eq > 0) current[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return sections;
}

/**
 * The start of the AWS SDKs' default chain, enough for CI and laptops: the environment
 * (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), then the
 * `[AWS_PROFILE or default]` section of the shared credentials file. Undefined when neither has
 * any; a named profile that is missing is an error, since the user asked for it.
 */
export async function resolveAwsCredentials(env: NodeJS.ProcessEnv): Promise<AwsCredentials | undefined> {
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  if (id && secret) {
    return env.AWS_SESSION_TOKEN
      ? { accessKeyId: id, secretAccessKey: secret, sessionToken: env.AWS_SESSION_TOKEN }
      : { accessKeyId: id, secretAccessKey: secret };
  }
  const file = env.AWS_SHARED_CREDENTIALS_FILE || join(env.HOME || homedir(), ".aws", "credentials");
  const profile = env.AWS_PROFILE || "default";
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" && !env.AWS_PROFILE) return undefined;
    throw new TugError({
      what: `cannot read the AWS credentials file ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      hint: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_SHARED_CREDENTIALS_FILE",
      cause: e,
    });
  }
  const section = parseIni(text).get(profile);
  const sid = section?.aws_access_key_id;
  const ssecret = section?.aws_secret_access_key;
  if (!sid || !ssecret) {
    if (!env.AWS_PROFILE) return undefined;
    throw new TugError({
      what: `AWS profile "${profile}" has no aws_access_key_id and aws_secret_access_key in ${file}`,
      hint: "tug reads static keys only (no SSO or role profiles); export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead",
    });
  }
  return section.aws_session_token
    ? { accessKeyId: sid, secretAccessKey: ssecret, sessionToken: section.aws_session_token }
    : { accessKeyId: sid, secretAccessKey: ssecret };
}
