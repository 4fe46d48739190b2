import { realpath } from "node:fs/promises";
import { relative, sep } from "node:path";
import { TugError } from "../errors.ts";
import { gitRootOf } from "../go/inputs.ts";
import { isInside } from "../lambda/source-links.ts";

/**
 * Every file esbuild bundled must be the project's own (inside the tug.yaml directory or, for a
 * monorepo, its git work tree) or an installed package (under a node_modules directory). A
 * first-party file reached through a symlink that leads elsewhere — `src/config.ts ->
 * ~/.aws/credentials` — is how a checkout smuggles a secret into a zip that gets uploaded;
 * esbuild follows links, so the bundle's inputs are checked by their real paths.
 */
export async function checkBundleInputs(o: {
  inputs: readonly string[];
  projectDir: string;
  where: string;
}): Promise<void> {
  const project = await realpath(o.projectDir).catch(() => o.projectDir);
  const git = await gitRootOf(project);
  const allowed = [project, ...(git ? [await realpath(git).catch(() => git)] : [])];
  for (const input of o.inputs) {
    // Inputs in esbuild's own namespaces (`<stdin>`, `(disabled):…`) are no files.
    const real = await realpath(input).catch(() => undefined);
    if (real === undefined) continue;
    if (real.includes(`${sep}node_modules${sep}`)) continue;
    if (allowed.some((dir) => isInside(real, dir))) continue;
    throw new TugError({
      what: `the bundle would include ${relative(o.projectDir, input) || input}, outside the project (${real}): a symlink in the sources leads there`,
      where: o.where,
      hint: "a symlink to a file outside the project (and its git repository) is refused: copy the file in, or publish it as a package",
    });
  }
}
