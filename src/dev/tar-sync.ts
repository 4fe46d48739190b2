import { readFile, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import tar from "tar-stream";
import { TugError } from "../errors.ts";
import { normalizeLayerPath } from "../oci/tar.ts";
import type { FileChange } from "./runtime.ts";

/** `/app/src/x.ts` → `app/src/x.ts`; refuses relative paths, "..", and the root itself. */
function inImage(change: FileChange): string {
  if (!change.path.startsWith("/")) {
    throw new TugError({
      what: `dev sync path ${change.path} is not absolute`,
      hint: "sync targets are absolute paths in the image, e.g. /app/src/",
    });
  }
  const p = normalizeLayerPath(change.path);
  if (p === "") throw new TugError({ what: "dev sync cannot write or delete the image root itself" });
  return p;
}

/**
 * The `write` changes as one streamed tar for `/tug/supervisor extract /`: paths relative to
 * `/`, no parent directories (the extractor makes missing ones 0755 and leaves existing ones
 * alone), each file's mode as given, else 0755 when its source is executable, else 0644.
 * Entry mtimes are the sync time, so tools in the container that compare mtimes see new files.
 *
 * Each source is read whole when its entry is written: a snapshot, so a file an editor is
 * still writing can never give a header size that its bytes do not match. A source that has
 * gone (deleted after the change was seen) is left out; the next batch carries its deletion.
 */
export function syncTar(changes: FileChange[]): Readable {
  const writes = changes.filter((c) => c.kind === "write").map((c) => ({ change: c, name: inImage(c) }));
  const pack = tar.pack();
  const out = Readable.from(pack, { objectMode: false });
  void (async () => {
    const mtime = new Date();
    for (const { change, name } of writes) {
      const content = await contentOf(change);
      if (content === undefined) continue;
      const header = { name, type: "file" as const, mode: content.mode, mtime, uid: 0, gid: 0 };
      await new Promise<void>((resolve, reject) =>
        pack.entry(header, content.data, (err) => (err ? reject(err) : resolve())),
      );
    }
    pack.finalize();
  })().catch((err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))));
  return out;
}

async function contentOf(c: FileChange): Promise<{ data: Buffer; mode: number } | undefined> {
  if (c.data !== undefined) {
    return { data: Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength), mode: c.mode ?? 0o644 };
  }
  if (c.source === undefined) {
    throw new TugError({ what: `dev sync of ${c.path} has neither a source file nor data` });
  }
  try {
    const [st, data] = await Promise.all([stat(c.source), readFile(c.source)]);
    return { data, mode: (c.mode ?? (st.mode & 0o111 ? 0o755 : 0o644)) & 0o7777 };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** The paths of the `delete` changes, absolute in the image. */
export function deletePaths(changes: FileChange[]): string[] {
  return changes.filter((c) => c.kind === "delete").map((c) => `/${inImage(c)}`);
}

/** `--delete PATH` pairs for the `delete` changes, PATH absolute in the image. */
export function deleteArgs(changes: FileChange[]): string[] {
  return deletePaths(changes).flatMap((p) => ["--delete", p]);
}

/**
 * One request for `/tug/supervisor agent /`: `SYNC <tarBytes> <nDeletes>\n`, the deleted paths
 * one a line, then the tar (buffered whole to know its length: dev batches are small).
 * Undefined when a deleted path holds a newline, which the line framing cannot carry (the
 * caller then uses `extractCommand`, which passes paths as arguments).
 */
export async function syncFrame(changes: FileChange[]): Promise<Buffer | undefined> {
  const deletes = deletePaths(changes);
  if (deletes.some((p) => p.includes("\n"))) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of syncTar(changes)) chunks.push(c as Buffer);
  const tar = Buffer.concat(chunks);
  const head = `SYNC ${tar.length} ${deletes.length}\n${deletes.map((p) => `${p}\n`).join("")}`;
  return Buffer.concat([Buffer.from(head), tar]);
}

/** The command the runtimes run inside the target to apply a batch: `/tug/supervisor extract / …`. */
export function extractCommand(supervisor: string, changes: FileChange[]): string[] {
  return [supervisor, "extract", "/", ...deleteArgs(changes)];
}
