import type { Project } from "../config/types.ts";
import type { DevPhase, UpdateReport } from "../dev/report.ts";
import { cli } from "./context.ts";

/** Where `tug dev` tells what happens: JSON lines, plain lines, or the live status table. */
export interface DevOutput {
  onReport(r: UpdateReport): void;
  onLog(target: string, line: string): void;
  onPhase(target: string, phase: DevPhase): void;
  /** Leaves the last table on screen and restores the cursor. */
  done(): void;
}

/**
 * `--json`: one object per update on stdout (and logs on stderr); a terminal: the status table
 * redrawn in place with the logs below it (its renderer loads only then); otherwise one line
 * per update and per log line, as before.
 */
export async function devOutput(
  project: Project,
  flags: { json?: boolean },
  // tug dev runs in its own process (never through `tug server`): the process's own terminal.
  out: NodeJS.WriteStream = process.stderr,
): Promise<DevOutput> {
  if (!flags.json && out.isTTY && !cli.env.CI) {
    const { LiveDevView } = await import("./live-dev-view.ts");
    return new LiveDevView(out, (name) => describe(project, name));
  }
  const { formatReport } = await import("../dev/report.ts");
  return {
    onReport: (r) => {
      if (flags.json) cli.stdout.write(`${JSON.stringify(r)}\n`);
      else out.write(`${formatReport(r)}\n`);
    },
    onLog: (target, line) => out.write(`${target} | ${line}\n`),
    onPhase: () => {},
    done: () => {},
  };
}

/** The runtime and URLs of a target, for the status table. */
function describe(project: Project, name: string): { name: string; runtime: string; urls: string[] } {
  const image = project.targets.find((t) => t.name === name);
  if (image) {
    const port = image.dev?.port;
    return { name, runtime: image.dev?.runtime ?? "local", urls: port ? [`http://localhost:${port}`] : [] };
  }
  return { name, runtime: "lambda zip", urls: [] };
}
