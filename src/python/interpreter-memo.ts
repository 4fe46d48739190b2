import { stat } from "node:fs/promises";
import { isAbsolute } from "node:path";
import { hashJson } from "../engine/key.ts";

/** Just what the memo needs of the cache store. */
export interface InterpreterStore {
  getRecord<T>(kind: string, key: string, check?: (v: unknown) => v is T): Promise<T | undefined>;
  putRecord<T>(kind: string, key: string, value: T): Promise<void>;
}

interface Remembered {
  executable: string;
  /** The file as it was then: a reinstalled or removed interpreter is asked for again. */
  stamp: string;
}

const RECORD = "python-interpreter";

const isRemembered = (v: unknown): v is Remembered =>
  typeof v === "object" &&
  v !== null &&
  typeof (v as Remembered).executable === "string" &&
  isAbsolute((v as Remembered).executable) &&
  typeof (v as Remembered).stamp === "string";

// Per command and PATH: another PATH (a virtualenv activated) may find another interpreter.
const keyOf = (command: string) => hashJson({ command, path: process.env.PATH ?? "" });

async function stampOf(path: string): Promise<string | undefined> {
  const st = await stat(path, { bigint: true }).catch(() => undefined);
  return st?.isFile() ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}` : undefined;
}

/**
 * The interpreter `command` (python3.11) ran last time, when that file is unchanged: a shim of a
 * version manager costs a few hundred ms per start, the interpreter itself a few tens. The caller
 * checks the version it reports and falls back to `command` when it is not the one wanted.
 */
export async function knownInterpreter(
  store: InterpreterStore | undefined,
  command: string,
): Promise<string | undefined> {
  const r = await store?.getRecord(RECORD, keyOf(command), isRemembered);
  if (!r) return undefined;
  return (await stampOf(r.executable)) === r.stamp ? r.executable : undefined;
}

export async function rememberInterpreter(
  store: InterpreterStore | undefined,
  command: string,
  executable: string,
): Promise<void> {
  if (!store || !isAbsolute(executable)) return;
  const stamp = await stampOf(executable);
  if (stamp) await store.putRecord<Remembered>(RECORD, keyOf(command), { executable, stamp });
}
