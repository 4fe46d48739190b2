import { writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * tug.yaml with one `builder: python` image `svc` on `base` (a makePythonBase result), resolving
 * from `index`; `versions` replaces the python_version/glibc lines (pass "" to read them from the base).
 */
export async function writePythonImageYaml(
  dir: string,
  base: { layout: string; tag: string; version: string; glibc: string },
  o: { index: string; module: string; baseRef?: string; versions?: string; extra?: string },
): Promise<string> {
  const [major, minor] = base.version.split(".");
  const file = join(dir, "tug.yaml");
  await writeFile(
    file,
    `images:
  svc:
    builder: python
    base: ${o.baseRef ?? `oci-layout:${base.layout}:${base.tag}`}
    module: ${o.module}
${o.versions ?? `    python_version: "${major}.${minor}"\n    glibc: "${base.glibc}"\n`}    index_url: ${o.index}
${o.extra ?? ""}`,
  );
  return file;
}
