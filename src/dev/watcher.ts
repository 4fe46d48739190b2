import { promises as fs } from "node:fs";
import { join, relative, sep } from "node:path";

export interface WatchEvent {
  /** Absolute path. */
  path: string;
  deleted: boolean;
}

export interface Watcher {
  close(): Promise<void>;
}

export interface WatchOptions {
  /** Quiet time after the last event before a batch is delivered (editor save storms). */
  debounceMs?: number;
  /** Called on the first event of a batch: latency is measured from here, not from its delivery. */
  onFirstEvent?(): void;
  onBatch(events: WatchEvent[]): void | Promise<void>;
  onError?(e: Error): void;
}

const ALWAYS_IGNORED = ["**/.git", "**/node_modules", "**/.tug"];

/**
 * Recursive native watching (inotify through @parcel/watcher: no polling, no per-file watch
 * setup, so start-up stays well under a second on big trees), with .git, node_modules, .tug and
 * the root .gitignore's patterns ignored, and bursts coalesced into one batch per quiet period.
 */
export async function watch(root: string, opts: WatchOptions): Promise<Watcher> {
  const { subscribe } = await import("@parcel/watcher");
  const ignore = [...ALWAYS_IGNORED, ...(await gitignorePatterns(root))];
  const debounceMs = opts.debounceMs ?? 25;
  let pending = new Map<string, WatchEvent>();
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const batch = [...pending.values()];
    pending = new Map();
    if (batch.length > 0) Promise.resolve(opts.onBatch(batch)).catch((e: Error) => opts.onError?.(e));
  };
  const sub = await subscribe(
    root,
    (err, events) => {
      if (err) {
        opts.onError?.(err);
        return;
      }
      if (pending.size === 0 && events.length > 0) opts.onFirstEvent?.();
      for (const e of events) pending.set(e.path, { path: e.path, deleted: e.type === "delete" });
      if (timer) clearTimeout(timer);
      timer = setTimeout(flush, debounceMs);
    },
    { ignore },
  );
  return {
    async close() {
      if (timer) clearTimeout(timer);
      await sub.unsubscribe();
    },
  };
}

/** The root .gitignore as watcher globs (negations and nested .gitignore files are not supported). */
async function gitignorePatterns(root: string): Promise<string[]> {
  const text = await fs.readFile(join(root, ".gitignore"), "utf8").catch(() => "");
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("!")) continue;
    const p = line.replace(/\/$/, "");
    out.push(p.startsWith("/") ? p.slice(1) : p.includes("/") ? p : `**/${p}`);
  }
  return out;
}

export function relativeTo(root: string, abs: string): string | undefined {
  const rel = relative(root, abs);
  if (rel.startsWith("..") || rel === "") return undefined;
  return rel.split(sep).join("/");
}
