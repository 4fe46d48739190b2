import { Command, CommanderError, Option } from "commander";
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
import { type CliContext, processContext, withCliContext } from "./context.ts";
import { devCommand } from "./dev-command.ts";
import { explainCommand } from "./explain-command.ts";
import { initCommand } from "./init-command.ts";
import { invokeCommand } from "./invoke-command.ts";
import { keygenCommand } from "./keygen-command.ts";
import { publishCommand } from "./publish-command.ts";
import { resolveCommand } from "./resolve-command.ts";
import { serverCommand } from "./server-command.ts";
import { verifyCommand } from "./verify-command.ts";

/** A fresh program per run: commander keeps parsed options on its commands. */
function createProgram(ctx: CliContext): Command {
  const program = new Command("tug")
    .description("From a changed line of code to running code: daemonless OCI images.")
    .version(TUG_VERSION)
    .addOption(new Option("--debug", "print stack traces of errors"))
    .addOption(new Option("--no-server", "run here even when `tug server` runs for the project"))
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
      // Per run: a server's earlier verbose request must not log this one's.
      setHttpLog(
        cmd.opts<{ verbose?: boolean }>().verbose
          ? (e) => void ctx.stderr.write(`http: ${formatHttpLog(e)}\n`)
          : undefined,
      );
    })
    .showHelpAfterError()
    // Before the commands are added, which inherit both: a run returns its exit code (a server
    // must outlive a usage error) and help goes to this run's streams.
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void ctx.stdout.write(s),
      writeErr: (s) => void ctx.stderr.write(s),
    });

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
  serverCommand(program, runCli);
  return program;
}

/** Runs one tug command line in `ctx`; resolves to its exit code (never throws). */
export function runCli(ctx: CliContext): Promise<number> {
  return withCliContext(ctx, async () => {
    const program = createProgram(ctx);
    try {
      await program.parseAsync(ctx.argv, { from: "user" });
      return 0;
    } catch (e) {
      if (e instanceof CommanderError) return e.exitCode;
      if (isTugError(e)) {
        ctx.stderr.write(`${redactText(e.format()).replace(/^error:/, red("error:", ctx.stderr))}\n`);
        if (program.opts().debug && e.stack) ctx.stderr.write(`${e.stack}\n`);
      } else {
        ctx.stderr.write(
          `internal error: ${redactText(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`,
        );
      }
      return 1;
    }
  });
}

void runCli(processContext()).then((code) => {
  process.exitCode = code;
});
