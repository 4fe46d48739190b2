import { mkdir, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { TugError } from "../errors.ts";

/** What each file-system failure means, in words, and what the user can do about it. */
const IO_FAILURES: Record<string, { words: string; hint: string }> = {
  ENOSPC: {
    words: "no space left on device",
    hint: "free space on the file system that holds it (or point TUG_CACHE / the output elsewhere) and build again; nothing half-written was kept",
  },
  EDQUOT: {
    words: "disk quota exceeded",
    hint: "free space within your quota (or point TUG_CACHE / the output elsewhere) and build again; nothing half-written was kept",
  },
  EFBIG: {
    words: "file too large for its file system",
    hint: "write the output to a file system that allows files this big",
  },
  EIO: {
    words: "I/O error (the device failed the write)",
    hint: "the disk or network file system reported a hardware or transport error; check it (dmesg) and build again",
  },
  EACCES: {
    words: "permission denied",
    hint: "make the directory writable by this user, or point TUG_CACHE / the output elsewhere",
  },
  EPERM: {
    words: "operation not permitted",
    hint: "make the directory writable by this user, or point TUG_CACHE / the output elsewhere",
  },
  EROFS: {
    words: "read-only file system",
    hint: "the file system is mounted read-only; point TUG_CACHE / the output at a writable one",
  },
};

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Whether `e` is a file-system failure the user must fix (full disk, permissions, …), not a bug. */
export function isIoFailure(e: unknown): boolean {
  const code = codeOf(e);
  return code !== undefined && code in IO_FAILURES;
}

// Temp names (`….PID.HOSTRAND.tmp`, a leading dot for hidden siblings) stand for their target:
// the user knows the output, not the temp file it was being written through.
const TEMP_SUFFIX = /(\.\d+\.[0-9a-f]{8,}\.tmp)+$/;

/** The path a temp file is written for (`out/.x.zip.12.ab12cd34ef.tmp` → `out/x.zip`). */
export function targetOfTemp(path: string): string {
  if (!TEMP_SUFFIX.test(path)) return path;
  const stripped = path.replace(TEMP_SUFFIX, "");
  return stripped.replace(/(^|\/)\.([^/]+)$/, "$1$2");
}

/**
 * One clear error for a failed write: "no space left on device while writing the lambda zip
 * .tug/out/lambda/api.zip". `writing` says what it was ("the lambda zip", "a cache record");
 * `path` is what the user would look for (a temp path is shown as its target). Errors that are
 * not file-system failures (and TugErrors) come back unchanged, so bugs keep their stack.
 */
export function ioError(e: unknown, o: { path: string; writing: string }): unknown {
  if (e instanceof TugError) return e;
  const code = codeOf(e);
  const failure = code === undefined ? undefined : IO_FAILURES[code];
  if (!failure) return e;
  const path = targetOfTemp(o.path);
  return new TugError({
    what: `${failure.words} while writing ${o.writing} ${path} (${code})`,
    where: path,
    hint: failure.hint,
    cause: e,
  });
}

/** Runs `write`, turning a file-system failure into ioError's one clear error. */
export async function writingTo<T>(
  o: { path: string; writing: string },
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (e) {
    throw ioError(e, o);
  }
}

/**
 * `mkdir -p` whose failure says why: Node's recursive mkdir reports a read-only or unwritable
 * parent as ENOENT, so on ENOENT the first missing directory is made alone to learn the real code.
 */
export async function makeDirectory(dir: string, writing: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    if (codeOf(e) !== "ENOENT") throw ioError(e, { path: dir, writing });
    let missing = dir;
    while (
      dirname(missing) !== missing &&
      !(await stat(dirname(missing)).then(
        () => true,
        () => false,
      ))
    )
      missing = dirname(missing);
    const real: unknown = await mkdir(missing).then(
      () => e,
      (e2: unknown) => e2,
    );
    throw ioError(real, { path: dir, writing });
  }
}
