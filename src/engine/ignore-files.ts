import { promises as fs } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { ContextRules, type GitignoreAbove, type IgnoreSettings, loadMatchers } from "./ignore-rules.ts";

/**
 * Reads the ignore files of a context for ContextRules. A no-op build scans every context again,
 * so files are read only when their stat changed and a context's rules are reused while the
 * files they came from are unchanged (their own match caches then stay warm, too).
 */

interface CachedText {
  stamp: string;
  text: string | undefined;
}

const texts = new Map<string, CachedText>();
const contexts = new Map<string, { stamps: string; rules: ContextRules }>();

async function stampOf(abs: string): Promise<string> {
  const st = await fs.stat(abs, { bigint: true }).catch(() => undefined);
  return st?.isFile() ? `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : "-";
}

/** An ignore file's text (undefined when absent), read again only when its stat changed. */
export async function readIgnoreFile(abs: string): Promise<string | undefined> {
  const stamp = await stampOf(abs);
  const hit = texts.get(abs);
  if (hit?.stamp === stamp) return hit.text;
  const text = stamp === "-" ? undefined : await fs.readFile(abs, "utf8").catch(() => undefined);
  texts.set(abs, { stamp, text });
  return text;
}

/**
 * The directories between the enclosing git repository's root and the context, outermost first
 * (excluding the context). Outside a repository: none, so a context copied out of its repository
 * builds the same files it held there only if its own ignore files say so.
 */
async function dirsAbove(context: string): Promise<string[]> {
  if (await exists(join(context, ".git"))) return [];
  const chain: string[] = [];
  for (let dir = dirname(context); ; dir = dirname(dir)) {
    chain.unshift(dir);
    if (await exists(join(dir, ".git"))) return chain;
    if (dirname(dir) === dir) return [];
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}

/**
 * The rules of a context: its .dockerignore and .tugignore, `ignore.patterns`, and (with git)
 * the .gitignore files above it inside its repository. Nested .gitignore files, the context's
 * own included, are added by whoever walks the tree (`loadGitignoresAlong` for one path).
 */
export async function loadContextRules(context: string, settings: IgnoreSettings): Promise<ContextRules> {
  const aboveDirs = settings.git ? await dirsAbove(context) : [];
  const files = [
    join(context, ".dockerignore"),
    join(context, ".tugignore"),
    ...aboveDirs.map((d) => join(d, ".gitignore")),
  ];
  const read = await Promise.all(files.map(async (f) => ({ f, text: await readIgnoreFile(f) })));
  const stamps = `${JSON.stringify(settings)}\n${read.map((r) => `${r.f}=${texts.get(r.f)?.stamp}`).join("\n")}`;
  const hit = contexts.get(context);
  if (hit?.stamps === stamps) return hit.rules;
  if (read.some((r) => r.text !== undefined) || settings.patterns.length > 0) await loadMatchers();
  const [docker, tug, ...above] = read;
  const rules = new ContextRules({
    git: settings.git,
    ...(docker?.text !== undefined ? { dockerignore: { source: ".dockerignore", text: docker.text } } : {}),
    ...(tug?.text !== undefined ? { tugignore: { source: ".tugignore", text: tug.text } } : {}),
    patterns: settings.patterns,
    above: above.flatMap((a, i): GitignoreAbove[] => {
      if (a.text === undefined) return [];
      const dir = aboveDirs[i]!;
      return [
        {
          source: relative(context, a.f).split(sep).join("/"),
          text: a.text,
          prefix: `${relative(dir, context).split(sep).join("/")}/`,
        },
      ];
    }),
  });
  contexts.set(context, { stamps, rules });
  return rules;
}

/** Loads the .gitignore files of the directories from the context down to `path`'s parent. */
export async function loadGitignoresAlong(rules: ContextRules, context: string, path: string): Promise<void> {
  const parts = path.split("/").slice(0, -1);
  for (let i = 0; i <= parts.length; i++) {
    const dir = parts.slice(0, i).join("/");
    const text = await readIgnoreFile(join(context, dir, ".gitignore"));
    if (text !== undefined) await loadMatchers();
    rules.setGitignore(dir, text);
  }
}
