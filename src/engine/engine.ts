import { availableParallelism } from "node:os";
import { Limiter } from "../util/limiter.ts";
import { logBuild } from "./cache-admin.ts";
import { CacheStore, defaultCacheDir } from "./cache-store.ts";
import { type RemoteMode, RemoteSync } from "./remote-sync.ts";
import { StatCache } from "./stat-cache.ts";
import { type EngineEvent, Timings } from "./timings.ts";

export interface EngineOptions {
  cacheDir?: string;
  /** Identifies the project on this machine (its directory): scopes the stat cache and explain records. */
  scope: string;
  /** CPU-bound work (compilers, compression); defaults to the number of cores. */
  jobs?: number;
  /** Network-bound work (uploads, downloads); default 4. */
  ioJobs?: number;
  /** A shared cache server behind the local cache. */
  remote?: { url: string; mode: RemoteMode };
  /** Subscribed before anything runs, so warnings while opening are not lost. */
  onEvent?: (e: EngineEvent) => void;
}

/** What every action shares: the store, the stat cache, the two pools and the timing log. */
export class Engine {
  readonly store: CacheStore;
  readonly statCache: StatCache;
  readonly cpu: Limiter;
  readonly io: Limiter;
  readonly timings = new Timings();
  readonly scope: string;
  /**
   * Absolute directories this build writes outputs to (`--out DIR`): left out of every context
   * scan, as `.tug` is, so a context holding them neither ships nor keys the previous outputs.
   */
  readonly outputDirs = new Set<string>();

  private constructor(store: CacheStore, statCache: StatCache, opts: EngineOptions) {
    this.store = store;
    this.statCache = statCache;
    this.scope = opts.scope;
    this.cpu = new Limiter(opts.jobs ?? Math.max(1, availableParallelism()));
    this.io = new Limiter(opts.ioJobs ?? 4);
  }

  static async open(opts: EngineOptions): Promise<Engine> {
    const store = new CacheStore(opts.cacheDir ?? defaultCacheDir());
    await store.sweepTemp();
    const statCache = await StatCache.open(store.root, opts.scope);
    const engine = new Engine(store, statCache, opts);
    if (opts.onEvent) engine.timings.on(opts.onEvent);
    if (opts.remote && opts.remote.mode !== "off") {
      await attachRemote(store, opts.remote, (message) => engine.timings.log("remote-cache", message));
    }
    return engine;
  }

  /**
   * Saves the stat cache and waits (bounded) for remote uploads. `log: false` leaves the build
   * log (`tug cache stats`) alone: a lambda-only build writes nothing to the cache when nothing
   * changed.
   */
  async close(opts: { log?: boolean } = {}): Promise<void> {
    await this.statCache.save();
    await this.store.remote?.flush();
    if (opts.log !== false) await logBuild(this.store).catch(() => {});
  }
}

/**
 * Puts the shared cache behind `store` (read-through, write-back). Any failure to open it is
 * one warning; the build goes on with the local cache only.
 */
export async function attachRemote(
  store: CacheStore,
  remote: { url: string; mode: RemoteMode },
  warn: (message: string) => void,
): Promise<void> {
  if (remote.mode === "off") return;
  try {
    const { openRemoteCache } = await import("../remote/open.ts");
    // TUG_REMOTE_CACHE_TIMEOUT_MS shortens every remote operation's limits (tests, flaky links).
    const ms = Number(process.env.TUG_REMOTE_CACHE_TIMEOUT_MS) || undefined;
    const timeouts = ms ? { connectMs: ms, idleMs: ms } : undefined;
    store.remote = new RemoteSync(
      await openRemoteCache(remote.url, process.env, { timeouts }),
      remote.mode,
      warn,
    );
  } catch (e) {
    warn(
      `cannot use remote cache ${remote.url.replace(/\/\/[^/@]*@/, "//")}: ${e instanceof Error ? e.message : String(e)}; continuing with the local cache only`,
    );
  }
}
