import { createRequire } from "node:module";

/**
 * esbuild's JS API, loaded on first use. Through require, not import(): esbuild is CommonJS, and
 * the CLI bundle (CommonJS, compiled with V8's code cache) must hold no import() of its own.
 */
export function esbuildApi(): typeof import("esbuild") {
  return createRequire(import.meta.url)("esbuild") as typeof import("esbuild");
}
