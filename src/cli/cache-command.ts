import type { Command } from "commander";
import { cacheStats, parseSize, pruneCache, verifyCache } from "../engine/cache-admin.ts";
import { CacheStore, defaultCacheDir } from "../engine/cache-store.ts";
import { TugError } from "../errors.ts";
import { cli } from "./context.ts";

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const rate = (hits: number, misses: number) =>
  hits + misses === 0 ? "-" : `${Math.round((100 * hits) / (hits + misses))}%`;

export function cacheCommand(program: Command): void {
  const cache = program.command("cache").description("inspect and maintain the local cache ($TUG_CACHE)");
  cache
    .command("stats")
    .option("--json", "print JSON")
    .description("entries, bytes, and hit rates of the last builds (local and remote)")
    .action(async (flags: { json?: boolean }) => {
      const stats = await cacheStats(new CacheStore(defaultCacheDir()));
      if (flags.json) {
        cli.stdout.write(`${JSON.stringify(stats)}\n`);
        return;
      }
      const lines = [
        `cache ${stats.root}`,
        `blobs    ${stats.blobs.count} (${mib(stats.blobs.bytes)})`,
        `records  ${
          Object.entries(stats.records)
            .map(([k, n]) => `${k} ${n}`)
            .join(", ") || "none"
        }`,
        "last builds (record hit rate: local incl. remote, remote alone; blobs fetched/uploaded):",
        ...stats.builds
          .slice(-10)
          .map(
            (b) =>
              `  ${b.at}  ${rate(b.hits, b.misses)}  remote ${rate(b.remoteHits, b.remoteMisses)}  ${b.blobsFetched}↓ ${b.blobsPut}↑`,
          ),
      ];
      cli.stdout.write(`${lines.join("\n")}\n`);
    });
  cache
    .command("prune")
    .requiredOption(
      "--max-size <size>",
      "shrink the blobs to this size, e.g. 5G, 500M (least recently used first)",
    )
    .description("delete least recently used blobs; safe while a build runs (recently used blobs are kept)")
    .action(async (flags: { maxSize: string }) => {
      const max = parseSize(flags.maxSize);
      if (max === undefined)
        throw new TugError({
          what: `"${flags.maxSize}" is not a size`,
          where: "--max-size",
          hint: "write it like 5G, 500M or 1024K",
        });
      const r = await pruneCache(new CacheStore(defaultCacheDir()), max);
      cli.stdout.write(`deleted ${r.deleted} blobs (${mib(r.freed)}); ${mib(r.kept)} kept\n`);
    });
  cache
    .command("verify")
    .description("re-hash every blob and re-check every record; bad entries are deleted")
    .action(async () => {
      const r = await verifyCache(new CacheStore(defaultCacheDir()));
      for (const d of r.dropped) cli.stdout.write(`dropped ${d}\n`);
      cli.stdout.write(`checked ${r.blobs} blobs and ${r.records} records; ${r.dropped.length} dropped\n`);
    });
}
