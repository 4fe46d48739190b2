// node:test, with a default per-test timeout (TUG_TEST_TIMEOUT_MS, 300 s): a test that passes
// its own `timeout` keeps it; subtests (t.test) inherit their parent's, as node documents.
// A hanging test then fails alone, named, and the rest of its file still runs.
import real from "node:test";

export * from "node:test";

const DEFAULT_TIMEOUT_MS = Number(process.env.TUG_TEST_TIMEOUT_MS) || 300_000;

/** test([name][, options][, fn]) with `timeout` filled in when the caller gave none. */
function withTimeout(args) {
  const at = args.findIndex((a) => typeof a === "object" && a !== null);
  if (at >= 0) {
    if (args[at].timeout !== undefined) return args;
    return args.map((a, i) => (i === at ? { ...a, timeout: DEFAULT_TIMEOUT_MS } : a));
  }
  const nameEnd = typeof args[0] === "string" ? 1 : 0;
  return [...args.slice(0, nameEnd), { timeout: DEFAULT_TIMEOUT_MS }, ...args.slice(nameEnd)];
}

function timed(fn) {
  const wrapped = (...args) => fn(...withTimeout(args));
  // test.only / it.only run too; skip and todo never do, so they need no timeout.
  return Object.assign(wrapped, fn, { only: (...args) => fn.only(...withTimeout(args)) });
}

export const test = timed(real.test);
export const it = timed(real.it);
// `test` already carries node's describe, suite, before, after, mock, skip, todo, … as properties.
export default Object.assign(test, { test, it });
