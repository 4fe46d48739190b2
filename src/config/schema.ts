import { isAbsolute } from "node:path";
import { z } from "zod";
import { PLATFORM_VARIABLES, refusedFlag } from "../go/env.ts";
import { baseProblem } from "./base.ts";
import { IMAGE_NAME } from "./names.ts";
import { platformProblem } from "./platform.ts";
import { isValidTag, repositoryProblem } from "./reference.ts";

// The single source of truth for tug.yaml: loading validates against it, errors quote its
// descriptions as hints, and scripts/gen-schema.ts turns it into schema/tug.schema.json.
// It holds no transforms and no machine-dependent defaults so the JSON Schema is stable;
// normalising (platform parsing, absolute paths, host platform) happens in project.ts.

/** One line per key, shown by editors on hover and quoted in error hints. */
export const FIELD_HELP = {
  repo: "repository to push to, e.g. registry.example.com/team (also --repo or TUG_REPO); without it tug only writes local outputs",
  images: "container images to build, by name",
  cache: "cache settings",
  remote: "URL of a shared remote cache",
  builder: "how to build the image: go, node, python, files or command",
  context: "directory the build reads, relative to tug.yaml (default .)",
  base: "base image: scratch, a registry reference like docker.io/library/node:20, oci-layout:PATH[:TAG], tug://NAME (another image of this tug.yaml, built first), or host:PROGRAM (this machine's program and its libraries, e.g. host:node). Default: host:node for the node builder, scratch otherwise",
  platforms: "platforms to build, like linux/amd64 or linux/arm/v7 (default: this machine's linux platform)",
  env: "environment variables set in the image",
  entrypoint: "image entrypoint, as a list of arguments",
  entrypointCheck:
    "check at build time that the entrypoint's executable (or cmd's) exists in the image; false when it comes from a volume at run time",
  cmd: "image default command, as a list of arguments",
  workdir: "absolute working directory in the image",
  user: "user (and group) the container runs as, e.g. 65532 or nobody:nogroup",
  ports: 'ports the image exposes, like 8080 or "53/udp"',
  labels: "image config labels",
  annotations: "manifest annotations",
  compression:
    "layer compression: gzip (level 1 for local outputs and loopback registries, 6 otherwise), none, or {gzip: LEVEL} with LEVEL 0-9",
  tags: "tags to push (default [latest])",
  ignore:
    "which context files are left out besides .dockerignore and .tugignore: git: false stops reading .gitignore files; patterns adds gitignore-syntax patterns",
  ignoreGit:
    "honour .gitignore files in and above the context, inside its git repository (default true; false for command, whose command may read what git ignores)",
  ignorePatterns: "extra patterns to leave out, gitignore syntax, relative to the context",
  imageLayers:
    "extra layers after the builder's, one cached layer each: [{from: ./kodata, to: /var/run/ko}]; from is relative to context (the context's ignore files apply), to is absolute in the image; to: /var/run/ko also sets KO_DATA_PATH",
  layerFrom: "a directory or file relative to context, inside it",
  layerTo: "absolute path in the image: the directory that receives from's contents, or the file's path",
  main: "Go package to build, relative to context (default .)",
  ldflags: "flags passed to go build -ldflags",
  goFlags:
    "extra go build flags, each -flag=value, also given to go list, e.g. [-mod=vendor, -gcflags=all=-l]; not -o, -ldflags, -tags or the cgo-only -race/-msan/-asan",
  buildTags: "Go build tags, passed as -tags=a,b",
  buildEnv:
    "environment of go build and go list, e.g. {GOEXPERIMENT: loopvar, GOAMD64: v3}; GOOS, GOARCH, GOARM and CGO_ENABLED come from platforms",
  name: "name of the built binary (default: the image name)",
  entry: "entry point bundled by esbuild, relative to context, e.g. src/server.ts",
  external: "packages left out of the bundle and installed from the lockfile instead",
  node: 'Node.js major version the bundle targets, e.g. "20" (default 20)',
  bundle:
    "true (default): esbuild bundles entry into one file at the entry's own path under /app; false: ship the sources as they are plus a node_modules layer installed from package-lock.json (npm ci --omit=dev), for apps that cannot be bundled",
  dest: "absolute directory in the image that receives the files",
  pyRequirements:
    "python images: requirements.txt, pyproject.toml or uv.lock relative to context (default requirements.txt when it exists); wheels only",
  pyModule: "python images: module the entrypoint runs as python3 -m MODULE",
  pyCommand: "python images: entrypoint as a list of arguments, instead of module",
  pyVersion:
    'python images: the CPython the base runs, "3.11" or "3.11.9" (default: read from the base\'s python3); wheel tags and markers follow it',
  pyGlibc:
    'python images: the manylinux ceiling for wheels, e.g. "2.36" (default: the base\'s glibc, read from its libc.so.6)',
  pySourceRoots:
    "python images: directories (relative to context) whose files are installed at /app relative to them, e.g. [src]",
  pyIndexUrl:
    "python images: the package index (simple API) wheels come from (default PyPI, or TUG_INDEX_URL/PIP_INDEX_URL)",
  pyExtraIndexUrls: "python images: more package indexes, searched after index_url",
  run: "command that writes the output directory: a shell string or a list of arguments",
  output: "directory the command writes, relative to context; its contents become the layer",
  inputs:
    "paths relative to context whose contents decide when the command reruns (default: the whole context)",
  dev: "tug dev: how to run this image while developing and update it live",
  runtime:
    "where tug dev runs it: local (a host process), podman, docker, kube-play (dev.manifests played by podman kube play) or kubernetes",
  devPort: "readiness: HTTP GET on this port until it answers 2xx/3xx",
  readyLog: "readiness: a regular expression that a log line matches once the process is ready",
  liveUpdate: "steps applied on a change, in order: fall_back_on, sync, run, restart",
  fallBackOn:
    "changes to these paths (globs, relative to context) rebuild and redeploy instead of live-updating",
  sync: "copy changed files from `from` (relative to context) to `to` (absolute in the image)",
  runStep: "run a command in the running container/process after syncing, when one of `when` changed",
  restart: "restart the process after an update (default true)",
  namespace: "kubernetes: namespace of the pods",
  selector: "kubernetes: label selector of the pods (default app=NAME)",
  manifests: "kubernetes, kube-play: YAML files applied or played (after tug resolve) on a full deploy",
  python: "settings shared by the Python lambdas: package indexes and requirements",
  indexUrl:
    "simple (PEP 503/691) index URL; http(s):// or file:// (default https://pypi.org/simple, also TUG_INDEX_URL)",
  extraIndexUrls: "further simple index URLs, searched after index_url",
  requirements: "requirements file, relative to tug.yaml (default requirements.txt)",
  sourceRoots:
    "further directories first-party modules are found in (relative to tug.yaml), after the project root",
  moduleMapping:
    "distribution → the top-level modules it provides, where the name does not say (e.g. python-jose: [jose])",
  unknownImports: "a third-party import no resolved distribution provides: warn (default) or error",
  strip: "leave files out of every Python lambda zip: tests/ dirs, type stubs, docs",
  lambdas: "Lambda functions to package as zips, by name",
  lambdaRuntime: "Lambda runtime, python3.9 … python3.14 or nodejs18.x … nodejs22.x",
  architecture: "Lambda architecture: x86_64 or arm64 (default x86_64)",
  handler:
    "handler as FILE:FUNCTION relative to tug.yaml, e.g. lambdas/echo.py:handler or src/api.ts:handler",
  glibc: 'Python lambdas: override of the runtime\'s glibc ceiling, e.g. "2.28"',
  pythonVersion:
    'Python lambdas: the CPython release the runtime runs, for python_full_version markers, e.g. "3.11.9" (default: tug\'s table of the managed runtimes)',
  upload:
    "Python lambdas: how the zip reaches Lambda: direct (default; 50 MB zipped, 250 MB unzipped) or s3 (250 MB unzipped only)",
  layers:
    "Lambda layers to package as zips (python/ prefix), by name; functions listing one leave its distributions out",
  layerRequirements: "PEP 508 requirements the layer holds, e.g. [numpy, matplotlib>=3.8]",
  lambdaLayers:
    "Python only: layers (from layers:) this function runs with; their distributions are left out of its zip",
  lambdaMinify: "Node.js lambdas: minify the bundle (default false)",
  lambdaSourcemap:
    "Node.js lambdas: write a source map next to the bundle and set NODE_OPTIONS=--enable-source-maps (default false)",
  lambdaExternal:
    "Node.js lambdas: packages left out of the bundle and of the zip because the runtime or a layer provides them (@aws-sdk/* always is); PKG/* matches subpaths",
  lambdaNative:
    "Node.js lambdas: packages left out of the bundle and installed for linux and the lambda's architecture into node_modules/ (packages with binding.gyp or prebuilt .node files are found without this)",
} as const;

type Problem = string | { what: string; hint: string } | undefined;

/** A string schema with a domain check; the problem becomes one custom issue with an optional hint. */
function checkedString(check: (s: string) => Problem) {
  return z.string().check((ctx) => {
    const p = check(ctx.value);
    if (p === undefined) return;
    const { what, hint } = typeof p === "string" ? { what: p, hint: undefined } : p;
    ctx.issues.push({ code: "custom", message: what, input: ctx.value, params: { hint } });
  });
}

const absolutePath = (key: string) =>
  checkedString((s) =>
    s.startsWith("/")
      ? undefined
      : { what: `${key} must be an absolute path in the image`, hint: `use /${s}` },
  );
const relativePath = (key: string) =>
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

const goFlagProblem = (flag: string): Problem => {
  const refused = refusedFlag([flag]);
  return refused && { what: `flags: ${refused.flag} is not allowed`, hint: refused.hint };
};
const goVariableProblem = (name: string): Problem =>
  (PLATFORM_VARIABLES as readonly string[]).includes(name)
    ? {
        what: `build_env may not set ${name}`,
        hint: "tug sets it from platforms: (CGO stays off: images are static)",
      }
    : /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
      ? undefined
      : `${name} is not an environment variable name`;

const StringValue = z.union([z.string(), z.number(), z.boolean()], {
  error: "expected a string (numbers and booleans are converted)",
});
const StringMap = z.record(z.string(), StringValue);
const Args = z.array(z.string());

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

const common = {
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

export const GoImage = z.strictObject({
  builder: z.literal("go").describe(FIELD_HELP.builder),
  ...common,
  main: z.string().default(".").describe(FIELD_HELP.main),
  ldflags: z.union([z.string(), Args]).optional().describe(FIELD_HELP.ldflags),
  flags: z.array(checkedString(goFlagProblem)).optional().describe(FIELD_HELP.goFlags),
  build_tags: z
    .array(
      z
        .string()
        .regex(/^[A-Za-z0-9_.!-]+$/, { error: "a build tag is letters, digits, '_', '.', '-' or '!'" }),
    )
    .optional()
    .describe(FIELD_HELP.buildTags),
  build_env: StringMap.check((ctx) => {
    for (const name of Object.keys(ctx.value)) {
      const p = goVariableProblem(name);
      if (p === undefined) continue;
      const { what, hint } = typeof p === "string" ? { what: p, hint: undefined } : p;
      ctx.issues.push({ code: "custom", message: what, input: ctx.value, path: [name], params: { hint } });
    }
  })
    .optional()
    .describe(FIELD_HELP.buildEnv),
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, { error: "a binary name is letters, digits, '.', '_' and '-'" })
    .optional()
    .describe(FIELD_HELP.name),
});

export const NodeImage = z.strictObject({
  builder: z.literal("node").describe(FIELD_HELP.builder),
  ...common,
  entry: relativePath("entry").describe(FIELD_HELP.entry),
  external: Args.default([]).describe(FIELD_HELP.external),
  node: z
    .union([z.string().regex(/^[0-9]+(\.[0-9]+){0,2}$/), z.int().min(1)], {
      error: 'expected a Node.js version like "20"',
    })
    .default("20")
    .describe(FIELD_HELP.node),
  bundle: z.boolean().default(true).describe(FIELD_HELP.bundle),
});

export const FilesImage = z.strictObject({
  builder: z.literal("files").describe(FIELD_HELP.builder),
  ...common,
  dest: absolutePath("dest").describe(FIELD_HELP.dest),
});

export const CommandImage = z.strictObject({
  builder: z.literal("command").describe(FIELD_HELP.builder),
  ...common,
  run: z
    .union([z.string().min(1), Args.min(1)], { error: "expected a shell string or a list of arguments" })
    .describe(FIELD_HELP.run),
  output: relativePath("output").describe(FIELD_HELP.output),
  dest: absolutePath("dest").default("/").describe(FIELD_HELP.dest),
  inputs: z.array(relativePath("inputs")).min(1).default(["."]).describe(FIELD_HELP.inputs),
});

export const PythonImage = z
  .strictObject({
    builder: z.literal("python").describe(FIELD_HELP.builder),
    ...common,
    requirements: relativePath("requirements").optional().describe(FIELD_HELP.pyRequirements),
    module: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, {
        error: "expected a dotted Python module name like app.main",
      })
      .optional()
      .describe(FIELD_HELP.pyModule),
    command: Args.min(1).optional().describe(FIELD_HELP.pyCommand),
    python_version: z
      .string()
      .regex(/^3\.[0-9]+(\.[0-9]+)?$/, { error: 'expected a CPython version like "3.11" or "3.11.9"' })
      .optional()
      .describe(FIELD_HELP.pyVersion),
    glibc: z
      .string()
      .regex(/^2\.[0-9]+$/, { error: 'expected a glibc version like "2.36"' })
      .optional()
      .describe(FIELD_HELP.pyGlibc),
    source_roots: z.array(relativePath("source_roots")).default([]).describe(FIELD_HELP.pySourceRoots),
    index_url: z.string().min(1).optional().describe(FIELD_HELP.pyIndexUrl),
    extra_index_urls: z.array(z.string().min(1)).default([]).describe(FIELD_HELP.pyExtraIndexUrls),
  })
  .refine((t) => (t.module === undefined) !== (t.command === undefined), {
    error: "set exactly one of module: (runs python3 -m MODULE) and command: (a list of arguments)",
  });

export const BUILDERS = {
  go: GoImage,
  node: NodeImage,
  files: FilesImage,
  command: CommandImage,
  python: PythonImage,
} as const;
export type BuilderName = keyof typeof BUILDERS;

export const ImageTargetSchema = z.discriminatedUnion("builder", [
  GoImage,
  NodeImage,
  FilesImage,
  CommandImage,
  PythonImage,
]);

export const PythonSettings = z
  .strictObject({
    index_url: z.string().min(1).optional().describe(FIELD_HELP.indexUrl),
    extra_index_urls: z.array(z.string().min(1)).default([]).describe(FIELD_HELP.extraIndexUrls),
    requirements: z.string().min(1).default("requirements.txt").describe(FIELD_HELP.requirements),
    source_roots: z.array(z.string().min(1)).default([]).describe(FIELD_HELP.sourceRoots),
    module_mapping: z
      .record(z.string().min(1), z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/)))
      .default({})
      .describe(FIELD_HELP.moduleMapping),
    unknown_imports: z.enum(["warn", "error"]).default("warn").describe(FIELD_HELP.unknownImports),
    strip: z
      .strictObject({
        tests: z.boolean().default(false),
        pyi: z.boolean().default(false),
        docs: z.boolean().default(false),
      })
      .optional()
      .describe(FIELD_HELP.strip),
  })
  .describe(FIELD_HELP.python);

/** What a Python lambda and a lambda layer both say about the runtime they target. */
const PYTHON_TARGET_FIELDS = {
  glibc: z
    .string()
    .regex(/^2\.[0-9]+$/, { error: 'expected a glibc version like "2.28"' })
    .optional()
    .describe(FIELD_HELP.glibc),
  python_version: z
    .string()
    .regex(/^3\.[0-9]+\.[0-9]+$/, { error: 'expected a CPython release like "3.11.9"' })
    .optional()
    .describe(FIELD_HELP.pythonVersion),
  upload: z.enum(["direct", "s3"]).optional().describe(FIELD_HELP.upload),
};

// The runtime is checked while normalising (python/runtime.ts and lambda/node/runtime.ts own
// the lists and their messages).
export const LambdaTargetSchema = z.strictObject({
  runtime: z.string().min(1).describe(FIELD_HELP.lambdaRuntime),
  architecture: z.enum(["x86_64", "arm64"]).default("x86_64").describe(FIELD_HELP.architecture),
  handler: z
    .string()
    .regex(/^[^:]+:[A-Za-z_][A-Za-z0-9_]*$/, {
      error: "expected FILE:FUNCTION, e.g. lambdas/echo.py:handler",
    })
    .describe(FIELD_HELP.handler),
  ...PYTHON_TARGET_FIELDS,
  // Node.js only; a Python lambda that sets them is refused while normalising.
  minify: z.boolean().optional().describe(FIELD_HELP.lambdaMinify),
  sourcemap: z.boolean().optional().describe(FIELD_HELP.lambdaSourcemap),
  external: z.array(z.string().min(1)).optional().describe(FIELD_HELP.lambdaExternal),
  native: z.array(z.string().min(1)).optional().describe(FIELD_HELP.lambdaNative),
  layers: z.array(z.string().regex(IMAGE_NAME)).optional().describe(FIELD_HELP.lambdaLayers),
});

export const LayerSchema = z.strictObject({
  runtime: z.string().min(1).describe(FIELD_HELP.lambdaRuntime),
  architecture: z.enum(["x86_64", "arm64"]).default("x86_64").describe(FIELD_HELP.architecture),
  ...PYTHON_TARGET_FIELDS,
  requirements: z.array(z.string().min(1)).min(1).describe(FIELD_HELP.layerRequirements),
});

export { IMAGE_NAME } from "./names.ts";

export const TugFileSchema = z
  .strictObject({
    repo: checkedString(repositoryProblem).optional().describe(FIELD_HELP.repo),
    images: z.record(z.string().regex(IMAGE_NAME), ImageTargetSchema).default({}).describe(FIELD_HELP.images),
    python: PythonSettings.optional(),
    lambdas: z
      .record(z.string().regex(IMAGE_NAME), LambdaTargetSchema)
      .default({})
      .describe(FIELD_HELP.lambdas),
    layers: z.record(z.string().regex(IMAGE_NAME), LayerSchema).default({}).describe(FIELD_HELP.layers),
    cache: z
      .strictObject({ remote: z.string().min(1).optional().describe(FIELD_HELP.remote) })
      .optional()
      .describe(FIELD_HELP.cache),
  })
  .meta({ title: "tug.yaml", description: "tug project file: images to build and where to push them" });

/** Top-level keys with this prefix are ignored (as in compose files), so YAML anchors for shared settings have a home. */
export const EXTENSION_PREFIX = "x-";

/** Top-level keys reserved for features this version does not have yet. */
export const RESERVED_KEYS: readonly string[] = [];

/** tug.yaml after validation, before paths and references are resolved. */
export type TugFile = z.output<typeof TugFileSchema>;
export type RawImageTarget = z.output<typeof ImageTargetSchema>;
export type RawLambdaTarget = z.output<typeof LambdaTargetSchema>;
export type RawLayer = z.output<typeof LayerSchema>;
