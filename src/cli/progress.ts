import type { EngineEvent } from "../engine/timings.ts";
import { type CliStream, cli } from "./context.ts";
import { applyBuildEvent, type BuildViewState, buildViewState, summaryLine } from "./live-build.ts";
import { wantsColor } from "./live-style.ts";

/**
 * The live frame appears only once a build has run this long: a fast build never loads the
 * frame code, never flickers a frame, and prints just the summary line.
 */
const LIVE_DELAY_MS = 250;

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
  /** On a terminal: the steps so far (shared with the view once loaded) and the timer that loads it. */
  private live: { state: BuildViewState; timer: NodeJS.Timeout; done: boolean } | undefined;

  constructor(
    private readonly mode: ProgressMode,
    private readonly opts: { stepLines?: boolean } = {},
    private readonly out: CliStream = cli.stderr,
  ) {}

  static modeFor(opts: { quiet?: boolean; json?: boolean }, stream: CliStream = cli.stderr): ProgressMode {
    if (opts.quiet) return "quiet";
    // --json is for tools: they get the plain lines on stderr, never cursor movements.
    return stream.isTTY && !cli.env.CI && !opts.json ? "live" : "plain";
  }

  /**
   * The progress for `flags`, with the full live view on a terminal. The view's TTY edge loads
   * only then, and only once the build has run LIVE_DELAY_MS, so plain, quiet and --json runs
   * start no slower.
   */
  static async open(
    flags: { quiet?: boolean; json?: boolean },
    opts: { stepLines?: boolean } = {},
    out: CliStream = cli.stderr,
  ): Promise<Progress> {
    const progress = new Progress(Progress.modeFor(flags, out), opts, out);
    if (progress.mode === "live") {
      const live = {
        state: buildViewState(performance.now()),
        done: false,
        timer: setTimeout(() => {
          void import("./live-build-view.ts").then(({ LiveBuildView }) => {
            if (!live.done) progress.view = new LiveBuildView(out, live.state);
          });
        }, LIVE_DELAY_MS),
      };
      // A failed build never calls done(): the timer must not keep the process alive.
      live.timer.unref();
      progress.live = live;
    }
    return progress;
  }

  onEvent = (e: EngineEvent): void => {
    if (e.type === "warning") {
      // Shown in every mode, -q included: a warning is not progress.
      if (this.view) {
        this.view.line(`warning: ${e.message}`);
        return;
      }
      this.clear();
      this.out.write(`warning: ${e.message}\n`);
      this.redraw();
      return;
    }
    if (this.mode === "quiet") return;
    if (this.view) {
      this.view.onEvent(e);
      return;
    }
    if (this.live) {
      applyBuildEvent(this.live.state, e, performance.now());
      if (e.type === "log") this.out.write(`${e.target}  ${e.message}\n`);
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
    if (this.live) {
      // No frame on screen yet (or any more): a line is just a line.
      this.out.write(`${text}\n`);
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
    if (this.live && !this.live.done) {
      this.live.done = true;
      clearTimeout(this.live.timer);
      const { state } = this.live;
      if (state.finished > 0)
        this.out.write(`${summaryLine(state, performance.now(), wantsColor(this.out))}\n`);
      return;
    }
    this.clear();
  }
}

export function fmtMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
