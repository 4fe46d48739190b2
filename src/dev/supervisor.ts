import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { goarmOf, goEnv, goRelease } from "../builders/go.ts";
import { toolIdentity } from "../builders/tool-identity.ts";
import type { Engine } from "../engine/engine.ts";
import type { LayerRecipe } from "../engine/layer-action.ts";
import { TugError } from "../errors.ts";
import { sha256 } from "../oci/digest.ts";
import type { Platform } from "../oci/types.ts";
import type { ExitStatus } from "./runtime.ts";
import { SUPERVISOR_SOURCE } from "./supervisor-source.ts";

/** Where dev images carry the supervisor (src/dev/supervisor/main.go). */
export const SUPERVISOR_PATH = "/tug/supervisor";

const GO_HINT =
  "install Go (Debian: apt-get install golang-go) or put it on PATH; tug dev compiles its supervisor";

/** Where `npm run build` puts the prebuilt supervisors (scripts/build-supervisor.mjs). */
function prebuiltDirs(): string[] {
  const env = process.env.TUG_SUPERVISOR_DIR;
  if (env) return [env];
  // Bundled: dist/*.js next to dist/supervisor/. From source: src/dev/ → dist/supervisor/.
  return [
    fileURLToPath(new URL("./supervisor/", import.meta.url)),
    fileURLToPath(new URL("../../dist/supervisor/", import.meta.url)),
  ];
}

interface PrebuiltManifest {
  source?: unknown;
  binaries?: Record<string, { file?: unknown; sha256?: unknown }>;
}

/**
 * The prebuilt supervisor for `platform`, verified against the sha256 its manifest records:
 * undefined when there is none (no manifest, another platform, or a manifest of another
 * source: a checkout whose main.go changed since the build); a binary whose bytes differ from
 * its recorded digest is refused, naming the file.
 */
export async function prebuiltSupervisor(
  platform: Platform,
  dirs: string[] = prebuiltDirs(),
): Promise<{ path: string; sha256: string } | undefined> {
  for (const dir of dirs) {
    const manifestPath = join(dir, "manifest.json");
    const text = await fs.readFile(manifestPath, "utf8").catch(() => undefined);
    if (text === undefined || text.length > 64 * 1024) continue;
    let manifest: PrebuiltManifest;
    try {
      manifest = JSON.parse(text) as PrebuiltManifest;
    } catch {
      continue;
    }
    if (manifest.source !== sha256(Buffer.from(SUPERVISOR_SOURCE)).slice("sha256:".length)) continue;
    if (platform.os !== "linux" || platform.variant) return undefined;
    const entry = manifest.binaries?.[`linux/${platform.architecture}`];
    if (
      typeof entry?.file !== "string" ||
      typeof entry.sha256 !== "string" ||
      !/^[0-9a-f]{64}$/.test(entry.sha256)
    )
      return undefined;
    const path = join(dir, entry.file);
    if (!path.startsWith(dir)) return undefined;
    const bytes = await fs.readFile(path).catch(() => undefined);
    if (!bytes) return undefined;
    const actual = sha256(bytes).slice("sha256:".length);
    if (actual !== entry.sha256) {
      throw new TugError({
        what: `the prebuilt dev supervisor ${path} does not match its sha256 (${entry.sha256.slice(0, 12)}…, file has ${actual.slice(0, 12)}…)`,
        where: manifestPath,
        hint: "the file was changed after tug was built: reinstall tug, or delete the file to have tug compile the supervisor with go",
      });
    }
    return { path, sha256: actual };
  }
  return undefined;
}

/**
 * The layer holding /tug/supervisor, for dev images only: the prebuilt binary shipped in the
 * package when it is there (verified by sha256), else compiled with the local Go, keyed by the
 * Go version, the platform and the embedded source's digest so `cachedLayer` compiles it once.
 */
export async function supervisorLayerRecipe(
  engine: Engine,
  platform: Platform,
  opts: { prebuiltDirs?: string[] } = {},
): Promise<LayerRecipe> {
  const prebuilt = await prebuiltSupervisor(platform, opts.prebuiltDirs);
  if (prebuilt) {
    return {
      target: "tug",
      step: `supervisor ${platform.os}/${platform.architecture} (prebuilt)`,
      kind: "dev-supervisor-prebuilt",
      version: 1,
      params: { sha256: prebuilt.sha256, os: platform.os, arch: platform.architecture },
      trees: {},
      produce: async () => {
        const st = await fs.stat(prebuilt.path);
        return {
          entries: [
            { path: "tug/supervisor", type: "file", mode: 0o755, size: st.size, source: prebuilt.path },
          ],
        };
      },
    };
  }
  const go = await toolIdentity(engine, "go", ["version"], GO_HINT);
  const goarm = goarmOf(platform);
  return {
    target: "tug",
    step: `supervisor ${platform.os}/${platform.architecture}`,
    kind: "dev-supervisor",
    version: 1,
    params: {
      go: goRelease(go.version),
      os: platform.os,
      arch: platform.architecture,
      goarm: goarm ?? "",
      source: sha256(Buffer.from(SUPERVISOR_SOURCE)),
    },
    trees: {},
    produce: async () => {
      const dir = await engine.store.tempPath("supervisor");
      try {
        const out = await compileSupervisor({
          dir,
          platform,
          go: go.path,
          gocache: join(engine.store.root, "go-build"),
        });
        const st = await fs.stat(out);
        return {
          entries: [{ path: "tug/supervisor", type: "file", mode: 0o755, size: st.size, source: out }],
          cleanup: () => fs.rm(dir, { recursive: true, force: true }),
        };
      } catch (e) {
        await fs.rm(dir, { recursive: true, force: true });
        throw e;
      }
    },
  };
}

export interface CompileSupervisorOptions {
  /** Scratch directory (created); the binary is written to DIR/supervisor. */
  dir: string;
  platform: Platform;
  /** The go binary; "go" on PATH by default. */
  go?: string;
  /** GOCACHE; Go's default when unset. */
  gocache?: string;
}

/** Compiles the embedded supervisor source into a static binary; returns its path. */
export async function compileSupervisor(opts: CompileSupervisorOptions): Promise<string> {
  await fs.mkdir(opts.dir, { recursive: true });
  await fs.writeFile(join(opts.dir, "main.go"), SUPERVISOR_SOURCE);
  // A module of its own: the build must not pick up whatever go.mod encloses the temp dir.
  await fs.writeFile(join(opts.dir, "go.mod"), "module tug.dev/supervisor\n\ngo 1.18\n");
  const out = join(opts.dir, "supervisor");
  const env = { ...goEnv(opts.platform, opts.gocache), GOPROXY: "off" };
  await new Promise<void>((resolve, reject) => {
    execFile(
      opts.go ?? "go",
      ["build", "-trimpath", "-ldflags=-s -w", "-o", out, "."],
      { cwd: opts.dir, env, maxBuffer: 16 << 20 },
      (err, _stdout, stderr) => {
        if (!err) return resolve();
        const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
        reject(
          new TugError({
            what: missing
              ? "go is not installed (not found on PATH)"
              : `could not compile tug's dev supervisor for ${opts.platform.os}/${opts.platform.architecture}`,
            hint: missing ? GO_HINT : stderr.trim() || String(err),
          }),
        );
      },
    );
  });
  return out;
}

/**
 * Recognises the line the supervisor prints on stderr when the app exits by itself
 * (`[tug] process exited (code 1)` / `(signal SIGSEGV)`); the container stays up meanwhile.
 */
export function parseSupervisorExit(line: string): ExitStatus | undefined {
  const m = /^\[tug\] process exited \((?:code (\d+)|signal (SIG[A-Z0-9]+|\d+))\)\s*$/.exec(line);
  if (!m) return undefined;
  return m[1] !== undefined ? { code: Number(m[1]), signal: null } : { code: null, signal: m[2] ?? null };
}
