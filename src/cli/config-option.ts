import { type Command, Option } from "commander";
import { cli } from "./context.ts";

/** The flags that name the project file. */
export interface ConfigFlags {
  config?: string;
  /** Deprecated spelling of --config, kept hidden for one release so scripts keep working. */
  file?: string;
}

/**
 * `-c, --config FILE` (default: tug.yaml here or in the nearest parent), plus the hidden
 * `--file` of earlier releases. `-f` is not the config: on resolve/apply it names manifests,
 * as kubectl and ko use it.
 */
export function addConfigOption(cmd: Command, opts: { legacyFile?: boolean } = {}): Command {
  cmd.option("-c, --config <tug.yaml>", "project file (default: tug.yaml here or in a parent directory)");
  // Not on resolve/apply, where --filename (-f) names manifests: --file there would read as one.
  if (opts.legacyFile !== false)
    cmd.addOption(new Option("--file <tug.yaml>", "deprecated: use -c/--config").hideHelp());
  return cmd;
}

/** The project file the flags name, if any; the old `--file` works with a note on stderr. */
export function configFileOf(flags: ConfigFlags): string | undefined {
  if (flags.file !== undefined) {
    cli.stderr.write("note: --file is deprecated and will be removed; use -c/--config\n");
    return flags.config ?? flags.file;
  }
  return flags.config;
}
