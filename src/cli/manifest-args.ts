import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { TugError } from "../errors.ts";
import { readBoundedFile } from "../util/bounded-file.ts";

// Kubernetes manifests run to a few MiB even for big Helm charts; 64 MiB is not one.
const MAX_MANIFEST_BYTES = 64 << 20;

/**
 * The manifests `-f` names, in order: `-` is stdin (`helm template … | tug resolve -f -`), a
 * directory is each of its *.yaml and *.yml files sorted by name (not recursive, as kubectl
 * without -R), anything else a file. `file` is the name errors show.
 */
export async function readManifests(
  values: string[],
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<Array<{ file: string; text: string }>> {
  if (values.length === 0)
    throw new TugError({
      what: "no manifests given",
      where: "-f",
      hint: "pass -f FILE, -f DIR or -f - (stdin)",
    });
  if (values.filter((v) => v === "-").length > 1)
    throw new TugError({ what: "-f - (stdin) is given twice", where: "-f", hint: "stdin can be read once" });
  const out: Array<{ file: string; text: string }> = [];
  for (const v of values) {
    if (v === "-") {
      out.push({ file: "<stdin>", text: await readStdin(stdin) });
      continue;
    }
    const path = resolve(v);
    const s = await stat(path).catch((cause: unknown) => {
      throw new TugError({
        what: `cannot read ${v}`,
        where: "-f",
        hint: "name a YAML file, a directory of them or - (stdin)",
        cause,
      });
    });
    if (s.isDirectory()) {
      const names = (await readdir(path)).filter((n) => /\.ya?ml$/.test(n)).sort();
      if (names.length === 0)
        throw new TugError({
          what: `${v} has no *.yaml or *.yml files`,
          where: "-f",
          hint: "render the manifests into it first",
        });
      for (const n of names) out.push(await readManifestFile(join(path, n), join(v, n)));
    } else out.push(await readManifestFile(path, v));
  }
  return out;
}

async function readManifestFile(path: string, shown: string): Promise<{ file: string; text: string }> {
  try {
    return {
      file: shown,
      text: (await readBoundedFile(path, MAX_MANIFEST_BYTES, "manifest file", { shownPath: shown })).toString(
        "utf8",
      ),
    };
  } catch (cause) {
    if (cause instanceof TugError) throw cause;
    throw new TugError({ what: `cannot read ${shown}`, where: shown, cause });
  }
}

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stdin) {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    bytes += b.length;
    if (bytes > MAX_MANIFEST_BYTES)
      throw new TugError({
        what: "the manifests on stdin are too big (more than 64 MiB)",
        where: "<stdin>",
        hint: "check what is piped into tug resolve -f -",
      });
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString("utf8");
}
