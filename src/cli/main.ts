import { Command, Option } from "commander";
import { isTugError } from "../errors.ts";
import { formatHttpLog, setHttpLog } from "../util/http-log.ts";
import { parseHttpTimeoutSeconds, setHttpTimeoutSeconds } from "../util/http-timeout.ts";
import { redactText } from "../util/redact.ts";
import { TUG_VERSION } from "../version.ts";
import { applyCommand } from "./apply-command.ts";
import { buildCommand } from "./build-command.ts";
import { cacheCommand } from "./cache-command.ts";
import { red } from "./color.ts";
import { completionCommand } from "./completion-command.ts";
import { devCommand } from "./dev-command.ts";
import { explainCommand } from "./explain-command.ts";
import { initCommand } from "./init-command.ts";
import { invokeCommand } from "./invoke-command.ts";
import { keygenCommand } from "./keygen-command.ts";
import { publishCommand } from "./publish-command.ts";
import { resolveCommand } from "./resolve-command.ts";
import { verifyCommand } from "./verify-command.ts";

const program = new Command("tug")
  .description("From a changed line of code to running code: daemonless OCI images.")
  .version(TUG_VERSION)
  .addOption(new Option("--debug", "print stack traces of errors"))
  .addOption(
    new Option(
      "--http-timeout <seconds>",
      "give up on a silent index, registry or cache after this long (default 60)",
    )
      .env("TUG_HTTP_TIMEOUT")
      .argParser((v) => parseHttpTimeoutSeconds(v, "--http-timeout")),
  )
  .addOption(new Option("-v, --verbose", "log each registry, index and cache request (passwords redacted)"))
  .hook("preAction", (cmd) => setHttpTimeoutSeconds(cmd.opts<{ httpTimeout?: number }>().httpTimeout))
  .hook("preAction", (cmd) => {
    if (cmd.opts<{ verbose?: boolean }>().verbose)
      setHttpLog((e) => process.stderr.write(`http: ${formatHttpLog(e)}\n`));
  })
  .showHelpAfterError();

buildCommand(program);
publishCommand(program);
devCommand(program);
cacheCommand(program);
explainCommand(program);
resolveCommand(program);
applyCommand(program);
completionCommand(program);
initCommand(program);
invokeCommand(program);
keygenCommand(program);
verifyCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (isTugError(e)) {
    process.stderr.write(`${redactText(e.format()).replace(/^error:/, red("error:", process.stderr))}\n`);
    if (program.opts().debug && e.stack) process.stderr.write(`${e.stack}\n`);
  } else {
    process.stderr.write(
      `internal error: ${redactText(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`,
    );
  }
  process.exitCode = 1;
}
