// Self-signed certificates made with openssl (an independent issuer) for TLS servers in tests.
import { execFile } from "node:child_process";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { promisify } from "node:util";
import { tempDir } from "./tmp.ts";

export interface TlsFiles {
  keyPath: string;
  certPath: string;
}

/**
 * A fresh self-signed certificate; with `ip`, valid for that address (subjectAltName), so a
 * client given it through NODE_EXTRA_CA_CERTS verifies the server as it would a real one.
 */
export async function selfSignedCert(t: TestContext, ip?: string, cn = ip ?? "tug-test"): Promise<TlsFiles> {
  const dir = await tempDir(t, "tug-tls-");
  const keyPath = join(dir, "key.pem");
  const certPath = join(dir, "cert.pem");
  const san = ip ? ["-addext", `subjectAltName=IP:${ip}`] : [];
  await promisify(execFile)("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    keyPath,
    "-out",
    certPath,
    "-days",
    "2",
    "-subj",
    `/CN=${cn}`,
    ...san,
  ]);
  return { keyPath, certPath };
}
