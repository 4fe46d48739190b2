// The library API; the CLI in src/cli is a thin shell over these.
export {
  type ArtifactReport,
  type BuildOptions,
  type BuildResult,
  build,
  selectTargets,
} from "./build/build.ts";
export { explainTarget, type StepExplanation } from "./build/explain-target.ts";
export { type PublishOptions, publishFromLayout } from "./build/publish.ts";
export { resolveFiles } from "./build/resolve-files.ts";
export { detectProject, effectiveRepo, findProject, loadProject } from "./config/index.ts";
export type { ImageTarget, Project } from "./config/types.ts";
export { Engine } from "./engine/engine.ts";
export { TugError } from "./errors.ts";
export type { Artifact, Image, ImageIndex, Layer } from "./oci/types.ts";
