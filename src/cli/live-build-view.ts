// The TTY edge of the build view: LiveFrame redraws the frame renderBuildView computes.
// Loaded only when stderr is a terminal (a dynamic import in progress.ts).
import type { EngineEvent } from "../engine/timings.ts";
import type { CliStream } from "./context.ts";
import { applyBuildEvent, type BuildViewState, renderBuildView, summaryLine } from "./live-build.ts";
import { LiveFrame } from "./live-frame.ts";
import { wantsColor } from "./live-style.ts";

const FRAME_MS = 100;

export class LiveBuildView {
  private readonly frame: LiveFrame;
  private readonly color: boolean;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;

  /** `state` may already hold the steps seen before this view was loaded. */
  constructor(
    private readonly out: CliStream,
    private readonly state: BuildViewState,
  ) {
    this.frame = new LiveFrame(out);
    this.color = wantsColor(out);
    this.start();
  }

  onEvent(e: EngineEvent): void {
    if (this.finished) return;
    applyBuildEvent(this.state, e, performance.now());
    if (e.type === "log") this.line(`${e.target}  ${e.message}`);
  }

  // Redrawn on a clock, not per event: a transfer reports every chunk.
  private start(): void {
    this.render();
    this.timer = setInterval(() => this.render(), FRAME_MS);
    this.timer.unref();
  }

  /** A line kept above the live frame (or after it, once the build is done). */
  line(text: string): void {
    if (this.finished) this.out.write(`${text}\n`);
    else {
      this.frame.persist(text);
      this.render();
    }
  }

  /** Stops the clock and leaves the summary line in place of the frame. */
  done(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearInterval(this.timer);
    this.frame.clear();
    if (this.state.finished > 0)
      this.out.write(`${summaryLine(this.state, performance.now(), this.color)}\n`);
  }

  private render(): void {
    this.frame.draw(
      renderBuildView(this.state, {
        now: performance.now(),
        columns: this.out.columns ?? 80,
        rows: Math.max(3, (this.out.rows ?? 24) - 2),
        color: this.color,
      }),
    );
  }
}
