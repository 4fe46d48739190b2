// The library API; the CLI in src/cli is a thin shell over these.

export { detectProject, effectiveRepo, findProject, loadProject } from "./config/index.ts";
export type { ImageTarget, Project } from "./config/types.ts";
export { Engine } from "./engine/engine.ts";
export { TugError } from "./errors.ts";
export {
  type ArtifactReport,
  type BuildOptions,
  type BuildResult,
  build,
  selectTargets,
} from "./image/build.ts";
export { explainTarget, type StepExplanation } from "./image/explain-target.ts";
export { type ImageOutputs, imageOutputs, type OutputOptions } from "./image/output-policy.ts";
export { type PublishOptions, publishFromLayout } from "./image/publish.ts";
export { resolveFiles } from "./image/resolve-files.ts";
export type { Artifact, Image, ImageIndex, Layer } from "./oci/types.ts";
