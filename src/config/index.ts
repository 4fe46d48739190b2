export { type BaseRef, baseProblem, parseBase } from "./base.ts";
export { detectProject, imageNameFor, ZERO_CONFIG_FILES_DEST } from "./detect.ts";
export { displayPath, findProject, loadProject, PROJECT_FILES } from "./load.ts";
export { hostPlatform, platformProblem } from "./platform.ts";
export { effectiveRepo } from "./repo.ts";
export { TugFileSchema } from "./schema.ts";
export type * from "./types.ts";
