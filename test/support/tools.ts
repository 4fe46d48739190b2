// Wrappers around the real tools the tests verify tug's output with: skopeo, umoci, podman, go.
// Every call goes through execFile (no shell) and fails with the command line and its stderr.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, readlink, rm, statfs, symlink, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import type { TestContext } from "node:test";

export interface ToolResult {
  stdout: string;
  stderr: string;
  code: number;
}

export class ToolError extends Error {
  constructor(
    message: string,
    readonly result: ToolResult,
  ) {
    super(message);
    this.name = "ToolError";
  }
}

export interface RunToolOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Return a non-zero exit as a result instead of throwing. */
  allowFailure?: boolean;
}

interface ExecFailure {
  code?: number | string;
  killed?: boolean;
  signal?: string | null;
  stdout?: string;
  stderr?: string;
}

const hints: Record<string, string> = {
  skopeo: "skopeo",
  umoci: "umoci",
  podman: "podman",
  go: "golang-go",
  ldd: "libc-bin",
};

/** Runs `cmd args` without a shell; throws a ToolError naming the command and its stderr. */
export function runTool(cmd: string, args: string[], opts: RunToolOptions = {}): Promise<ToolResult> {
  const line = [cmd, ...args].join(" ");
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      {
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        timeout: opts.timeoutMs ?? 120_000,
        killSignal: "SIGKILL",
        maxBuffer: 256 * 1024 * 1024,
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        if (!error) return resolve({ stdout, stderr, code: 0 });
        const e = error as ExecFailure;
        const result = { stdout, stderr, code: typeof e.code === "number" ? e.code : -1 };
        if (e.code === "ENOENT") {
          const pkg = hints[cmd] ?? cmd;
          return reject(
            new ToolError(`${cmd} is not installed (Debian package ${pkg}); run scripts/ci-deps.sh`, result),
          );
        }
        if (e.killed || e.signal) {
          const why = e.killed ? `timed out after ${opts.timeoutMs ?? 120_000} ms` : `killed by ${e.signal}`;
          return reject(new ToolError(`${line}\n${why}\nstderr:\n${tail(stderr)}`, result));
        }
        if (opts.allowFailure && typeof e.code === "number") return resolve(result);
        reject(new ToolError(`${line}\nexited ${String(e.code)}\nstderr:\n${tail(stderr)}`, result));
      },
    );
  });
}

function tail(text: string, max = 4000): string {
  const t = text.trimEnd();
  return t.length > max ? `…${t.slice(-max)}` : t;
}

// ---------------------------------------------------------------------------------------------
// skopeo

export interface RawDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

/** A manifest or an index as skopeo returns it; which fields exist depends on `mediaType`. */
export interface RawManifest {
  schemaVersion: number;
  mediaType?: string;
  config?: RawDescriptor;
  layers?: RawDescriptor[];
  manifests?: RawDescriptor[];
  annotations?: Record<string, string>;
}

export interface RawImageConfig {
  architecture: string;
  os: string;
  created?: string;
  config?: {
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    User?: string;
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: Array<Record<string, unknown>>;
}

export interface SkopeoOptions {
  /** TLS verification for docker:// references; off unless set to true (tests use local HTTP registries). */
  tlsVerify?: boolean;
  /** Extra flags such as `--creds user:pass` or `--authfile FILE`. */
  extraArgs?: string[];
}

function tlsFlag(ref: string, flag: string, opts: SkopeoOptions): string[] {
  return ref.startsWith("docker://") ? [`${flag}=${opts.tlsVerify === true}`] : [];
}

/** The manifest (or index) stored at `ref`, e.g. `docker://127.0.0.1:5000/repo:tag` or `oci:DIR:tag`. */
export async function skopeoInspectRaw(ref: string, opts: SkopeoOptions = {}): Promise<RawManifest> {
  const args = ["inspect", "--raw", ...tlsFlag(ref, "--tls-verify", opts), ...(opts.extraArgs ?? []), ref];
  return parseJson<RawManifest>(await runTool("skopeo", args), "skopeo inspect --raw");
}

/** The image config blob of the image at `ref` (for a multi-arch index: the host platform's). */
export async function skopeoInspectConfig(ref: string, opts: SkopeoOptions = {}): Promise<RawImageConfig> {
  const args = [
    "inspect",
    "--config",
    "--raw",
    ...tlsFlag(ref, "--tls-verify", opts),
    ...(opts.extraArgs ?? []),
    ref,
  ];
  return parseJson<RawImageConfig>(await runTool("skopeo", args), "skopeo inspect --config --raw");
}

export interface SkopeoCopyOptions extends SkopeoOptions {
  /** Copy every image of an index, not only the host platform's. */
  all?: boolean;
}

export async function skopeoCopy(src: string, dst: string, opts: SkopeoCopyOptions = {}): Promise<void> {
  await runTool(
    "skopeo",
    [
      "copy",
      "--quiet",
      ...(opts.all ? ["--all"] : []),
      ...tlsFlag(src, "--src-tls-verify", opts),
      ...tlsFlag(dst, "--dest-tls-verify", opts),
      ...(opts.extraArgs ?? []),
      src,
      dst,
    ],
    { timeoutMs: 300_000 },
  );
}

function parseJson<T>(r: ToolResult, what: string): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch (e) {
    throw new ToolError(`${what} printed no JSON (${(e as Error).message}):\n${tail(r.stdout)}`, r);
  }
}

// ---------------------------------------------------------------------------------------------
// umoci

function rootlessFlag(): string[] {
  return process.getuid?.() === 0 ? [] : ["--rootless"];
}

/** Unpacks `layoutDir:tag` into the runtime bundle `bundleDir` (must not exist yet); returns its rootfs. */
export async function umociUnpack(layoutDir: string, tag: string, bundleDir: string): Promise<string> {
  await runTool("umoci", ["unpack", ...rootlessFlag(), "--image", `${layoutDir}:${tag}`, bundleDir], {
    timeoutMs: 300_000,
  });
  return join(bundleDir, "rootfs");
}

/**
 * Every path under `root` as the image sees it, sorted: directories end in "/", symlinks read
 * "/bin/sh -> busybox". Meant for `assert.ok(tree.includes("/bin/busybox"))`.
 */
export async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      const path = `/${relative(root, full)}`;
      if (e.isDirectory()) {
        out.push(`${path}/`);
        await walk(full);
      } else if (e.isSymbolicLink()) {
        out.push(`${path} -> ${await readlink(full)}`);
      } else {
        out.push(path);
      }
    }
  };
  await walk(root);
  return out.sort();
}

// ---------------------------------------------------------------------------------------------
// podman

/**
 * A private podman store: its own graph root, run root, temp dir, lock files and config, so
 * parallel tests never share podman state and nothing is left in /var/lib/containers.
 */
export interface PodmanStore {
  dir: string;
  /** Global flags to put before the podman subcommand. */
  args: string[];
  env: NodeJS.ProcessEnv;
  dispose(): Promise<void>;
}

// statfs magic of overlayfs: the kernel overlay driver cannot stack on it, vfs (full copies) can.
const OVERLAYFS_MAGIC = 0x794c7630;

async function storageDriver(dir: string): Promise<string> {
  const forced = process.env.TUG_TEST_PODMAN_STORAGE_DRIVER;
  if (forced) return forced;
  return (await statfs(dir)).type === OVERLAYFS_MAGIC ? "vfs" : "overlay";
}

/** Makes a private podman store; with `t`, it is removed (and its containers killed) when `t` ends. */
export async function podmanStore(t?: TestContext): Promise<PodmanStore> {
  // Short names: conmon's attach socket path under the temp dir must stay below 108 bytes.
  // Lowercase only: podman names an image pulled from `oci:PATH` after PATH (see imageRef).
  const base = /^[a-z0-9/._-]+$/.test(tmpdir()) ? tmpdir() : "/tmp";
  const dir = join(base, `tugpm-${randomBytes(6).toString("hex")}`);
  await mkdir(dir);
  const driver = await storageDriver(dir);
  for (const d of ["root", "run", "tmp", "copy", "img"]) await mkdir(join(dir, d));
  // The default SHM lock segment (/dev/shm/libpod_lock) is shared by every podman on the
  // machine, and a fresh store "refreshes" it on first use, freeing locks other stores hold.
  // File locks live in the store's own tmp dir instead.
  await writeFile(
    join(dir, "containers.conf"),
    [
      "[engine]",
      'lock_type = "file"',
      'events_logger = "file"',
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      `image_copy_tmp_dir = "${join(dir, "copy")}"`,
      "",
    ].join("\n"),
  );
  await writeFile(
    join(dir, "storage.conf"),
    [
      "[storage]",
      `driver = "${driver}"`,
      `graphroot = "${join(dir, "root")}"`,
      `runroot = "${join(dir, "run")}"`,
      "",
    ].join("\n"),
  );
  const args = [
    "--root",
    join(dir, "root"),
    "--runroot",
    join(dir, "run"),
    "--tmpdir",
    join(dir, "tmp"),
    "--storage-driver",
    driver,
    "--runtime",
    "runc",
    "--cgroup-manager=cgroupfs",
    "--events-backend=file",
  ];
  const env = {
    ...process.env,
    CONTAINERS_CONF: join(dir, "containers.conf"),
    CONTAINERS_STORAGE_CONF: join(dir, "storage.conf"),
    TMPDIR: join(dir, "copy"),
  };
  let disposed = false;
  const store: PodmanStore = {
    dir,
    args,
    env,
    async dispose() {
      if (disposed) return;
      disposed = true;
      await runTool("podman", [...args, "rm", "--all", "--force", "--time", "0"], {
        env,
        allowFailure: true,
        timeoutMs: 60_000,
      }).catch(() => undefined);
      // Unmounts any layer a crashed container left mounted, so the tree can be deleted.
      await runTool("podman", [...args, "umount", "--all", "--force"], { env, allowFailure: true }).catch(
        () => undefined,
      );
      // The overlay driver bind-mounts its home onto itself and podman usually, not always,
      // undoes that on exit; a mount left behind makes rm fail with EBUSY.
      for (const m of await mountsUnder(dir)) {
        await runTool("umount", ["--lazy", m], { allowFailure: true }).catch(() => undefined);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  t?.after(() => store.dispose());
  return store;
}

/** Mount points at or below `dir`, deepest first (mountinfo field 5; spaces come octal-escaped). */
async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
  return info
    .split("\n")
    .map((l) =>
      (l.split(" ")[4] ?? "").replace(/\\([0-7]{3})/g, (_, o: string) =>
        String.fromCharCode(Number.parseInt(o, 8)),
      ),
    )
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

export interface PodmanRunOptions {
  /** TLS verification when pulling a docker:// (or bare registry) reference; off by default. */
  tlsVerify?: boolean;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Reuse a store (pulled images stay cached); by default each call gets a fresh one. */
  store?: PodmanStore;
  /** Overrides the image's entrypoint; "" clears it. */
  entrypoint?: string;
  workdir?: string;
  user?: string;
  /** `none` unless set (a detached container with published ports defaults to slirp4netns). */
  network?: string;
  /** More `podman run` flags, placed before the image. */
  extraArgs?: string[];
}

// runc here may not raise rlimits above the sandbox's own hard limits; podman's defaults do,
// and then fail with "error setting rlimit type 7: operation not permitted".
const RUN_FLAGS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

function runFlags(image: string, opts: PodmanRunOptions, network: string): string[] {
  const flags = ["--quiet", "--pull=always", `--network=${network}`, ...RUN_FLAGS];
  const transport = /^(oci|oci-archive|docker-archive|dir|containers-storage|docker-daemon):/.exec(
    image,
  )?.[1];
  const pullsFromRegistry = transport === undefined;
  if (pullsFromRegistry) flags.push(`--tls-verify=${opts.tlsVerify === true}`);
  for (const [k, v] of Object.entries(opts.env ?? {})) flags.push("--env", `${k}=${v}`);
  if (opts.entrypoint !== undefined) flags.push(`--entrypoint=${opts.entrypoint}`);
  if (opts.workdir) flags.push("--workdir", opts.workdir);
  if (opts.user) flags.push("--user", opts.user);
  flags.push(...(opts.extraArgs ?? []));
  return flags;
}

let linkCount = 0;

/**
 * podman names an image pulled from `oci:PATH:TAG` "localhost/PATH" and refuses a PATH with
 * upper-case letters (mkdtemp makes those). A lowercase symlink in the store stands in for it.
 */
async function imageRef(store: PodmanStore, image: string): Promise<string> {
  const m = /^oci:([^:]+)(:.*)?$/.exec(image);
  if (!m?.[1]) return image;
  const link = join(store.dir, "img", `i${++linkCount}`);
  await symlink(resolve(m[1]), link);
  return `oci:${link}${m[2] ?? ""}`;
}

/**
 * Runs `image` (`docker://HOST:PORT/repo:tag`, `oci:DIR:tag`, `oci-archive:FILE`,
 * `docker-archive:FILE`, …) with `args` and returns what it printed and its exit code. A
 * non-zero exit of the container is returned; podman's own failures (exit 125) throw.
 */
export async function podmanRun(
  image: string,
  args: string[],
  opts: PodmanRunOptions = {},
): Promise<ToolResult> {
  const store = opts.store ?? (await podmanStore());
  try {
    const r = await runTool(
      "podman",
      [
        ...store.args,
        "run",
        "--rm",
        ...runFlags(image, opts, opts.network ?? "none"),
        await imageRef(store, image),
        ...args,
      ],
      { env: store.env, timeoutMs: opts.timeoutMs ?? 180_000, allowFailure: true },
    );
    if (r.code === 125) {
      throw new ToolError(`podman could not run ${image} ${args.join(" ")}:\n${tail(r.stderr)}`, r);
    }
    return r;
  } finally {
    if (!opts.store) await store.dispose();
  }
}

export interface PodmanDetachedOptions extends PodmanRunOptions {
  /** Container ports to publish on 127.0.0.1; each gets a free host port (see `ports`). */
  publish?: number[];
}

export interface RunningContainer {
  id: string;
  /** Container port → host port on 127.0.0.1. */
  ports: Record<number, number>;
  exec(args: string[], opts?: { timeoutMs?: number }): Promise<ToolResult>;
  logs(): Promise<string>;
  /** Kills and removes the container; safe to call twice. Also runs when the test ends. */
  stop(): Promise<void>;
}

/**
 * Starts `image` in the background (a service under test). Published ports use slirp4netns:
 * it needs no host bridge or iptables rules. The container and its store go when `t` ends.
 */
export async function podmanRunDetached(
  t: TestContext,
  image: string,
  args: string[],
  opts: PodmanDetachedOptions = {},
): Promise<RunningContainer> {
  const own = !opts.store;
  const store = opts.store ?? (await podmanStore());
  const ports: Record<number, number> = {};
  const publish: string[] = [];
  for (const p of opts.publish ?? []) {
    ports[p] = await freePort();
    publish.push("--publish", `127.0.0.1:${ports[p]}:${p}`);
  }
  const network = opts.network ?? (publish.length ? "slirp4netns" : "none");
  let id = "";
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (id) {
      await runTool("podman", [...store.args, "rm", "--force", "--time", "0", id], {
        env: store.env,
        allowFailure: true,
      });
    }
    if (own) await store.dispose();
  };
  t.after(stop);
  const r = await runTool(
    "podman",
    [
      ...store.args,
      "run",
      "--detach",
      ...runFlags(image, opts, network),
      ...publish,
      await imageRef(store, image),
      ...args,
    ],
    { env: store.env, timeoutMs: opts.timeoutMs ?? 180_000 },
  );
  id = r.stdout.trim().split("\n").pop() ?? "";
  return {
    id,
    ports,
    exec: (cmd, o) =>
      runTool("podman", [...store.args, "exec", id, ...cmd], {
        env: store.env,
        allowFailure: true,
        timeoutMs: o?.timeoutMs ?? 60_000,
      }),
    logs: async () => {
      const l = await runTool("podman", [...store.args, "logs", id], { env: store.env, allowFailure: true });
      return l.stdout + l.stderr;
    },
    stop,
  };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** GETs `url` until it answers (any status) or `timeoutMs` passes; returns status and body. */
export async function waitForHttp(
  url: string,
  opts: { timeoutMs?: number /** Trust this CA (PEM file) for an https URL. */; caPath?: string } = {},
): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  const ca = opts.caPath ? await readFile(opts.caPath, "utf8") : undefined;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (ca) return await httpsGet(url, ca);
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      return { status: res.status, body: await res.text() };
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not answer within ${opts.timeoutMs ?? 15_000} ms: ${String(last)}`);
}

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // A readiness probe: the CA must sign the certificate, but it may name another address
    // (tests of hostname checks serve such certificates on purpose).
    const req = httpsRequest(url, { ca, timeout: 2_000, checkServerIdentity: () => undefined }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// go

/**
 * Builds the Go package in `srcDir` into a static, stripped binary at `out` (no cgo, so it runs
 * FROM scratch). Uses a module-less build when `srcDir` has no go.mod.
 */
export async function goBuildStatic(srcDir: string, out: string): Promise<string> {
  const cacheRoot = join(tmpdir(), "tug-test-gocache");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CGO_ENABLED: "0",
    GO111MODULE: "auto",
    GOPROXY: "off",
    GOCACHE: process.env.GOCACHE ?? join(cacheRoot, "build"),
    GOPATH: process.env.GOPATH ?? join(cacheRoot, "path"),
  };
  const files = (await readdir(srcDir)).filter((f) => f.endsWith(".go") && !f.endsWith("_test.go"));
  const hasMod = (await readdir(srcDir)).includes("go.mod");
  await runTool("go", ["build", "-trimpath", "-ldflags=-s -w", "-o", out, ...(hasMod ? ["."] : files)], {
    cwd: srcDir,
    env,
    timeoutMs: 300_000,
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// buildah

/**
 * `buildah bud` of `dockerfile` on `context` in a private store (chroot isolation: no RUN needs
 * a runtime here), pushed to the OCI layout `out` as `out:latest`, which podman runs as
 * `oci:OUT:latest`. The store goes when `t` ends.
 */
export async function buildahBud(
  t: TestContext,
  o: { dockerfile: string; context: string; out: string },
): Promise<string> {
  const store = await podmanStore(t);
  const driver = store.args[store.args.indexOf("--storage-driver") + 1] ?? "vfs";
  const global = [
    "--root",
    join(store.dir, "root"),
    "--runroot",
    join(store.dir, "run"),
    "--storage-driver",
    driver,
  ];
  const tag = `localhost/tug-compare-${randomBytes(4).toString("hex")}:latest`;
  const opts = { env: store.env, timeoutMs: 600_000 };
  await runTool(
    "buildah",
    [...global, "bud", "--isolation", "chroot", "-f", o.dockerfile, "-t", tag, o.context],
    opts,
  );
  await runTool("buildah", [...global, "push", tag, `oci:${o.out}:latest`], opts);
  return `oci:${o.out}:latest`;
}
