// Signing keys written by openssl (an independent writer): PKCS#8 encrypted with a password from
// the environment, SEC1 "EC PRIVATE KEY", and the refusals (another curve, RSA, cosign's own
// encrypted format, a wrong password) each with one TugError that never quotes the password.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { isTugError } from "../../src/errors.ts";
import { loadPublicKey, loadSigningKey } from "../../src/sign/keys.ts";
import { signPayload } from "../../src/sign/signature-image.ts";
import { simpleSigningPayload } from "../../src/sign/simple-signing.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";

const PASSWORD = "correct horse battery staple";

test("an openssl PKCS#8 key encrypted with a password from the environment signs what openssl verifies", async (t) => {
  const dir = await tempDir(t, "tug-keys-");
  const plain = join(dir, "plain.pem");
  const key = join(dir, "cosign.key");
  const pub = join(dir, "cosign.pub");
  await runTool("openssl", [
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    plain,
  ]);
  await runTool(
    "openssl",
    ["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", plain, "-out", key, "-passout", "env:PW"],
    { env: { ...process.env, PW: PASSWORD } },
  );
  await runTool("openssl", ["pkey", "-in", plain, "-pubout", "-out", pub]);
  assert.match(await readFile(key, "utf8"), /BEGIN ENCRYPTED PRIVATE KEY/);

  const signing = await loadSigningKey(key, { COSIGN_PASSWORD: PASSWORD });
  const payload = simpleSigningPayload("registry.example/app", `sha256:${"a".repeat(64)}`);
  await writeFile(join(dir, "payload"), payload);
  await writeFile(join(dir, "sig.der"), Buffer.from(signPayload(signing.privateKey, payload), "base64"));
  const out = await runTool("openssl", [
    "dgst",
    "-sha256",
    "-verify",
    pub,
    "-signature",
    join(dir, "sig.der"),
    join(dir, "payload"),
  ]);
  assert.match(out.stdout, /Verified OK/);
  assert.ok((await loadPublicKey(pub)).equals(signing.publicKey));

  // TUG_SIGN_PASSWORD wins over COSIGN_PASSWORD; a wrong one is refused without being echoed.
  const wrong = await loadSigningKey(key, { TUG_SIGN_PASSWORD: "hunter2", COSIGN_PASSWORD: PASSWORD }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(isTugError(wrong));
  assert.match(wrong.what, /wrong password/);
  assert.ok(!wrong.format().includes("hunter2"));
  await assert.rejects(
    loadSigningKey(key, {}),
    (e: unknown) => isTugError(e) && /no password is set/.test(e.what),
  );
});

test("SEC1 EC keys load; other curves, RSA, public keys and cosign's own encrypted format are refused", async (t) => {
  const dir = await tempDir(t, "tug-keys-");
  const sec1 = join(dir, "sec1.pem");
  await runTool("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", sec1]);
  assert.match(await readFile(sec1, "utf8"), /BEGIN EC PRIVATE KEY/);
  assert.equal((await loadSigningKey(sec1, {})).privateKey.asymmetricKeyDetails?.namedCurve, "prime256v1");

  const p384 = join(dir, "p384.pem");
  await runTool("openssl", [
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-384",
    "-out",
    p384,
  ]);
  await assert.rejects(
    loadSigningKey(p384, {}),
    (e: unknown) => isTugError(e) && /not ECDSA P-256/.test(e.what),
  );
  const rsa = join(dir, "rsa.pem");
  await runTool("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rsa]);
  await assert.rejects(
    loadSigningKey(rsa, {}),
    (e: unknown) => isTugError(e) && /is rsa, not ECDSA P-256/.test(e.what),
  );

  const pub = join(dir, "sec1.pub");
  await runTool("openssl", ["pkey", "-in", sec1, "-pubout", "-out", pub]);
  await assert.rejects(loadSigningKey(pub, {}), (e: unknown) => isTugError(e) && /PUBLIC KEY/.test(e.what));
  await assert.rejects(
    loadPublicKey(sec1),
    (e: unknown) => isTugError(e) && /no PEM public key/.test(e.what),
  );

  const cosignFormat = join(dir, "cosign-format.key");
  await writeFile(
    cosignFormat,
    `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${Buffer.from("{}").toString("base64")}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`,
  );
  await assert.rejects(
    loadSigningKey(cosignFormat, { COSIGN_PASSWORD: PASSWORD }),
    (e: unknown) =>
      isTugError(e) && /cosign's own encrypted key format/.test(e.what) && /tug keygen/.test(e.hint ?? ""),
  );
  await assert.rejects(
    loadSigningKey(join(dir, "missing.key"), {}),
    (e: unknown) => isTugError(e) && /ENOENT/.test(e.what),
  );
});
