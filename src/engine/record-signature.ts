import { createHmac, timingSafeEqual } from "node:crypto";

/*
 * Signed shared-cache records (Turborepo's signed remote cache, for action records). With
 * TUG_REMOTE_CACHE_KEY set, every record tug writes to the shared cache starts with one line
 *
 *   tug-hmac-sha256 <64 hex>\n<record envelope JSON>
 *
 * where the hex is HMAC-SHA256(key, "tug-record-sig-v1\0" + remoteKey + "\0" + envelope). The
 * remote key is the record's name on the server (`/ac/HEX`, `ac/HEX`, tag `ac-HEX`), so a signed
 * record cannot be replayed under another name. The signature travels in the body, so all three
 * backends (Bazel HTTP, S3, OCI) carry it unchanged, and a server that rewrites headers cannot
 * strip it. Blobs are not signed: they are content-addressed, and each is verified against the
 * sha256 a (signed) record names before it is used.
 */

const PREFIX = "tug-hmac-sha256 ";
const LINE = new RegExp(`^${PREFIX}([0-9a-f]{64})\\n`);

export type OpenedRecord = { ok: true; envelope: string } | { ok: false; why: "unsigned" | "bad signature" };

function mac(secret: string, remoteKey: string, envelope: string): Buffer {
  return createHmac("sha256", secret).update(`tug-record-sig-v1\0${remoteKey}\0`).update(envelope).digest();
}

/** The bytes to store under `remoteKey`: signed when a key is set, the plain envelope otherwise. */
export function sealRecord(envelope: string, remoteKey: string, secret: string | undefined): string {
  if (!secret) return envelope;
  return `${PREFIX}${mac(secret, remoteKey, envelope).toString("hex")}\n${envelope}`;
}

/**
 * The envelope inside a stored record. With a key, only a record whose signature verifies for
 * this name is opened; without one, signed and unsigned records are both read (the signature
 * line is dropped unchecked: without a key there is nothing to check it against).
 */
export function openRecord(stored: string, remoteKey: string, secret: string | undefined): OpenedRecord {
  const m = LINE.exec(stored);
  const envelope = m ? stored.slice(m[0].length) : stored;
  if (!secret) return { ok: true, envelope };
  if (!m?.[1]) return { ok: false, why: "unsigned" };
  const expected = mac(secret, remoteKey, envelope);
  const given = Buffer.from(m[1], "hex");
  return timingSafeEqual(expected, given) ? { ok: true, envelope } : { ok: false, why: "bad signature" };
}
