import { join, relative, sep } from "node:path";
import { PYPI_SIMPLE } from "../config/lambda-target.ts";
import type { PythonImageTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { DEFAULT_IGNORE } from "../engine/ignore-rules.ts";
import type { LayerRecipe } from "../engine/layer-action.ts";
import { scanTree } from "../engine/source-tree.ts";
import { TugError } from "../errors.ts";
import type { LayerEntry } from "../oci/tar.ts";
import type { Platform } from "../oci/types.ts";
import { type SimpleIndex, simpleIndex } from "../python/index-client.ts";
import { lockedResolution } from "../python/locked-resolution.ts";
import type { IndexOption } from "../python/requirements-file.ts";
import { indexUrlsWithFileOptions } from "../python/requirements-indexes.ts";
import { readRequirementsSource } from "../python/requirements-source.ts";
import type { Resolution } from "../python/resolver.ts";
import { type Machine, type PythonTarget, parseGlibc } from "../python/runtime.ts";
import { firstPartyZipNames } from "../python/source-roots.ts";
import { cachedWheelTable, WheelFile } from "../python/wheel-table.ts";
import { isSha256Hex } from "../util/sha256-hex.ts";
import type { Builder } from "./builder.ts";
import { type BaseInterpreter, targetBaseInterpreter } from "./python-base.ts";
import {
  type InstalledWheel,
  installEntries,
  SITE_PACKAGES,
  SITE_PTH_VERSION,
  sitePthEntry,
} from "./python-install.ts";

const MACHINES: Readonly<Record<string, { machine: Machine; arch: "x86_64" | "arm64" }>> = {
  amd64: { machine: "x86_64", arch: "x86_64" },
  arm64: { machine: "aarch64", arch: "arm64" },
};

// What a Python service tree holds that is never part of the app: bytecode of the host's
// Python and virtualenvs (the deps layer stands for those).
const NOT_APP = /(^|\/)(__pycache__|\.venv|venv|\.tox|\.mypy_cache|\.pytest_cache)$|\.py[co]$/;

/**
 * `python`: wheels resolved for each platform (the lambdas' resolver, tags and index client)
 * installed into /app/site-packages as pip --target does, in a deps layer keyed by the
 * resolution (wheel sha256s) and the platform, so a source edit never rebuilds or re-pushes it;
 * then the first-party files under /app (source roots stripped) in the app layer.
 */
export const pythonBuilder: Builder<PythonImageTarget> = {
  missingExecutableHint: (target, argv0, base) =>
    `${base} has no ${argv0}: pick a base with CPython, e.g. base: docker.io/library/python:${target.python?.join(".") ?? "3.12"}-slim (or your registry's copy)`,
  missingLibraryHint: (_target, library, path) => {
    const wheel = /^app\/site-packages\/([^/]+)/.exec(path)?.[1];
    return `${wheel ? `the wheel installing ${wheel} links ${library}, a system library manylinux wheels may expect from the base; ` : ""}use a base that has it (e.g. a python:X.Y-slim image, or add the package providing ${library}), or a variant of the distribution without it (opencv-python-headless instead of opencv-python)`;
  },
  async plan(ctx) {
    const { engine, target, platform } = ctx;
    if (target.builder !== "python") throw new Error("python builder given another target");
    const { interpreter, read } = await targetBaseInterpreter(engine, target, platform, ctx.base);
    const pyTarget = pythonTarget(target, platform, interpreter, read);
    const [tree, resolution] = await Promise.all([
      scanTree(target.context, {
        skipDirs: engine.outputDirs,
        statCache: engine.statCache,
        where: target.where,
        ignore: (p) => NOT_APP.test(p),
        ignoreFiles: target.ignore ?? DEFAULT_IGNORE,
      }),
      // A step of its own: index requests show in --timings and the progress view; a lock hit is "cached".
      engine.timings.step(target.name, `resolve ${platform.os}/${platform.architecture}`, async () => {
        const r = await resolveRequirements(engine, target, pyTarget);
        return { value: r, cached: r.fromLock === true || r.distributions.length === 0 };
      }),
    ]);
    const files = tree.files.filter((f) => f.type !== "dir");
    const names = firstPartyZipNames(
      files.map((f) => f.abs),
      target.context,
      target.sourceRoots,
      target.where,
    );
    const layers: LayerRecipe[] = [];
    if (resolution.distributions.length > 0)
      layers.push(depsRecipe(engine, target, platform, resolution, interpreter?.siteDir));
    layers.push({
      target: target.name,
      step: `app ${platform.os}/${platform.architecture}`,
      kind: "python-app",
      version: 1,
      params: {
        sourceRoots: target.sourceRoots.map((r) => relative(target.context, r).split(sep).join("/")),
      },
      trees: { context: tree.files },
      produce: async () => ({
        entries: files.map(
          (f): LayerEntry => ({
            path: `app/${names.get(f.abs) ?? f.path}`,
            ...(f.type === "symlink"
              ? { type: "symlink", mode: 0o777, linkname: f.linkname }
              : { type: "file", mode: f.executable ? 0o755 : 0o644, size: f.size, source: f.abs }),
          }),
        ),
      }),
    });
    return {
      layers,
      config: {
        entrypoint: target.module ? ["python3", "-m", target.module] : (target.command ?? []),
        workdir: "/app",
        env: { PYTHONPATH: `/${SITE_PACKAGES}:/app`, PYTHONUNBUFFERED: "1" },
      },
    };
  },
};

/** What the resolver needs to know of the image's interpreter on one platform. */
export function pythonTarget(
  target: PythonImageTarget,
  platform: Platform,
  base: BaseInterpreter | undefined,
  /** false: the base was not read (planned without it, and no build has read it yet). */
  baseRead = true,
): PythonTarget {
  const m = platform.os === "linux" ? MACHINES[platform.architecture] : undefined;
  if (!m) {
    throw new TugError({
      what: `builder python cannot pick wheels for ${platform.os}/${platform.architecture}`,
      where: target.where,
      hint: "python images are built for linux/amd64 and linux/arm64 (manylinux wheels)",
    });
  }
  const where = `${target.where}, ${platform.os}/${platform.architecture}`;
  const python = target.python ?? base?.python;
  if (!python && !baseRead) {
    throw new TugError({
      what: `${target.name} has no python_version and its base has not been read yet`,
      where,
      hint: `run tug build ${target.name} once (it reads the base's CPython), or set python_version: "3.12"`,
    });
  }
  if (!python) {
    throw new TugError({
      what: `cannot tell which CPython the base of ${target.name} runs: it has no python3 on its PATH named pythonX.Y or beside a pythonX.Y stdlib`,
      where,
      hint: 'set python_version: "3.12" (and glibc:) to the base\'s, or pick a base with CPython, e.g. docker.io/library/python:3.12-slim',
    });
  }
  const shown = (v: readonly [number, number]) => v.join(".");
  if (base && target.python && shown(base.python) !== shown(target.python)) {
    throw new TugError({
      what: `python_version is ${shown(target.python)} but the base's python3 is ${shown(base.python)} (${base.executable})`,
      where,
      hint: `wheels for ${shown(target.python)} would not import there: set python_version: "${shown(base.python)}" or pick a base with CPython ${shown(target.python)}`,
    });
  }
  const baseFull = base && shown(base.python) === shown(python) ? base.fullVersion : undefined;
  if (target.pythonFullVersion && baseFull && target.pythonFullVersion !== baseFull) {
    throw new TugError({
      what: `python_version is ${target.pythonFullVersion} but the base runs CPython ${baseFull}`,
      where,
      hint: `markers such as python_full_version would be evaluated for the wrong release: set python_version: "${baseFull}"`,
    });
  }
  if (base?.libc?.kind === "musl") {
    throw new TugError({
      what: `the base of ${target.name} uses musl libc (Alpine-style); tug installs manylinux (glibc) wheels`,
      where,
      hint: "pick a glibc base, e.g. docker.io/library/python:3.12-slim (Debian)",
    });
  }
  const baseGlibc = base?.libc?.kind === "glibc" ? base.libc.version : undefined;
  if (target.glibc && baseGlibc && compareGlibc(target.glibc, baseGlibc) > 0) {
    throw new TugError({
      what: `glibc is set to ${target.glibc} but the base has glibc ${baseGlibc}`,
      where,
      hint: `wheels for manylinux_${target.glibc.replace(".", "_")} would not load there: set glibc: "${baseGlibc}" or drop glibc: to use the base's`,
    });
  }
  // Without a python3 in the base (python comes at run time) the conservative manylinux_2_28.
  const glibc = target.glibc ?? baseGlibc ?? (base || !baseRead ? undefined : "2.28");
  if (!glibc && !baseRead) {
    throw new TugError({
      what: `${target.name} has no glibc: and its base has not been read yet`,
      where,
      hint: `run tug build ${target.name} once (it reads the base's glibc), or set glibc: "2.36"`,
    });
  }
  if (!glibc) {
    throw new TugError({
      what: `cannot find the glibc of the base of ${target.name} (no libc.so.6 with a version tug can read)`,
      where,
      hint: 'set glibc: "2.36" (the base\'s: ldd --version in the image)',
    });
  }
  return {
    runtime: `python${python[0]}.${python[1]}`,
    arch: m.arch,
    machine: m.machine,
    python,
    // Unknown patch (neither python_version nor the base says): X.Y.0, as for bare lambda versions.
    fullVersion: target.pythonFullVersion ?? baseFull ?? `${python[0]}.${python[1]}.0`,
    glibc: parseGlibc(glibc, target.where),
    os: `the base image (glibc ${glibc})`,
  };
}

function compareGlibc(a: string, b: string): number {
  const [, am = 0] = a.split(".").map(Number);
  const [, bm = 0] = b.split(".").map(Number);
  return am - bm;
}

function resolveRequirements(
  engine: Engine,
  target: PythonImageTarget,
  pyTarget: PythonTarget,
): Promise<Resolution & { indexUrls: readonly string[]; fromLock?: boolean }> {
  if (target.requirements === undefined)
    return Promise.resolve({ target: pyTarget, distributions: [], indexUrls: [] });
  const file = target.requirements;
  return readRequirementsSource(file, target.where, target.context).then(async (source) => {
    const urls = indexUrls(target, source.indexOptions ?? []);
    const resolution = await lockedResolution({
      requirements: source.requirements,
      source,
      target: pyTarget,
      ctx: { indexUrls: urls, index: indexFor(engine, urls), store: engine.store },
    });
    return { ...resolution, indexUrls: urls };
  });
}

/** `index_url:`/`extra_index_urls:`, the file's `--index-url` lines and the environment, as pip reads them. */
function indexUrls(target: PythonImageTarget, options: readonly IndexOption[]): string[] {
  return indexUrlsWithFileOptions({
    indexUrl: target.indexUrl,
    extraIndexUrls: target.extraIndexUrls,
    env: process.env,
    defaultUrl: PYPI_SIMPLE,
    options,
  });
}

// One index client per engine and index list: its page and metadata caches serve every platform.
const indexes = new WeakMap<Engine, Map<string, SimpleIndex>>();

function indexFor(engine: Engine, urls: readonly string[]): SimpleIndex {
  let byUrls = indexes.get(engine);
  if (!byUrls) {
    byUrls = new Map();
    indexes.set(engine, byUrls);
  }
  const key = urls.join("\n");
  let index = byUrls.get(key);
  if (!index) {
    const store = engine.store;
    index = simpleIndex({
      urls,
      cacheDir: join(store.root, "python"),
      wheelDir: join(store.root, "blobs", "sha256"),
      // Wheels are CAS blobs: with a shared cache they come from it like layer blobs.
      fromCache: async (sha) =>
        store.remote && isSha256Hex(sha) ? store.ensureBlob(`sha256:${sha}`) : false,
    });
    byUrls.set(key, index);
  }
  return index;
}

function depsRecipe(
  engine: Engine,
  target: PythonImageTarget,
  platform: Platform,
  resolution: Resolution & { indexUrls: readonly string[] },
  /** The base's site directory: a `.pth` there makes /app/site-packages one too (python-install.ts). */
  siteDir: string | undefined,
): LayerRecipe {
  const site = siteDir === undefined ? [] : [sitePthEntry(siteDir)];
  // A wheel's URL and sha256 come with the resolution; the client only fetches and checks it.
  const index = indexFor(engine, resolution.indexUrls);
  const step = `deps ${platform.os}/${platform.architecture}`;
  return {
    target: target.name,
    step,
    kind: "python-deps",
    // 2: assembled from per-wheel parts (other tar order, gzip members per wheel).
    version: 2,
    // The wheels' bytes (sha256) are the whole input: requirements edits that resolve the same
    // wheels keep the layer, and a source edit never touches it.
    params: {
      machine: resolution.target.machine,
      wheels: resolution.distributions.map((d) => `${d.sha256} ${d.wheel}`),
      ...(siteDir === undefined ? {} : { siteDir, sitePth: SITE_PTH_VERSION }),
    },
    trees: {},
    produce: async () => {
      const wheels = await Promise.all(resolution.distributions.map(installedWheel));
      try {
        return { entries: [...(await installEntries(wheels)), ...site] };
      } finally {
        await Promise.all(wheels.map((w) => w.file.close()));
      }
    },
    // One cached part per wheel: a requirements change that adds a package tars and compresses
    // only that package's files; the others' bytes are copied from the cache.
    parts: async () =>
      resolution.distributions
        .map((d) => ({
          key: `${d.sha256} ${d.wheel}`,
          entries: async () => {
            const w = await installedWheel(d);
            try {
              return await installEntries([w]);
            } finally {
              await w.file.close();
            }
          },
        }))
        .concat(site.map((e) => ({ key: `site ${SITE_PTH_VERSION} ${e.path}`, entries: async () => [e] }))),
  };

  async function installedWheel(d: Resolution["distributions"][number]): Promise<InstalledWheel> {
    const path = await index.wheelPath({ filename: d.wheel, url: d.url, sha256: d.sha256 }, (size) =>
      engine.timings.meter(target.name, step, size),
    );
    const rows = await cachedWheelTable(engine.store, d.sha256, path, d.wheel);
    return { wheel: d.wheel, sha256: d.sha256, rows, file: new WheelFile(path) };
  }
}
