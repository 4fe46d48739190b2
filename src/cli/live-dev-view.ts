// The TTY edge of the dev view: log-update redraws the frame renderDevView computes.
// Loaded only when stderr is a terminal (a dynamic import in dev-output.ts).
import { createLogUpdate } from "log-update";
import type { DevPhase, UpdateReport } from "../dev/report.ts";
import type { DevOutput } from "./dev-output.ts";
import {
  addLog,
  applyPhase,
  applyReport,
  type DevViewState,
  devViewState,
  ensureResource,
  type Resource,
  renderDevView,
} from "./live-dev.ts";
import { wantsColor } from "./live-style.ts";

const FRAME_MS = 250;

export class LiveDevView implements DevOutput {
  private readonly state: DevViewState = devViewState([], performance.now());
  private readonly log: ReturnType<typeof createLogUpdate>;
  private readonly color: boolean;
  private readonly timer: NodeJS.Timeout;
  private finished = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly describe: (name: string) => Pick<Resource, "name" | "runtime" | "urls">,
  ) {
    this.log = createLogUpdate(out);
    this.color = wantsColor(out);
    // The clock also ages the "(3s ago)" figures; output bursts are drawn once per frame.
    this.timer = setInterval(() => this.render(), FRAME_MS);
    this.timer.unref();
    out.on("resize", this.onResize);
  }

  onReport(r: UpdateReport): void {
    this.ensure(r.target);
    applyReport(this.state, r, performance.now());
    this.render();
  }

  onLog(target: string, line: string): void {
    this.ensure(target);
    addLog(this.state, target, line);
  }

  onPhase(target: string, phase: DevPhase): void {
    this.ensure(target);
    applyPhase(this.state, target, phase, performance.now());
    this.render();
  }

  done(): void {
    if (this.finished) return;
    this.render();
    this.finished = true;
    clearInterval(this.timer);
    this.out.off("resize", this.onResize);
    this.log.done();
  }

  private readonly onResize = () => {
    this.log.clear();
    this.render();
  };

  private ensure(name: string): void {
    ensureResource(this.state, this.describe(name), performance.now());
  }

  private render(): void {
    if (this.finished) return;
    this.log(
      renderDevView(this.state, {
        now: performance.now(),
        columns: this.out.columns ?? 80,
        // One row spare: a frame as tall as the screen would scroll and leave a copy behind.
        rows: Math.max(4, (this.out.rows ?? 24) - 1),
        color: this.color,
      }).join("\n"),
    );
  }
}
