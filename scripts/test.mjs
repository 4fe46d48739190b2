// Runs every *.test.ts under test/ with node's test runner (Node 20 has no --test glob).
// Arguments that name existing files or directories choose what runs; every other argument
// (`--test-name-pattern=x`, `--test-only`, …) is passed to node, and with no files named the
// discovered files still run.
//
// Timeouts: each test gets its own (TUG_TEST_TIMEOUT_MS, 300 s, through test-runner/register.mjs)
// whatever the Node version; --test-timeout stays only as a backstop for a file that hangs
// outside any test (Node 20 applies it per file, Node 24 per test). A test that fails, times out
// or is cancelled fails the run; node's own summary ("# pass N", "# fail N") is printed as is.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? find(join(dir, e.name)) : e.name.endsWith(".test.ts") ? [join(dir, e.name)] : [],
  );
}

function isPath(arg) {
  try {
    statSync(arg);
    return true;
  } catch {
    return false;
  }
}

const args = process.argv.slice(2);
const named = args.filter((a) => !a.startsWith("-") && isPath(a));
const flags = args.filter((a) => !named.includes(a));
const files = named
  .flatMap((a) => (statSync(a).isDirectory() ? find(a) : [a]))
  .concat(named.length ? [] : find("test"))
  .sort();

const FILE_BACKSTOP_MS = 30 * 60_000;
// A timed-out test's timers and sockets would keep its file's process alive until the backstop:
// --test-force-exit (Node ≥ 20.14) ends each file when its tests have. Read from --help, as
// NODE_OPTIONS does not allow it and allowedNodeEnvironmentFlags would say no.
const forceExit = spawnSync(process.execPath, ["--help"], { encoding: "utf8" }).stdout.includes(
  "--test-force-exit",
);
const verdictDir = mkdtempSync(join(tmpdir(), "tug-test-verdict-"));
const verdictFile = join(verdictDir, "failures.jsonl");
const ownReporter = flags.some((f) => f.startsWith("--test-reporter"));
// Node's default reporter (spec on a terminal, tap otherwise) must be named once another is added.
const reporters = [
  ...(ownReporter
    ? []
    : [`--test-reporter=${process.stdout.isTTY ? "spec" : "tap"}`, "--test-reporter-destination=stdout"]),
  `--test-reporter=${new URL("./test-runner/verdict-reporter.mjs", import.meta.url).href}`,
  `--test-reporter-destination=${verdictFile}`,
];
const r = spawnSync(
  process.execPath,
  [
    "--import",
    "tsx",
    "--import",
    new URL("./test-runner/register.mjs", import.meta.url).href,
    "--test",
    "--test-concurrency=2",
    `--test-timeout=${FILE_BACKSTOP_MS}`,
    ...(forceExit ? ["--test-force-exit"] : []),
    ...reporters,
    ...flags,
    ...files,
  ],
  { stdio: "inherit" },
);

let failures = [];
try {
  failures = readFileSync(verdictFile, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
} catch {
  // No file: the reporter never ran (node failed to start); the exit status below says so.
}
rmSync(verdictDir, { recursive: true, force: true });
const notFailed = failures.filter((f) => f.failureType !== "testCodeFailure");
if (notFailed.length > 0) {
  console.log(`# timed out or cancelled ${notFailed.length} (counted as failures):`);
  for (const f of notFailed) console.log(`#   ${f.failureType}: ${f.name}${f.file ? ` (${f.file})` : ""}`);
}
process.exit(r.status !== 0 || failures.length > 0 ? 1 : (r.status ?? 1));
