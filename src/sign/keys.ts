import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { TugError } from "../errors.ts";
import { readBoundedFile } from "../util/bounded-file.ts";

// Signing keys are ECDSA P-256, the scheme every cosign verifier supports (cosign
// specs/SIGNATURE_SPEC.md, "Signature Schemes"). Keys come as PEM; a password only ever comes
// from the environment, and neither the key nor the password appears in any message.

const MAX_KEY_BYTES = 64 * 1024;

/** The environment variables a key password is read from, first set one wins. */
export const PASSWORD_ENV = ["TUG_SIGN_PASSWORD", "COSIGN_PASSWORD"] as const;

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Where it was read from, for messages. */
  path: string;
}

export function keyPassword(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const name of PASSWORD_ENV) {
    const v = env[name];
    if (v) return v;
  }
  return undefined;
}

function pemLabel(text: string): string | undefined {
  return /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text)?.[1];
}

function requireP256(key: KeyObject, path: string): void {
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    const kind =
      key.asymmetricKeyType === "ec" ? `EC ${key.asymmetricKeyDetails?.namedCurve}` : key.asymmetricKeyType;
    throw new TugError({
      what: `the key in ${path} is ${kind ?? "of an unknown type"}, not ECDSA P-256`,
      where: path,
      hint: "cosign signatures use ECDSA P-256: `tug keygen` writes such a pair",
    });
  }
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return (await readBoundedFile(path, MAX_KEY_BYTES, what)).toString("utf8");
  } catch (e) {
    if (e instanceof TugError) throw e;
    throw new TugError({
      what: `could not read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      where: path,
      hint: "`tug keygen` writes cosign.key and cosign.pub in the current directory",
    });
  }
}

/** The private key of `--sign-key`: an unencrypted or PKCS#8-encrypted PEM (password from env). */
export async function loadSigningKey(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SigningKey> {
  const text = await readPem(path, "signing key");
  const label = pemLabel(text);
  if (label === "ENCRYPTED SIGSTORE PRIVATE KEY" || label === "ENCRYPTED COSIGN PRIVATE KEY") {
    throw new TugError({
      what: `${path} is in cosign's own encrypted key format (scrypt + secretbox), which tug does not read`,
      where: path,
      hint: "use a PEM key: `tug keygen` writes one (PKCS#8, encrypted when TUG_SIGN_PASSWORD or COSIGN_PASSWORD is set); cosign verifies its signatures with the same cosign.pub",
    });
  }
  if (label !== "PRIVATE KEY" && label !== "EC PRIVATE KEY" && label !== "ENCRYPTED PRIVATE KEY") {
    throw new TugError({
      what: `${path} holds no private key PEM${label ? ` (it holds a ${label})` : ""}`,
      where: path,
      hint: "pass the private half (cosign.key) to --sign-key and the public half (cosign.pub) to tug verify --key",
    });
  }
  const passphrase = keyPassword(env);
  if (label === "ENCRYPTED PRIVATE KEY" && passphrase === undefined) {
    throw new TugError({
      what: `${path} is encrypted and no password is set`,
      where: path,
      hint: `set ${PASSWORD_ENV.join(" or ")} in the environment (never on the command line)`,
    });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(
      label === "ENCRYPTED PRIVATE KEY"
        ? { key: text, format: "pem", passphrase }
        : { key: text, format: "pem" },
    );
  } catch {
    // The crypto error may quote key material; it is replaced, not wrapped.
    throw new TugError({
      what:
        label === "ENCRYPTED PRIVATE KEY"
          ? `could not decrypt ${path}: wrong password or a damaged key`
          : `could not read the private key in ${path}`,
      where: path,
      hint: `check ${PASSWORD_ENV.join(" / ")}, or write a new pair with \`tug keygen\``,
    });
  }
  requireP256(privateKey, path);
  return { privateKey, publicKey: createPublicKey(privateKey), path };
}

/** The public key of `tug verify --key`: a PEM public key (cosign.pub), P-256. */
export async function loadPublicKey(path: string): Promise<KeyObject> {
  const text = await readPem(path, "public key");
  if (pemLabel(text) !== "PUBLIC KEY") {
    throw new TugError({
      what: `${path} holds no PEM public key`,
      where: path,
      hint: "pass cosign.pub (`-----BEGIN PUBLIC KEY-----`), the file `tug keygen` writes beside cosign.key",
    });
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: "pem" });
  } catch {
    throw new TugError({ what: `could not read the public key in ${path}`, where: path });
  }
  requireP256(key, path);
  return key;
}

/** A new P-256 pair as PEM: the private half PKCS#8, encrypted (AES-256-CBC) when a password is given. */
export function newKeyPair(password: string | undefined): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const privatePem = privateKey.export(
    password
      ? { type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: password }
      : { type: "pkcs8", format: "pem" },
  ) as string;
  return { privatePem, publicPem: publicKey.export({ type: "spki", format: "pem" }) as string };
}
