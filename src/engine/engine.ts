import { availableParallelism } from "node:os";
import { CacheStore, defaultCacheDir } from "./cache-store.ts";
import { Limiter } from "./limiter.ts";
import { StatCache } from "./stat-cache.ts";
import { Timings } from "./timings.ts";

export interface EngineOptions {
  cacheDir?: string;
  /** Identifies the project on this machine (its directory): scopes the stat cache and explain records. */
  scope: string;
  /** CPU-bound work (compilers, compression); defaults to the number of cores. */
  jobs?: number;
  /** Network-bound work (uploads, downloads); default 4. */
  ioJobs?: number;
}

/** What every action shares: the store, the stat cache, the two pools and the timing log. */
export class Engine {
  readonly store: CacheStore;
  readonly statCache: StatCache;
  readonly cpu: Limiter;
  readonly io: Limiter;
  readonly timings = new Timings();
  readonly scope: string;

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
    return new Engine(store, statCache, opts);
  }

  async close(): Promise<void> {
    await this.statCache.save();
  }
}
