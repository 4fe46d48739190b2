import { execFile } from "node:child_process";
import { constants, promises as fs } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { hostPlatform } from "../config/platform.ts";
import type { ImageTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { cachedLayer } from "../engine/layer-action.ts";
import type { SourceFile } from "../engine/source-tree.ts";
import { TugError } from "../errors.ts";
import { defaultCompression } from "../oci/compress.ts";
import { digestFile } from "../oci/digest.ts";
import { DEFAULT_PATH } from "../oci/file-table.ts";
import { appendLayers, emptyImage, withConfig } from "../oci/image.ts";
import { type Platform, platformString } from "../oci/types.ts";
import type { ResolvedBase } from "./target-image.ts";

/** The first executable `name` on PATH, as the shell would find it. */
async function onPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const p = join(dir, name);
    const ok = await fs.access(p, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (ok && (await fs.stat(p)).isFile()) return p;
  }
  return undefined;
}

/** `ldd BINARY`: each library as the binary names it (`path`) and the host file behind it. */
async function sharedLibraries(
  binary: string,
  where: string,
): Promise<Array<{ path: string; file: string }>> {
  const { code, out } = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile("ldd", [binary], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      if (e && e.code === "ENOENT") resolve({ code: -1, out: "ldd not found" });
      else resolve({ code: e ? 1 : 0, out: `${stdout}${stderr}` });
    });
  });
  if (code !== 0) {
    if (/not a dynamic executable|statically linked/.test(out)) return [];
    throw new TugError({
      what: `cannot list the shared libraries of ${binary}: ${out.trim().slice(0, 200)}`,
      where,
      hint: "a host: base needs ldd (libc-bin); use a registry or oci-layout base instead",
    });
  }
  const libs: Array<{ path: string; file: string }> = [];
  for (const line of out.split("\n")) {
    if (/not found/.test(line)) {
      throw new TugError({
        what: `ldd ${binary}: ${line.trim()}`,
        where,
        hint: "the host program is broken",
      });
    }
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m?.[1]) libs.push({ path: m[1], file: await fs.realpath(m[1]) });
  }
  return libs;
}

async function sourceFile(engine: Engine, path: string, file: string): Promise<SourceFile> {
  const st = await fs.stat(file, { bigint: true });
  let digest = engine.statCache.lookup(file, st);
  if (!digest) {
    digest = (await digestFile(file)).digest;
    engine.statCache.remember(file, st, digest);
  }
  return {
    path: path.replace(/^\/+/, ""),
    type: "file",
    executable: (Number(st.mode) & 0o111) !== 0,
    size: Number(st.size),
    digest,
    abs: file,
    stamp: `${st.size}:${st.mtimeNs}:${st.ctimeNs}`,
  };
}

/**
 * `base: host:PROGRAM`: a base made of this machine's PROGRAM at /usr/local/bin and the shared
 * libraries it links, at the paths it links them (loader included), with the default PATH.
 * For a self-contained runtime such as node, on the host's platform only: it lets an image run
 * without a registry or network (the bundled example), keyed by the files' digests like any layer.
 */
export async function hostBase(o: {
  engine: Engine;
  target: ImageTarget;
  platform: Platform;
  program: string;
}): Promise<ResolvedBase> {
  const { engine, target, platform, program } = o;
  const host = hostPlatform();
  if (platformString(platform) !== platformString(host)) {
    throw new TugError({
      what: `base host:${program} exists only for this machine's platform (${platformString(host)}), not ${platformString(platform)}`,
      where: target.where,
      hint: "use a registry base for other platforms, or remove them from platforms:",
    });
  }
  const found = await onPath(program, process.env);
  if (!found) {
    throw new TugError({
      what: `base host:${program}: ${program} is not on this machine's PATH`,
      where: target.where,
      hint: `install ${program}, or use a registry base`,
    });
  }
  const binary = await fs.realpath(found);
  const libs = await sharedLibraries(binary, target.where);
  const files = [
    await sourceFile(engine, `/usr/local/bin/${program}`, binary),
    ...(await Promise.all(libs.map((l) => sourceFile(engine, l.path, l.file)))),
  ];
  const { layer } = await cachedLayer(
    engine,
    {
      target: target.name,
      step: `host:${program} base`,
      kind: "host-base",
      version: 1,
      params: { program },
      trees: { files },
      produce: async () => ({
        entries: files.map((f) => ({
          path: f.path,
          type: "file" as const,
          mode: f.executable ? 0o755 : 0o644,
          size: f.size,
          source: f.abs,
        })),
      }),
    },
    defaultCompression,
  );
  const image = withConfig(appendLayers(emptyImage(platform), [layer], `tug host:${program} base`), {
    env: { PATH: DEFAULT_PATH },
  });
  return { image };
}
