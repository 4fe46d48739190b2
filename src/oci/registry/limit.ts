export { limiter } from "../../util/limiter.ts";
export { allSettledOrThrow } from "../../util/settle.ts";
