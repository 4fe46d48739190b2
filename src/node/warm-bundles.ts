// In a long-lived process (`tug server`), app bundles come from esbuild contexts kept between
// builds: an edit re-bundles incrementally (esbuild re-reads only what changed) instead of
// starting the esbuild binary and parsing every input again. A one-shot process never keeps one.
import type { BuildContext, BuildOptions, Metafile } from "esbuild";
import { esbuildApi } from "./esbuild-module.ts";

type Options = BuildOptions & { write: false; metafile: true };
type Context = BuildContext<Options>;

/** Contexts of targets beyond this many are disposed, oldest first (each holds its parsed files). */
const MAX_CONTEXTS = 16;

let contexts: Map<string, Promise<Context>> | undefined;

/** From now on this process keeps bundling contexts (called once by `tug server`). */
export function keepBundleContexts(): void {
  contexts ??= new Map();
}

/** Disposes every kept context (the server's shutdown). */
export async function disposeBundleContexts(): Promise<void> {
  const all = [...(contexts?.values() ?? [])];
  contexts?.clear();
  await Promise.all(all.map((c) => c.then((ctx) => ctx.dispose()).catch(() => {})));
}

/**
 * The bundle of `options` from the kept context for exactly these options (created on first
 * use), or undefined when this process keeps none. A failed rebuild drops the context, so the
 * next build starts from a fresh one.
 */
export async function warmBundle(
  options: Omit<Options, "metafile">,
): Promise<{ outputFiles: Array<{ contents: Uint8Array }>; metafile: Metafile } | undefined> {
  if (!contexts) return undefined;
  const key = JSON.stringify(options);
  let ctx = contexts.get(key);
  if (ctx) contexts.delete(key); // re-inserted below: the map's order is the use order
  ctx ??= esbuildApi().context({ ...options, metafile: true });
  contexts.set(key, ctx);
  for (const [old, c] of contexts) {
    if (contexts.size <= MAX_CONTEXTS) break;
    contexts.delete(old);
    void c.then((x) => x.dispose()).catch(() => {});
  }
  try {
    const result = await (await ctx).rebuild();
    return { outputFiles: result.outputFiles ?? [], metafile: result.metafile };
  } catch (e) {
    if (contexts.get(key) === ctx) contexts.delete(key);
    void ctx.then((x) => x.dispose()).catch(() => {});
    throw e;
  }
}
