// The help text of every tug.yaml key: the schema's descriptions (editors show them on hover,
// schema/tug.schema.json carries them) and the hints of config errors. Its own module so builder
// schema fragments (src/builders/*-schema.ts) read it without importing the whole schema.

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
  ldflags:
    "flags passed to go build -ldflags (after -s -w); {{.Env.NAME}} is filled from the environment and build_env, shell $VARS are refused",
  goFlags:
    "extra go build flags, each -flag=value, also given to go list, e.g. [-mod=vendor, -gcflags=all=-l]; not -o, -ldflags, -tags or the cgo-only -race/-msan/-asan",
  buildTags: "Go build tags, passed as -tags=a,b",
  buildEnv:
    'environment of go build and go list, e.g. {GOEXPERIMENT: loopvar, GOAMD64: v3}; GOOS, GOARCH, GOARM and CGO_ENABLED come from platforms (CGO_ENABLED: "0" accepts packages\' non-cgo fallbacks)',
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
  lambdaInclude:
    "Python only: globs (relative to tug.yaml) of further files for the zip, for what imports cannot show: modules loaded by importlib.import_module(name), data read by path; included .py files have their imports followed",
  lambdaMinify: "Node.js lambdas: minify the bundle (default false)",
  lambdaSourcemap:
    "Node.js lambdas: write a source map next to the bundle and set NODE_OPTIONS=--enable-source-maps (default false)",
  lambdaExternal:
    "Node.js lambdas: packages left out of the bundle and of the zip because the runtime or a layer provides them (@aws-sdk/* always is); PKG/* matches subpaths",
  lambdaNative:
    "Node.js lambdas: packages left out of the bundle and installed for linux and the lambda's architecture into node_modules/ (packages with binding.gyp or prebuilt .node files are found without this)",
} as const;
