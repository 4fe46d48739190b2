import type { NodeLambdaTarget, Project } from "../../config/types.ts";
import { TugError } from "../../errors.ts";
import type { LambdaReport } from "../build-python.ts";

/** Node.js lambdas: not built yet; the target is parsed so that the message can name it. */
export async function buildNodeLambdas(
  _project: Project,
  lambdas: NodeLambdaTarget[],
  _opts: { out?: string | undefined; cacheDir?: string | undefined },
): Promise<LambdaReport[]> {
  const first = lambdas[0];
  throw new TugError({
    what: `Node.js lambdas (${first?.runtime.runtime}) are not supported yet`,
    where: first?.where,
    hint: "use a python3.9 … python3.14 runtime, or build the function as an image",
  });
}
