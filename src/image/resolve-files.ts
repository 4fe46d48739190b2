import type { Project } from "../config/types.ts";
import { referencedTargets, resolveYamlText } from "../deploy/resolve.ts";
import { TugError } from "../errors.ts";
import { readBoundedFile } from "../util/bounded-file.ts";
import { type BuildOptions, build } from "./build.ts";

/**
 * ko resolve: builds and pushes the targets that the files reference as `tug://NAME`, then
 * returns each file's text with those references replaced by `repo/NAME@sha256:…`.
 */
export async function resolveFiles(
  project: Project,
  files: string[],
  opts: BuildOptions,
): Promise<Array<{ file: string; text: string }>> {
  const texts = await Promise.all(
    files.map(async (file) => {
      try {
        // Kubernetes manifests run to a few MiB even for big Helm charts; 64 MiB is not one.
        return { file, text: (await readBoundedFile(file, 64 << 20, "manifest file")).toString("utf8") };
      } catch (cause) {
        if (cause instanceof TugError) throw cause;
        throw new TugError({ what: `cannot read ${file}`, where: file, cause });
      }
    }),
  );
  return resolveTexts(project, texts, opts);
}

/** resolveFiles for texts already read (stdin, a directory's files); `file` names each in errors. */
export async function resolveTexts(
  project: Project,
  texts: Array<{ file: string; text: string }>,
  opts: BuildOptions,
): Promise<Array<{ file: string; text: string }>> {
  if (!opts.repo) {
    throw new TugError({
      what: "tug resolve needs a repository to push to",
      hint: "set repo: in tug.yaml, TUG_REPO, or --repo; Kubernetes must pull the images from somewhere",
    });
  }
  const wanted = new Set<string>();
  for (const { file, text } of texts) for (const n of referencedTargets(text, file)) wanted.add(n);
  const known = new Set(project.targets.map((t) => t.name));
  const buildable = [...wanted].filter((n) => known.has(n));
  const result =
    buildable.length > 0 ? await build(project, { ...opts, targets: buildable }) : { artifacts: [] };
  const refs = new Map(result.artifacts.map((a) => [a.target, a.ref]));
  return Promise.all(
    texts.map(async ({ file, text }) => ({
      file,
      text: await resolveYamlText(text, file, async (name) => {
        const ref = refs.get(name);
        if (!ref)
          throw new TugError({
            what: `tug://${name} names no target`,
            hint: `targets are: ${[...known].join(", ") || "(none)"}`,
          });
        return ref;
      }),
    })),
  );
}
