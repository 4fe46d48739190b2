// The parts tug.yaml's image schemas are made of: the fields every image target shares and the
// checked string types builders' fragments (src/builders/*-schema.ts) use for their own keys.
// No transforms and no machine-dependent defaults, so the JSON Schema stays stable.
import { isAbsolute } from "node:path";
import { z } from "zod";
import { baseProblem } from "./base.ts";
import { FIELD_HELP } from "./field-help.ts";
import { platformProblem } from "./platform.ts";
import { isValidTag } from "./reference.ts";

export type Problem = string | { what: string; hint: string } | undefined;

/** A string schema with a domain check; the problem becomes one custom issue with an optional hint. */
export function checkedString(check: (s: string) => Problem) {
  return z.string().check((ctx) => {
    const p = check(ctx.value);
    if (p === undefined) return;
    const { what, hint } = typeof p === "string" ? { what: p, hint: undefined } : p;
    ctx.issues.push({ code: "custom", message: what, input: ctx.value, params: { hint } });
  });
}

export const absolutePath = (key: string) =>
  checkedString((s) =>
    s.startsWith("/")
      ? undefined
      : { what: `${key} must be an absolute path in the image`, hint: `use /${s}` },
  );
export const relativePath = (key: string) =>
  checkedString((s) =>
    isAbsolute(s) || s.split(/[\\/]/).includes("..")
      ? { what: `${key} must be a path inside the context`, hint: "write it relative to context, without .." }
      : undefined,
  );

const imagePath = (key: string) =>
  checkedString((s) =>
    !s.startsWith("/")
      ? { what: `${key} must be an absolute path in the image`, hint: `use /${s}` }
      : s.split("/").includes("..")
        ? { what: `${key} must not contain ..`, hint: "write the path in the image without .." }
        : undefined,
  );

const ExtraLayer = z.strictObject({
  from: relativePath("layers.from").describe(FIELD_HELP.layerFrom),
  to: imagePath("layers.to").describe(FIELD_HELP.layerTo),
});

const StringValue = z.union([z.string(), z.number(), z.boolean()], {
  error: "expected a string (numbers and booleans are converted)",
});
export const StringMap = z.record(z.string(), StringValue);
export const Args = z.array(z.string());

const Platform = checkedString(platformProblem);
const Port = z.union([z.int().min(1).max(65535), z.string().regex(/^[0-9]{1,5}(\/(tcp|udp|sctp))?$/)], {
  error: 'expected a port like 8080 or "53/udp"',
});
const Compression = z.union([z.enum(["gzip", "none"]), z.strictObject({ gzip: z.int().min(0).max(9) })], {
  error: "expected gzip, none, or {gzip: LEVEL} with LEVEL 0-9",
});
const Tag = checkedString((s) =>
  isValidTag(s)
    ? undefined
    : { what: `"${s}" is not a valid tag`, hint: "tags are up to 128 letters, digits, '_', '.' and '-'" },
);

const LiveUpdateStep = z.union(
  [
    z.strictObject({ fall_back_on: z.array(z.string().min(1)).describe(FIELD_HELP.fallBackOn) }),
    z.strictObject({
      sync: z
        .strictObject({ from: relativePath("sync.from"), to: absolutePath("sync.to") })
        .describe(FIELD_HELP.sync),
    }),
    z.strictObject({
      run: z
        .strictObject({ cmd: z.string().min(1), when: z.array(z.string().min(1)).optional() })
        .describe(FIELD_HELP.runStep),
    }),
    z.strictObject({ restart: z.boolean().describe(FIELD_HELP.restart) }),
  ],
  { error: "expected one of fall_back_on: [...], sync: {from, to}, run: {cmd, when}, restart: BOOL" },
);

const Dev = z
  .strictObject({
    runtime: z
      .enum(["local", "podman", "docker", "kube-play", "kubernetes"])
      .default("local")
      .describe(FIELD_HELP.runtime),
    port: z.int().min(1).max(65535).optional().describe(FIELD_HELP.devPort),
    ready_log: z.string().min(1).optional().describe(FIELD_HELP.readyLog),
    live_update: z.array(LiveUpdateStep).default([]).describe(FIELD_HELP.liveUpdate),
    namespace: z.string().optional().describe(FIELD_HELP.namespace),
    selector: z.string().optional().describe(FIELD_HELP.selector),
    manifests: z.array(z.string()).optional().describe(FIELD_HELP.manifests),
  })
  .describe(FIELD_HELP.dev);

/** The keys every image target has, whatever its builder (a fragment spreads them after `builder`). */
export const imageFields = {
  context: z.string().default(".").describe(FIELD_HELP.context),
  base: checkedString(baseProblem).optional().describe(FIELD_HELP.base),
  platforms: z.array(Platform).min(1).optional().describe(FIELD_HELP.platforms),
  env: StringMap.optional().describe(FIELD_HELP.env),
  entrypoint: Args.optional().describe(FIELD_HELP.entrypoint),
  cmd: Args.optional().describe(FIELD_HELP.cmd),
  workdir: absolutePath("workdir").optional().describe(FIELD_HELP.workdir),
  user: z.union([z.string(), z.int()]).optional().describe(FIELD_HELP.user),
  ports: z.array(Port).optional().describe(FIELD_HELP.ports),
  labels: StringMap.optional().describe(FIELD_HELP.labels),
  annotations: StringMap.optional().describe(FIELD_HELP.annotations),
  compression: Compression.optional().describe(FIELD_HELP.compression),
  tags: z.array(Tag).min(1).default(["latest"]).describe(FIELD_HELP.tags),
  ignore: z
    .strictObject({
      git: z.boolean().optional().describe(FIELD_HELP.ignoreGit),
      patterns: z.array(z.string().min(1)).default([]).describe(FIELD_HELP.ignorePatterns),
    })
    .optional()
    .describe(FIELD_HELP.ignore),
  layers: z.array(ExtraLayer).optional().describe(FIELD_HELP.imageLayers),
  dev: Dev.optional(),
  entrypoint_check: z.boolean().default(true).describe(FIELD_HELP.entrypointCheck),
};

/** A validated string map (numbers and booleans allowed) as the strings the image config holds. */
export function stringsOf(m: Record<string, string | number | boolean> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, String(v)]));
}
