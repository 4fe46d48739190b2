import { TugError } from "../errors.ts";
import { repositoryProblem } from "./reference.ts";
import type { Project } from "./types.ts";

/**
 * The repository to push to: `--repo` beats `TUG_REPO`, which beats tug.yaml's `repo:`.
 * Undefined means local outputs only. Empty strings count as unset.
 */
export function effectiveRepo(
  project: Pick<Project, "repo">,
  cliRepo: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const candidates: Array<[string | undefined, string]> = [
    [cliRepo, "--repo"],
    [env.TUG_REPO, "TUG_REPO"],
  ];
  for (const [value, source] of candidates) {
    if (!value) continue;
    const repo = value.replace(/\/+$/, "");
    const problem = repositoryProblem(repo);
    if (problem)
      throw new TugError({ what: `"${value}" is not a repository name`, where: source, hint: problem });
    return repo;
  }
  return project.repo;
}
