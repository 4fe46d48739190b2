import type { EngineEvent } from "../engine/timings.ts";
import { type CliStream, cli } from "./context.ts";

export type ProgressMode = "quiet" | "plain" | "live";

/**
 * Progress on stderr: on a TTY one status line rewritten in place (the steps running now);
 * otherwise plain lines as steps finish. Nothing in quiet mode. stdout stays for --json.
 */
export class Progress {
  private readonly running = new Map<string, string>();
  private lineShown = false;

  constructor(
    private readonly mode: ProgressMode,
    private readonly opts: { stepLines?: boolean } = {},
    private readonly out: CliStream = cli.stderr,
  ) {}

  static modeFor(opts: { quiet?: boolean }, stream: CliStream = cli.stderr): ProgressMode {
    if (opts.quiet) return "quiet";
    return stream.isTTY && !cli.env.CI ? "live" : "plain";
  }

  onEvent = (e: EngineEvent): void => {
    if (this.mode === "quiet") return;
    const id = e.type === "log" ? "" : `${e.target}\0${e.step}`;
    if (e.type === "step-start") this.running.set(id, `${e.target} ${e.step}`);
    else if (e.type === "step-end") {
      this.running.delete(id);
      if (!e.cached && this.mode === "plain" && this.opts.stepLines !== false)
        this.line(`${e.target}  ${e.step}  built in ${fmtMs(e.ms)}`);
    } else this.line(`${e.target}  ${e.message}`);
    this.redraw();
  };

  line(text: string): void {
    if (this.mode === "quiet") return;
    this.clear();
    this.out.write(`${text}\n`);
    this.redraw();
  }

  private clear(): void {
    if (this.lineShown) this.out.write("\r\x1b[K");
    this.lineShown = false;
  }

  private redraw(): void {
    if (this.mode !== "live") return;
    this.clear();
    if (this.running.size === 0) return;
    const text = `… ${[...this.running.values()].join(", ")}`;
    const width = this.out.columns ?? 100;
    this.out.write(text.length > width - 1 ? `${text.slice(0, width - 2)}…` : text);
    this.lineShown = true;
  }

  done(): void {
    this.clear();
  }
}

export function fmtMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
