import { createHash } from "node:crypto";

/** JSON with object keys sorted, so equal values always hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/**
 * An action key: the hash of what the action is (kind + version) and everything it reads
 * (input digests, parameters). Callers must never put absolute paths or times in `inputs`,
 * so two clones of one commit on two machines compute the same key.
 */
export interface ActionKeyParts {
  kind: string;
  version: number;
  inputs: Record<string, unknown>;
}

export function actionKey(parts: ActionKeyParts): string {
  return hashJson(parts);
}

/** Hex sha256 of a value's canonical JSON: a key for records that are not layer actions. */
export function hashJson(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex");
}
