import { platformProblem } from "../config/platform.ts";
import { isValidTag } from "../config/reference.ts";
import type { ImageTarget, Platform, Project } from "../config/types.ts";
import { TugError } from "../errors.ts";

/** Command-line settings laid over the selected images' tug.yaml settings. */
export interface TargetOverrides {
  /** `--platform a,b` (repeatable): replaces `platforms:`. */
  platform?: string[];
  /** `--tag/-t` (repeatable): added to `tags:`. */
  tag?: string[];
  /** `--image-label k=v` (repeatable): added to (over) `labels:`. */
  imageLabel?: string[];
}

export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function parsePlatforms(values: string[]): Platform[] {
  const out: Platform[] = [];
  for (const s of values.flatMap((v) => v.split(",")).map((v) => v.trim())) {
    if (!s) continue;
    const problem = platformProblem(s);
    if (problem) throw new TugError({ ...problem, where: "--platform" });
    const [os = "", architecture = "", variant] = s.split("/");
    if (!out.some((p) => p.os === os && p.architecture === architecture && p.variant === variant))
      out.push({ os, architecture, ...(variant ? { variant } : {}) });
  }
  if (out.length === 0)
    throw new TugError({
      what: "--platform names no platform",
      where: "--platform",
      hint: "e.g. --platform linux/amd64,linux/arm64",
    });
  return out;
}

export function parseTags(values: string[]): string[] {
  for (const t of values) {
    if (!isValidTag(t))
      throw new TugError({
        what: `"${t}" is not a valid tag`,
        where: "--tag",
        hint: "tags are up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'",
      });
  }
  return values;
}

export function parseLabels(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq <= 0)
      throw new TugError({
        what: `--image-label ${JSON.stringify(v)} is not KEY=VALUE`,
        where: "--image-label",
        hint: "e.g. --image-label org.opencontainers.image.source=https://example.com/repo",
      });
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

/**
 * The project with the overrides applied to the images `targets` names (all when empty) and,
 * for `--platform`, to the `tug://` bases they stand on: a base is built for every platform of
 * its dependent.
 */
export function withOverrides(project: Project, targets: string[], o: TargetOverrides): Project {
  const platforms = o.platform?.length ? parsePlatforms(o.platform) : undefined;
  const tags = o.tag?.length ? parseTags(o.tag) : [];
  const labels = o.imageLabel?.length ? parseLabels(o.imageLabel) : {};
  if (!platforms && tags.length === 0 && Object.keys(labels).length === 0) return project;
  const byName = new Map(project.targets.map((t) => [t.name, t]));
  const selected = new Set(targets.filter((n) => byName.has(n)));
  if (targets.length === 0) for (const t of project.targets) selected.add(t.name);
  const withBases = new Set(selected);
  for (const name of selected) {
    for (let t = byName.get(name); t?.base.kind === "target"; ) {
      const baseName: string = t.base.name;
      if (withBases.has(baseName) && baseName !== name) break;
      withBases.add(baseName);
      t = byName.get(baseName);
    }
  }
  const apply = (t: ImageTarget): ImageTarget => {
    if (!withBases.has(t.name)) return t;
    const own = selected.has(t.name);
    return {
      ...t,
      ...(platforms ? { platforms } : {}),
      ...(own && tags.length ? { tags: [...new Set([...t.tags, ...tags])] } : {}),
      ...(own && Object.keys(labels).length ? { labels: { ...t.labels, ...labels } } : {}),
    };
  };
  return { ...project, targets: project.targets.map(apply) };
}
