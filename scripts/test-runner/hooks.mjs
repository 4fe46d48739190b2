// Module resolution hook: `node:test` imported from anywhere but the wrapper itself resolves to
// the wrapper, so `import test from "node:test"` and `import { test } from "node:test"` both get
// tests with a default timeout.
const WRAPPER = new URL("./node-test.mjs", import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier === "node:test" && context.parentURL !== WRAPPER) return { url: WRAPPER, shortCircuit: true };
  return next(specifier, context);
}
