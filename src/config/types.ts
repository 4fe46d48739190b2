import type { IgnoreSettings } from "../engine/ignore-rules.ts";
import type { Platform } from "../oci/types.ts";
import type { PythonTarget } from "../python/runtime.ts";
import type { BaseRef } from "./base.ts";

export type { Platform } from "../oci/types.ts";
export type { BaseRef } from "./base.ts";

export type Compression = { kind: "gzip"; level: number } | { kind: "none" };

/** Settings every builder shares, normalised: absolute host paths, parsed base and platforms. */
export interface TargetCommon {
  /** Image name, the key under `images:`. */
  name: string;
  /** Ready for TugError's `where`, e.g. `images.web (tug.yaml:9)`. */
  where: string;
  /** Absolute directory; loadProject checked that it exists. */
  context: string;
  base: BaseRef;
  /** At least one; the host's linux platform when tug.yaml names none. */
  platforms: Platform[];
  env: Record<string, string>;
  entrypoint?: string[];
  cmd?: string[];
  workdir?: string;
  user?: string;
  /** In image-config form: "8080/tcp", "53/udp". */
  ports: string[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Unset: gzip at the destination's default level (1 for local outputs and loopback registries, 6 otherwise). */
  compression?: Compression;
  /** At least one; default ["latest"]. */
  tags: string[];
  /** Which context files are inputs besides .dockerignore/.tugignore (default: git on, no patterns). */
  ignore?: IgnoreSettings;
  /** Extra layers after the builder's (`layers:`), in order; absent when none. */
  layers?: ExtraLayer[];
  /** `tug dev` settings; undefined when the image has no `dev:` block. */
  dev?: DevConfig;
  /** False: skip the build-time check that the entrypoint's executable is in the image. */
  entrypointCheck?: boolean;
}

/** One `layers:` entry: a context directory or file copied to an absolute path in the image. */
export interface ExtraLayer {
  /** Relative to context, '/'-separated, no leading "./"; "" is the whole context. */
  from: string;
  /** Absolute, normalised (no trailing '/', no "." segments). */
  to: string;
}

export type DevRuntimeName = "local" | "podman" | "docker" | "kube-play" | "kubernetes";

/** The `dev:` block, normalised: live_update steps split by kind, in their written order. */
export interface DevConfig {
  runtime: DevRuntimeName;
  port?: number;
  readyLog?: string;
  /** Globs relative to context; a match means rebuild + redeploy. */
  fallBackOn: string[];
  /** `from` is relative to context with a trailing '/' for directories; `to` is absolute in the image. */
  sync: Array<{ from: string; to: string }>;
  run: Array<{ cmd: string; when?: string[] }>;
  restart: boolean;
  namespace?: string;
  selector?: string;
  /** Absolute paths. */
  manifests: string[];
}

export interface GoTarget extends TargetCommon {
  builder: "go";
  /** Package to build relative to context, as written ("." or "./cmd/x"). */
  main: string;
  /** Passed to `go build -ldflags` joined by spaces; empty when unset. */
  ldflags: string[];
  /** Binary name (tug.yaml `name:`), default the target name. */
  binary: string;
  /** Extra `go build` flags (also given to `go list`), e.g. ["-mod=vendor", "-gcflags=all=-N"]. */
  flags: string[];
  /** Build tags (tug.yaml `build_tags:`), passed as one `-tags=a,b`. */
  buildTags: string[];
  /** Build environment (tug.yaml `build_env:`), e.g. GOEXPERIMENT; never GOOS/GOARCH/GOARM/CGO_ENABLED. */
  buildEnv: Record<string, string>;
}

export interface NodeTarget extends TargetCommon {
  builder: "node";
  /** Relative to context, '/'-separated, checked to exist. */
  entry: string;
  external: string[];
  /** Target Node.js version as a string, e.g. "20". */
  node: string;
  /** False: ship the sources unbundled with a node_modules layer from the lockfile. */
  bundle: boolean;
}

export interface FilesTarget extends TargetCommon {
  builder: "files";
  /** Absolute path in the image. */
  dest: string;
}

export interface CommandTarget extends TargetCommon {
  builder: "command";
  /** argv; a string in tug.yaml becomes ["sh", "-c", string]. Runs with cwd = context. */
  run: string[];
  /** Absolute host directory the command writes. */
  output: string;
  /** Absolute path in the image, default "/". */
  dest: string;
  /** Paths/globs relative to context that key the action; default ["."] (the whole context). */
  inputs: string[];
}

export interface PythonImageTarget extends TargetCommon {
  builder: "python";
  /** Absolute path of the requirements source (requirements.txt, pyproject.toml or uv.lock); undefined: no dependencies. */
  requirements?: string;
  /** `python -m MODULE`; exactly one of module and command is set. */
  module?: string;
  command?: string[];
  /** `python_version:` [major, minor]; undefined: read from the base (its python3). */
  python?: readonly [number, number];
  /** `python_version:` with its patch ("3.11.9"); undefined: the base's, when it says. */
  pythonFullVersion?: string;
  /** `glibc:`, the manylinux ceiling; undefined: read from the base's libc.so.6. */
  glibc?: string;
  /** Absolute directories whose files land at /app relative to them (like lambdas' python.source_roots). */
  sourceRoots: string[];
  /** `index_url:`; the builder picks the indexes with the requirements file's --index-url lines and TUG/PIP/UV_INDEX_URL, as lambdas do. */
  indexUrl?: string;
  extraIndexUrls: string[];
}

export type ImageTarget = GoTarget | NodeTarget | FilesTarget | CommandTarget | PythonImageTarget;

export interface Project {
  /** Absolute path of tug.yaml; undefined for a zero-config project. */
  file: string | undefined;
  /** Absolute directory that relative paths resolve against. */
  dir: string;
  repo?: string;
  cache?: { remote?: string };
  targets: ImageTarget[];
  /** `lambdas:` from tug.yaml; absent or empty when there are none. */
  lambdas?: LambdaTarget[];
  /** `layers:` from tug.yaml; absent or empty when there are none. */
  layers?: PythonLayerTarget[];
  /** `python:` settings, normalised; set whenever there are lambdas. */
  python?: PythonSettings;
}

export type LambdaTarget = PythonLambdaTarget | NodeLambdaTarget;

export interface PythonLambdaTarget {
  language: "python";
  /** The key under `lambdas:`. */
  name: string;
  /** Ready for TugError's `where`, e.g. `lambdas.echo (tug.yaml:9)`. */
  where: string;
  runtime: PythonTarget;
  /** Absolute path of the handler's file. */
  handlerFile: string;
  handlerFunction: string;
  /** As AWS wants it: "lambdas/echo.handler". */
  awsHandler: string;
  /** Names of the `layers:` this function runs with (checked to exist and to fit its runtime). */
  layers: string[];
  /** How the zip reaches Lambda: `direct` has the 50 MB zipped limit, `s3` only 250 MB unzipped. */
  upload: LambdaUpload;
  /** `include:` globs relative to the project directory: files imports cannot show (importlib, data). */
  include: string[];
}

export type LambdaUpload = "direct" | "s3";

/** A `layers:` entry: distributions packaged under `python/` for one runtime and architecture. */
export interface PythonLayerTarget {
  name: string;
  where: string;
  runtime: PythonTarget;
  /** PEP 508 requirement lines as written. */
  requirements: string[];
  upload: LambdaUpload;
}

export interface PythonSettings {
  /** tug.yaml's index_url; unset means TUG_INDEX_URL, else PyPI (read at build time: the env is not part of the project). */
  indexUrl?: string;
  extraIndexUrls: string[];
  /** Absolute path. */
  requirementsFile: string;
  /** Absolute paths searched for first-party modules after the project root. */
  sourceRoots: string[];
  /** Normalised distribution name → top-level modules, over the built-in table. */
  moduleMapping: Record<string, string[]>;
  unknownImports: "warn" | "error";
  strip: { tests: boolean; pyi: boolean; docs: boolean };
}

/** A `nodejs*` lambda: bundled with esbuild for the runtime's Node version. */
export interface NodeLambdaTarget {
  language: "node";
  /** The key under `lambdas:`. */
  name: string;
  /** Ready for TugError's `where`, e.g. `lambdas.api (tug.yaml:12)`. */
  where: string;
  runtime: NodeRuntime;
  /** Absolute path of the handler's file (.ts, .js, .mjs, …). */
  handlerFile: string;
  handlerFunction: string;
  /** As AWS wants it: "src/api.handler". */
  awsHandler: string;
  minify: boolean;
  /** Write `FILE.js.map` next to the bundle and set NODE_OPTIONS=--enable-source-maps in the metadata. */
  sourcemap: boolean;
  /** Left out of the bundle and of the zip (the runtime or a layer provides them), besides `@aws-sdk/*`. */
  external: string[];
  /** Left out of the bundle and installed for the target's os/cpu into the zip's node_modules. */
  native: string[];
}

export interface NodeRuntime {
  /** nodejs18.x … nodejs22.x */
  runtime: string;
  /** 18, 20, 22 */
  major: number;
  arch: "x86_64" | "arm64";
}
