import { promises as fs } from "node:fs";
import { dirname, extname, relative, resolve, sep } from "node:path";
import { getTsconfig } from "get-tsconfig";
import { TugError } from "../errors.ts";

const TS_EXTENSIONS = new Set([".ts", ".tsx", ".mts", ".cts"]);
// A decorator at the start of a line: `@Injectable()`, `@Get("/")`, `@Column`. JSDoc tags sit
// behind a `*`, and an `@` inside a string rarely starts a line.
const DECORATOR_LINE = /^[ \t]*@[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*[ \t]*(?:\(|$|[ \t])/m;

/**
 * esbuild implements TypeScript's experimentalDecorators but not emitDecoratorMetadata: a
 * bundle of code that relies on it (NestJS, TypeORM, inversify, Angular DI) loses the
 * `design:paramtypes` metadata and fails, or injects undefined, at run time, where `tsc` output
 * works. So a first-party TypeScript file with decorators, under a tsconfig (extends resolved)
 * that sets emitDecoratorMetadata, is refused rather than bundled differently.
 */
export async function checkDecoratorMetadata(o: {
  /** The bundle's input files, absolute or relative to `baseDir`. */
  inputs: Iterable<string>;
  baseDir: string;
  where: string;
  /** What to do instead, for this kind of target. */
  hint: string;
}): Promise<void> {
  const cache = new Map<string, never>();
  for (const input of o.inputs) {
    if (!TS_EXTENSIONS.has(extname(input)) || input.split(/[\\/]/).includes("node_modules")) continue;
    const abs = resolve(o.baseDir, input);
    let found: ReturnType<typeof getTsconfig> = null;
    try {
      found = getTsconfig(dirname(abs), "tsconfig.json", cache);
    } catch {
      continue; // esbuild reports an unreadable tsconfig itself
    }
    if (found?.config.compilerOptions?.emitDecoratorMetadata !== true) continue;
    const text = await fs.readFile(abs, "utf8").catch(() => "");
    if (!DECORATOR_LINE.test(text)) continue;
    const shown = relative(o.baseDir, abs).split(sep).join("/");
    throw new TugError({
      what: `${shown} uses decorators and ${relative(o.baseDir, found.path).split(sep).join("/")} sets emitDecoratorMetadata, which esbuild does not implement: the bundle would lack the design:paramtypes metadata that dependency injection reads at run time`,
      where: o.where,
      hint: o.hint,
    });
  }
}
