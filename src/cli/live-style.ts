import { useColor } from "./color.ts";

const CODES = {
  green: [32, 39],
  red: [31, 39],
  yellow: [33, 39],
  cyan: [36, 39],
  dim: [2, 22],
  bold: [1, 22],
};

export type Style = keyof typeof CODES;

/** `text` in one SGR style when `color` is on (the caller asks the stream: NO_COLOR, FORCE_COLOR). */
export function paint(color: boolean, style: Style, text: string): string {
  if (!color || text === "") return text;
  const [on, off] = CODES[style];
  return `\x1b[${on}m${text}\x1b[${off}m`;
}

/** Whether to colour `stream`: the one rule in color.ts (NO_COLOR, FORCE_COLOR, a terminal, TERM). */
export function wantsColor(stream: { isTTY?: boolean }): boolean {
  return useColor(stream);
}
