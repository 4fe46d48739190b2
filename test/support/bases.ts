// Base images the tests build FROM, made with umoci alone so that no tug code is trusted to make
// the things tug is checked against. Each base is built once per content and cached in the OS
// temp dir; callers get a cheap hard-linked copy of the cached OCI layout.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import {
  chmod,
  copyFile,
  link,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { runTool } from "./tools.ts";

export interface Base {
  /** OCI image layout directory. */
  layout: string;
  tag: string;
  /** `oci:LAYOUT:TAG`, what skopeo and podman take. */
  ref: string;
}

export interface ImageSpec {
  /** Start from this image (its layers and config) instead of scratch. */
  from?: Base;
  /** Host files copied in (content only; `mode` defaults to the host file's permission bits). */
  files?: Array<{ from: string; to: string; mode?: number }>;
  /** Files written from memory. */
  contents?: Array<{ to: string; data: string | Buffer; mode?: number }>;
  symlinks?: Array<{ path: string; target: string }>;
  dirs?: Array<{ path: string; mode?: number }>;
  config?: { entrypoint?: string[]; cmd?: string[]; env?: string[]; workdir?: string };
}

// Bumped when a recipe below changes, so stale cached bases are not reused.
const RECIPE_VERSION = "1";

/**
 * Builds `layout:tag` (`layout` must not exist yet) with umoci: `spec.from` or an empty image
 * (FROM scratch), plus one layer holding `spec`'s files. Not cached; for a fixture such as a
 * static binary on scratch.
 */
export async function makeImage(layout: string, tag: string, spec: ImageSpec): Promise<Base> {
  const work = await mkdtemp(join(tmpdir(), "tug-umoci-"));
  try {
    if (spec.from) {
      await copyTree(spec.from.layout, layout);
      if (spec.from.tag !== tag) {
        await runTool("umoci", ["tag", "--image", `${layout}:${spec.from.tag}`, tag]);
      }
    } else {
      await runTool("umoci", ["init", "--layout", layout]);
      await runTool("umoci", ["new", "--image", `${layout}:${tag}`]);
    }
    const bundle = join(work, "bundle");
    await runTool("umoci", ["unpack", ...rootless(), "--image", `${layout}:${tag}`, bundle]);
    await fill(join(bundle, "rootfs"), spec);
    await runTool("umoci", ["repack", "--image", `${layout}:${tag}`, bundle], { timeoutMs: 600_000 });
    const c = spec.config ?? {};
    const args = ["config", "--image", `${layout}:${tag}`];
    for (const e of c.entrypoint ?? []) args.push("--config.entrypoint", e);
    for (const e of c.cmd ?? []) args.push("--config.cmd", e);
    for (const e of c.env ?? []) args.push("--config.env", e);
    if (c.workdir) args.push("--config.workingdir", c.workdir);
    if (args.length > 4) await runTool("umoci", args);
    // `config` leaves the pre-config manifest and config blobs behind.
    await runTool("umoci", ["gc", "--layout", layout]);
    return { layout, tag, ref: `oci:${layout}:${tag}` };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function rootless(): string[] {
  return process.getuid?.() === 0 ? [] : ["--rootless"];
}

async function fill(rootfs: string, spec: ImageSpec): Promise<void> {
  const inside = (p: string) => join(rootfs, p);
  for (const d of spec.dirs ?? []) {
    await mkdir(inside(d.path), { recursive: true });
    if (d.mode !== undefined) await chmod(inside(d.path), d.mode);
  }
  for (const f of spec.files ?? []) {
    await mkdir(dirname(inside(f.to)), { recursive: true });
    await copyFile(f.from, inside(f.to));
    await chmod(inside(f.to), f.mode ?? (await stat(f.from)).mode & 0o7777);
  }
  for (const f of spec.contents ?? []) {
    await mkdir(dirname(inside(f.to)), { recursive: true });
    await writeFileMode(inside(f.to), f.data, f.mode ?? 0o644);
  }
  for (const s of spec.symlinks ?? []) {
    await mkdir(dirname(inside(s.path)), { recursive: true });
    await symlink(s.target, inside(s.path));
  }
}

async function writeFileMode(path: string, data: string | Buffer, mode: number): Promise<void> {
  await writeFile(path, data);
  await chmod(path, mode);
}

const cacheRoot = join(tmpdir(), "tug-test-bases");
const building = new Map<string, Promise<string>>();

/**
 * The layout for `name` at `key`, built by `spec()` on the first call on this machine. Another
 * process may build the same key at the same time: each builds aside and renames into place,
 * and the loser throws its copy away.
 */
function cachedLayout(name: string, key: string, spec: () => Promise<ImageSpec>): Promise<string> {
  const final = join(cacheRoot, `${name}-${key.slice(0, 24)}`);
  let p = building.get(final);
  if (!p) {
    p = (async () => {
      if (await exists(join(final, "index.json"))) return final;
      await mkdir(cacheRoot, { recursive: true });
      const aside = await mkdtemp(join(cacheRoot, `.${name}-`));
      try {
        await makeImage(join(aside, "layout"), "latest", await spec());
        await renameUnlessThere(join(aside, "layout"), final);
        return final;
      } finally {
        await rm(aside, { recursive: true, force: true });
      }
    })();
    building.set(final, p);
    p.catch(() => building.delete(final));
  }
  return p;
}

/** Renames `from` to `to`; another process having put `to` there first is fine (same content). */
async function renameUnlessThere(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw e;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A copy of a cached layout at `dir` (blobs hard-linked: they are immutable), or the cache itself. */
async function deliver(cached: string, dir: string | undefined): Promise<Base> {
  if (!dir) return { layout: cached, tag: "latest", ref: `oci:${cached}:latest` };
  await copyTree(cached, dir);
  return { layout: dir, tag: "latest", ref: `oci:${dir}:latest` };
}

async function copyTree(from: string, to: string, inBlobs = false): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const e of await readdir(from, { withFileTypes: true })) {
    const src = join(from, e.name);
    const dst = join(to, e.name);
    if (e.isDirectory()) await copyTree(src, dst, inBlobs || e.name === "blobs");
    // Blobs are content-addressed and never rewritten in place, so sharing their inodes is safe;
    // index.json is copied because tools that add a tag rewrite it.
    else if (inBlobs) await link(src, dst).catch(() => copyFile(src, dst));
    else await copyFile(src, dst);
  }
}

async function hashFiles(parts: string[], files: string[]): Promise<string> {
  const h = createHash("sha256");
  for (const p of parts) h.update(`${p}\0`);
  for (const f of files) {
    h.update(`${f}\0`);
    for await (const chunk of createReadStream(f)) h.update(chunk as Buffer);
  }
  return h.digest("hex");
}

// ---------------------------------------------------------------------------------------------

const BUSYBOX = "/bin/busybox";
const APPLETS = [
  "sh",
  "ash",
  "httpd",
  "wget",
  "cat",
  "ls",
  "echo",
  "env",
  "mkdir",
  "rm",
  "cp",
  "mv",
  "touch",
  "sleep",
  "test",
  "[",
  "true",
  "false",
  "grep",
  "sed",
  "id",
  "pwd",
  "ps",
  "kill",
  "hostname",
  "uname",
  "nc",
];
const PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * A busybox image: static /bin/busybox (Debian busybox-static) with applet symlinks in /bin,
 * /tmp, /srv/www and Cmd ["sh"]. `/bin/httpd -f -p 8080 -h /srv/www` serves from it.
 */
export async function makeBusyboxBase(dir?: string): Promise<Base> {
  const key = await hashFiles([RECIPE_VERSION, ...APPLETS], [BUSYBOX]);
  const cached = await cachedLayout("busybox", key, async () => ({
    dirs: [
      { path: "/tmp", mode: 0o1777 },
      { path: "/srv/www", mode: 0o755 },
    ],
    files: [{ from: BUSYBOX, to: "/bin/busybox", mode: 0o755 }],
    symlinks: APPLETS.map((a) => ({ path: `/bin/${a}`, target: "busybox" })),
    contents: [
      {
        to: "/etc/passwd",
        data: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
      },
      { to: "/etc/group", data: "root:x:0:\nnogroup:x:65534:\n" },
    ],
    config: { env: [PATH], cmd: ["sh"] },
  }));
  return deliver(cached, dir);
}

/**
 * The machine's own node binary at /usr/local/bin/node plus every library `ldd` lists (at the
 * same paths, dynamic loader included), Env PATH set, no Entrypoint or Cmd.
 */
export async function makeNodeBase(dir?: string): Promise<Base> {
  const node = await realpath(process.execPath);
  const libs = await sharedLibraries(node);
  const key = await hashFiles(
    [RECIPE_VERSION, process.version, ...libs.map((l) => l.path)],
    [node, ...libs.map((l) => l.file)],
  );
  const cached = await cachedLayout("node", key, async () => ({
    dirs: [{ path: "/tmp", mode: 0o1777 }],
    files: [
      { from: node, to: "/usr/local/bin/node", mode: 0o755 },
      ...libs.map((l) => ({ from: l.file, to: l.path })),
    ],
    config: { env: [PATH] },
  }));
  return deliver(cached, dir);
}

// Parts of the standard library no service imports: tests, GUI, build configuration, pip.
const PYTHON_STDLIB_SKIP =
  /^(test|tests|idlelib|tkinter|turtledemo|ensurepip|lib2to3|site-packages|config-[^/]*|__pycache__)$/;

/**
 * The machine's own `python3`: its binary, its standard library (without tests, GUI and
 * site-packages) and every library `ldd` lists for the binary and the stdlib's extension
 * modules, all at their host paths (CPython finds its prefix from the binary's real path), plus
 * /usr/local/bin/python3 pointing at it, the glibc libraries manylinux wheels may link (MANYLINUX_LIBS), and /usr/bin/env (static busybox). Env PATH set, no Entrypoint or Cmd. `version` is the
 * interpreter's "3.11.7"; `glibc` the host's "2.36".
 */
export async function makePythonBase(dir?: string): Promise<Base & { version: string; glibc: string }> {
  const probe = await runTool("python3", [
    "-c",
    "import os, platform, sys, sysconfig; print(os.path.realpath(sys.executable)); print(sysconfig.get_paths()['stdlib']); print(platform.python_version()); print(platform.libc_ver()[1])",
  ]);
  const [binary = "", stdlib = "", version = "", glibc = ""] = probe.stdout.trim().split("\n");
  const stdlibFiles = await filesUnder(stdlib, (name) => PYTHON_STDLIB_SKIP.test(name));
  const modules = stdlibFiles.filter((f) => f.endsWith(".so"));
  const libs = new Map<string, string>();
  for (const bin of [binary, ...modules])
    for (const l of await sharedLibraries(bin)) libs.set(l.path, l.file);
  // The system libraries manylinux wheels may link, beside libc, as a slim Python base has them
  // (tug refuses an image whose extension needs a library it lacks).
  const libcDir = dirname([...libs.keys()].find((p) => basename(p) === "libc.so.6") ?? "/lib/libc.so.6");
  for (const name of MANYLINUX_LIBS) {
    const path = join(libcDir, name);
    const file = await realpath(path).catch(() => undefined);
    if (file && !libs.has(path)) libs.set(path, file);
  }
  const key = await hashFiles(
    [RECIPE_VERSION, version, "env", ...libs.keys(), ...stdlibFiles],
    [binary, BUSYBOX, ...modules, ...libs.values()],
  );
  const cached = await cachedLayout("python", key, async () => ({
    dirs: [{ path: "/tmp", mode: 0o1777 }],
    files: [
      { from: binary, to: binary, mode: 0o755 },
      { from: BUSYBOX, to: "/bin/busybox", mode: 0o755 },
      ...stdlibFiles.map((f) => ({ from: f, to: f })),
      ...[...libs].map(([path, file]) => ({ from: file, to: path })),
    ],
    // /usr/bin/env (busybox's applet), as slim Python bases have it: script shebangs use it.
    symlinks: [
      { path: "/usr/local/bin/python3", target: binary },
      { path: "/usr/bin/env", target: "/bin/busybox" },
    ],
    contents: [{ to: "/etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\n" }],
    config: { env: [PATH] },
  }));
  return { ...(await deliver(cached, dir)), version, glibc };
}

const MANYLINUX_LIBS = [
  "libpthread.so.0",
  "libdl.so.2",
  "librt.so.1",
  "libm.so.6",
  "libutil.so.1",
  "libresolv.so.2",
  "libgcc_s.so.1",
  "libstdc++.so.6",
  "libz.so.1",
];

/** Regular files under `root` (absolute paths, sorted), skipping directories whose name `skip` matches. */
async function filesUnder(root: string, skip: (name: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true })) {
    const p = join(root, e.name);
    if (e.isDirectory()) {
      if (!skip(e.name)) out.push(...(await filesUnder(p, skip)));
    } else if (e.isFile() && !e.name.endsWith(".pyc")) out.push(p);
  }
  return out.sort();
}

/** `path` is where the binary looks for the library, `file` the real file behind it on this host. */
async function sharedLibraries(binary: string): Promise<Array<{ path: string; file: string }>> {
  const r = await runTool("ldd", [binary], { allowFailure: true });
  if (r.code !== 0) {
    if (/not a dynamic executable|statically linked/.test(r.stdout + r.stderr)) return [];
    throw new Error(`ldd ${binary} failed: ${r.stderr.trim()}`);
  }
  const out: Array<{ path: string; file: string }> = [];
  for (const line of r.stdout.split("\n")) {
    if (/not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()}`);
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m?.[1]) out.push({ path: m[1], file: await realpath(m[1]) });
  }
  return out;
}

/**
 * An OCI layout at `dir` whose tag `latest` is an image index: the node base for the host's
 * architecture plus a copy relabelled `otherArch` by `umoci config --architecture`. The copy
 * still holds the host's node binary, so it must never run: it only lets a multi-platform build
 * get as far as the other platform's own layers (where, say, a missing native binary is found).
 */
export async function makeNodeIndexBase(dir: string, otherArch: string): Promise<Base> {
  const host = await makeNodeBase(dir);
  const hostArch = process.arch === "arm64" ? "arm64" : "amd64";
  await runTool("umoci", [
    "config",
    "--image",
    `${dir}:latest`,
    "--architecture",
    otherArch,
    "--tag",
    "other",
  ]);
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as {
    manifests: Array<{
      mediaType: string;
      digest: string;
      size: number;
      annotations?: Record<string, string>;
    }>;
  };
  const byTag = (tag: string) => {
    const m = index.manifests.find((x) => x.annotations?.["org.opencontainers.image.ref.name"] === tag);
    if (!m) throw new Error(`no ${tag} in ${dir}`);
    return { mediaType: m.mediaType, digest: m.digest, size: m.size };
  };
  const list = `${JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      { ...byTag("latest"), platform: { os: "linux", architecture: hostArch } },
      { ...byTag("other"), platform: { os: "linux", architecture: otherArch } },
    ],
  })}`;
  const hex = createHash("sha256").update(list).digest("hex");
  await writeFile(join(dir, "blobs", "sha256", hex), list);
  index.manifests = [
    {
      mediaType: "application/vnd.oci.image.index.v1+json",
      digest: `sha256:${hex}`,
      size: Buffer.byteLength(list),
      annotations: { "org.opencontainers.image.ref.name": "latest" },
    },
  ];
  await writeFile(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, ...index }));
  return host;
}

const GOROOT = "/usr/lib/go-1.19";
const GO_TOOLS = ["asm", "buildid", "cgo", "compile", "link", "pack"];

async function goKey(): Promise<{ key: string; libs: Array<{ path: string; file: string }> }> {
  const go = join(GOROOT, "bin", "go");
  const libs = await sharedLibraries(go);
  const version = (await runTool(go, ["version"])).stdout.trim();
  return { key: await hashFiles([RECIPE_VERSION, version, ...libs.map((l) => l.path)], [go]), libs };
}

const stdCaches = new Map<string, Promise<string>>();

/**
 * A GOCACHE holding the standard library compiled the way static builds compile it
 * (`CGO_ENABLED=0 go build -trimpath std`): Debian's precompiled archives are cgo builds, so
 * without it every cold CGO_ENABLED=0 build recompiles net, net/http and their dependents.
 * Built once per machine under the OS temp dir; callers copy it (`cp -r`) before writing to it.
 */
export async function goStdCache(): Promise<string> {
  const { key } = await goKey();
  const final = join(cacheRoot, `go-std-cache-${key.slice(0, 24)}`);
  let p = stdCaches.get(final);
  if (!p) {
    p = (async () => {
      if (await exists(join(final, "README"))) return final;
      await mkdir(cacheRoot, { recursive: true });
      const aside = await mkdtemp(join(cacheRoot, ".go-std-cache-"));
      try {
        await runTool(join(GOROOT, "bin", "go"), ["build", "-trimpath", "std"], {
          env: {
            ...process.env,
            GOCACHE: join(aside, "cache"),
            CGO_ENABLED: "0",
            GOFLAGS: "",
            GOPROXY: "off",
          },
          timeoutMs: 900_000,
        });
        await renameUnlessThere(join(aside, "cache"), final);
        return final;
      } finally {
        await rm(aside, { recursive: true, force: true });
      }
    })();
    stdCaches.set(final, p);
    p.catch(() => stdCaches.delete(final));
  }
  return p;
}

/**
 * A Go toolchain image for `buildah bud` comparisons with no registry: the busybox base plus the
 * host's Debian Go (GOROOT /usr/lib/go-1.19, its symlinks into /usr/share/go-1.19 resolved)
 * with the tools `go build` runs, without the sources and archives of cmd/ and testdata, the
 * libraries `ldd` lists for `go`, and goStdCache() at /root/.cache/go-build: the standard
 * library precompiled for `CGO_ENABLED=0 go build -trimpath`, as the golang images ship it
 * precompiled for their defaults. Env PATH (Go's bin first), HOME=/root, CGO_ENABLED=0 (no C
 * compiler in the image).
 */
export async function makeGoBase(dir?: string): Promise<Base> {
  const go = join(GOROOT, "bin", "go");
  const { key, libs } = await goKey();
  const stdCache = await goStdCache();
  const cached = await cachedLayout("go-toolchain", key, async () => {
    const tree = async (from: string, to: string, skip: (name: string) => boolean) => {
      const root = await realpath(from);
      return (await filesUnder(root, skip)).map((f) => ({ from: f, to: join(to, f.slice(root.length)) }));
    };
    const skipNone = () => false;
    const files = [
      ...(await tree(join(GOROOT, "bin"), join(GOROOT, "bin"), skipNone)),
      ...(await tree(join(GOROOT, "src"), join(GOROOT, "src"), (n) => n === "testdata" || n === "cmd")),
      ...(await tree(join(GOROOT, "pkg", "include"), join(GOROOT, "pkg", "include"), skipNone)),
      ...(await tree(
        join(GOROOT, "pkg", "linux_amd64"),
        join(GOROOT, "pkg", "linux_amd64"),
        (n) => n === "cmd",
      )),
      ...GO_TOOLS.map((t) => ({
        from: join(GOROOT, "pkg", "tool", "linux_amd64", t),
        to: join(GOROOT, "pkg", "tool", "linux_amd64", t),
      })),
      { from: join(GOROOT, "VERSION"), to: join(GOROOT, "VERSION") },
      ...(await tree(stdCache, "/root/.cache/go-build", skipNone)),
      ...libs.map((l) => ({ from: l.file, to: l.path })),
    ];
    const busybox = await makeBusyboxBase();
    return {
      from: busybox,
      dirs: [{ path: "/root", mode: 0o700 }],
      files,
      symlinks: [{ path: "/usr/local/bin/go", target: go }],
      config: {
        env: [`PATH=${GOROOT}/bin:/usr/local/bin:/usr/bin:/bin`, "HOME=/root", "CGO_ENABLED=0"],
        cmd: ["sh"],
      },
    };
  });
  return deliver(cached, dir);
}
