import { cli } from "./context.ts";

/**
 * Whether tug colours what it writes to `stream`: the one place that decides. FORCE_COLOR (any
 * value but 0/false) turns colour on even into a pipe, as Node and most tools read it; NO_COLOR
 * (no-color.org) turns it off; otherwise only a terminal that is not TERM=dumb gets colour.
 */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = cli.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== "") return force !== "0" && force !== "false";
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return stream.isTTY === true && env.TERM !== "dumb";
}

/** `text` in red when colour is on for `stream`. */
export function red(text: string, stream: { isTTY?: boolean }): string {
  return useColor(stream) ? `\x1b[31m${text}\x1b[0m` : text;
}
