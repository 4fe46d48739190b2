/** One line of feedback per update, also streamed as JSON with `--json`. */
export interface UpdateReport {
  target: string;
  /** `exited`: the process stopped by itself after it was ready (`error` says how, `logs` why). */
  action: "start" | "live-update" | "rebuild" | "exited";
  /** Changed paths relative to the context (empty for the first start). */
  files: string[];
  ok: boolean;
  /** Change seen → running again (ready), in ms. */
  ms: number;
  build: number;
  sync: number;
  restart: number;
  /** What failed; the previous version keeps running. */
  error?: string;
  /** Last log lines of a process that crashed on start. */
  logs?: string[];
  /** Process or container id now running. */
  id?: string;
}

export function formatReport(r: UpdateReport): string {
  const files =
    r.files.length === 0
      ? ""
      : r.files.length <= 3
        ? r.files.join(", ")
        : `${r.files.slice(0, 3).join(", ")} +${r.files.length - 3}`;
  const head = `${r.target}  ${r.action}${files ? `  ${files}` : ""}`;
  if (!r.ok) {
    const tail = r.logs?.length ? `\n${r.logs.map((l) => `    | ${l}`).join("\n")}` : "";
    return `${head}  →  failed: ${r.error ?? "unknown error"}${tail}`;
  }
  return `${head}  →  ready in ${Math.round(r.ms)} ms (build ${Math.round(r.build)}, sync ${Math.round(r.sync)}, restart ${Math.round(r.restart)})`;
}

/** What a target is doing between reports (for a status view; never part of --json). */
export type DevPhase = "building" | "live-updating";
