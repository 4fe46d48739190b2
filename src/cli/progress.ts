import type { EngineEvent } from "../engine/timings.ts";

export type ProgressMode = "quiet" | "plain" | "live";

/** What the live view does (src/cli/live-build-view.ts, loaded only on a terminal). */
interface LiveView {
  onEvent(e: EngineEvent): void;
  line(text: string): void;
  done(): void;
}

/**
 * Progress on stderr: on a TTY a live view (one line per running step with its time and
 * transfer figures, finished steps summed up in one line); otherwise plain lines as steps
 * finish. Nothing in quiet mode. stdout stays for --json.
 */
export class Progress {
  private readonly running = new Map<string, string>();
  private lineShown = false;
  private view: LiveView | undefined;

  constructor(
    private readonly mode: ProgressMode,
    private readonly opts: { stepLines?: boolean } = {},
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  static modeFor(
    opts: { quiet?: boolean; json?: boolean },
    stream: NodeJS.WriteStream = process.stderr,
  ): ProgressMode {
    if (opts.quiet) return "quiet";
    // --json is for tools: they get the plain lines on stderr, never cursor movements.
    return stream.isTTY && !process.env.CI && !opts.json ? "live" : "plain";
  }

  /**
   * The progress for `flags`, with the full live view on a terminal. Its renderer (and
   * log-update) load only then, so plain, quiet and --json runs start no slower.
   */
  static async open(
    flags: { quiet?: boolean; json?: boolean },
    opts: { stepLines?: boolean } = {},
    out: NodeJS.WriteStream = process.stderr,
  ): Promise<Progress> {
    const progress = new Progress(Progress.modeFor(flags, out), opts, out);
    if (progress.mode === "live") {
      const { LiveBuildView } = await import("./live-build-view.ts");
      progress.view = new LiveBuildView(out);
    }
    return progress;
  }

  onEvent = (e: EngineEvent): void => {
    if (this.mode === "quiet") return;
    if (this.view) {
      this.view.onEvent(e);
      return;
    }
    if (e.type === "bytes") return;
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
    if (this.view) {
      this.view.line(text);
      return;
    }
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
    if (this.view) {
      this.view.done();
      return;
    }
    this.clear();
  }
}

export function fmtMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
