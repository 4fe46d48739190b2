import { promises as fs } from "node:fs";
import { join, posix } from "node:path";

export type ModuleFormat = "cjs" | "esm";

/** Where the bundle of an entry goes, relative to the app dir, and the module format it has. */
export interface BundleOutput {
  path: string;
  format: ModuleFormat;
}

/**
 * The bundle replaces the entry at the entry's own relative path, so `__dirname`, `__filename`,
 * `require` and `import.meta.url` mean in the image what they meant in the source. Its format is
 * the one Node gives the entry file: `.mjs`/`.mts` ESM, `.cjs`/`.cts` CommonJS, anything else
 * from the nearest package.json's "type" (CommonJS without one). A TypeScript entry becomes
 * `.js` next to where it was, as tsc with outDir unset would write it.
 */
export async function bundleOutputFor(context: string, entry: string): Promise<BundleOutput> {
  const ext = posix.extname(entry);
  const stem = entry.slice(0, entry.length - ext.length);
  if (ext === ".mjs" || ext === ".mts") return { path: `${stem}.mjs`, format: "esm" };
  if (ext === ".cjs" || ext === ".cts") return { path: `${stem}.cjs`, format: "cjs" };
  const type = await packageType(context, posix.dirname(entry));
  return { path: `${stem}.js`, format: type === "module" ? "esm" : "cjs" };
}

/** "type" of the package.json nearest to `dir` (relative to context), looking no higher than the context. */
async function packageType(context: string, dir: string): Promise<string | undefined> {
  for (let d = dir; ; d = posix.dirname(d)) {
    const file = join(context, d === "." ? "" : d, "package.json");
    let text: string | undefined;
    try {
      text = await fs.readFile(file, "utf8");
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      try {
        const type = (JSON.parse(text) as { type?: unknown }).type;
        return typeof type === "string" ? type : undefined;
      } catch {
        return undefined; // Node refuses a broken package.json at run time; esbuild says so too
      }
    }
    if (d === "." || d === "/" || d === "") return undefined;
  }
}

/** Extensions esbuild reads as code: a context file with one is an input of the bundle or shipped as it is. */
export const CODE_EXTENSIONS = new Set([".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx"]);
