import ansiEscapes from "ansi-escapes";
import type { CliStream } from "./context.ts";

/**
 * A frame of lines redrawn in place at the bottom of the terminal, with lines printed above it.
 * The build view uses this rather than log-update: log-update's width helpers create an
 * Intl.Segmenter when loaded, about 70 ms of CPU measured here, which a no-op build on a
 * terminal would pay. Lines must already fit the width (the renderers cut them), so no
 * wrapping is needed, and erasing N lines erases exactly the frame.
 */
export class LiveFrame {
  private shown = 0;
  private cursorHidden = false;
  private readonly showCursor = () => this.out.write(ansiEscapes.cursorShow);

  constructor(private readonly out: CliStream) {}

  draw(lines: string[]): void {
    if (!this.cursorHidden) {
      this.cursorHidden = true;
      this.out.write(ansiEscapes.cursorHide);
      process.once("exit", this.showCursor);
    }
    this.out.write(`${this.erase()}${lines.join("\n")}\n`);
    this.shown = lines.length;
  }

  /** Prints `text` above the frame (it stays in the scrollback); the caller redraws the frame. */
  persist(text: string): void {
    this.out.write(`${this.erase()}${text}\n`);
    this.shown = 0;
  }

  /** Removes the frame and gives the cursor back. */
  clear(): void {
    this.out.write(this.erase());
    this.shown = 0;
    if (this.cursorHidden) {
      this.cursorHidden = false;
      process.off("exit", this.showCursor);
      this.showCursor();
    }
  }

  private erase(): string {
    // The cursor sits on the empty line under the frame: that line and the frame's lines.
    return this.shown === 0 ? "" : ansiEscapes.eraseLines(this.shown + 1);
  }
}
