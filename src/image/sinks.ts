import { promises as fs } from "node:fs";
import { join } from "node:path";
import { withKeyLock } from "../engine/key-lock.ts";
import { type Digest, hexOf, sha256 } from "../oci/digest.ts";
import { REF_NAME, writeLayout } from "../oci/layout.ts";
import { layoutBlobsIntact } from "../oci/layout-stamps.ts";
import { type Artifact, type Image, isIndex, type Platform } from "../oci/types.ts";
import { Limiter } from "../util/limiter.ts";

export interface Published {
  /** Where the artifact can be found, e.g. `127.0.0.1:5000/demo/web@sha256:…` or `oci:DIR:web`. */
  ref: string;
  digest: Digest;
  /** Bytes sent or written that the destination did not already hold. */
  pushedBytes: number;
}

/** Somewhere an artifact goes: a registry, an OCI layout, a docker tarball. */
export interface Sink {
  publish(artifact: Artifact, name: string, tags: string[]): Promise<Published>;
  /**
   * The build found the cache's copy of this blob corrupt and rebuilds it: a sink that keeps
   * its own copy (a layout) forgets it, so the retry writes it again. Absent: nothing to forget.
   */
  dropBlob?(digest: Digest): Promise<void>;
}

/** `outer` (a decorator of `inner` that only publishes) with `inner`'s blob recovery. */
export function keepDropBlob(outer: Sink, inner: Sink): Sink {
  if (outer === inner || !inner.dropBlob) return outer;
  const drop = inner.dropBlob.bind(inner);
  return { publish: (artifact, name, tags) => outer.publish(artifact, name, tags), dropBlob: drop };
}

/**
 * OCI layout at `dir`, each target under ref.name = its name. index.json is read-modified-
 * written, so writers are serialised: in-process by a limiter, across processes by a lock file.
 */
export function layoutSink(dir: string, lockRoot: string): Sink {
  const serial = new Limiter(1);
  // index.json as it was when this build started: a target whose tag already names its digest
  // there is done (writeLayout puts blobs before the index entry), with no lock and no write.
  let before: Promise<Map<string, string>> | undefined;
  return {
    async publish(artifact, name) {
      const digest = await artifact.digest();
      before ??= layoutTags(dir);
      // …and whose blobs still carry the stamps tug recorded (one stat each): a blob edited in
      // place since is hashed and replaced by writeLayout.
      if ((await before).get(name) === digest && (await layoutBlobsIntact(dir, artifact)))
        return { ref: `oci:${dir}:${name}`, digest, pushedBytes: 0 };
      return serial.run(() =>
        withKeyLock(lockRoot, `layout-${sha256(dir).slice(7, 23)}`, async () => {
          const res = await writeLayout(dir, artifact, { tags: [name] });
          return { ref: `oci:${dir}:${name}`, digest: res.digest, pushedBytes: res.writtenBytes };
        }),
      );
    },
    async dropBlob(digest) {
      await fs.rm(join(dir, "blobs", "sha256", hexOf(digest)), { force: true });
    },
  };
}

async function layoutTags(dir: string): Promise<Map<string, string>> {
  try {
    const index = JSON.parse(await fs.readFile(join(dir, "index.json"), "utf8")) as {
      manifests?: Array<{ digest: string; annotations?: Record<string, string> }>;
    };
    return new Map(
      (index.manifests ?? []).flatMap((m) =>
        m.annotations?.[REF_NAME] ? [[m.annotations[REF_NAME], m.digest]] : [],
      ),
    );
  } catch {
    return new Map();
  }
}

/**
 * A `docker load` tarball per target (`DIR/NAME.tar`), of the host's platform. Skipped when the
 * file on disk is the one this digest already produced (a sidecar names it), because rewriting
 * every base layer on each no-op build would dominate its time.
 */
export function tarballSink(dir: string, host: Platform, repo: string | undefined): Sink {
  return {
    async publish(artifact, name, tags) {
      const image = await hostImage(artifact, host);
      const digest = await image.digest();
      const file = join(dir, `${name}.tar`);
      const sidecar = `${file}.digest`;
      const known = await fs.readFile(sidecar, "utf8").catch(() => "");
      const exists = await fs.stat(file).then(
        () => true,
        () => false,
      );
      if (known.trim() === digest && exists) return { ref: `docker-archive:${file}`, digest, pushedBytes: 0 };
      await fs.mkdir(dir, { recursive: true });
      const repoTags = tags.map((t) => `${repo ? `${repo}/` : ""}${name}:${t}`);
      await fs.rm(sidecar, { force: true });
      // Loaded here: the tar writer is not needed by builds that write no new tarball.
      const { writeDockerTarball } = await import("../oci/tarball.ts");
      await writeDockerTarball(file, [{ image, repoTags }]);
      await fs.writeFile(sidecar, `${digest}\n`);
      const { size } = await fs.stat(file);
      return { ref: `docker-archive:${file}`, digest, pushedBytes: size };
    },
  };
}

async function hostImage(artifact: Artifact, host: Platform): Promise<Image> {
  if (!isIndex(artifact)) return artifact;
  const children = await artifact.images();
  const match = children.find(
    (c) => c.descriptor.platform?.os === host.os && c.descriptor.platform?.architecture === host.architecture,
  );
  return (match ?? children[0]!).image;
}

/** Publishes to every sink; the first one's answer is the artifact's reference. */
export function fanOut(sinks: Sink[]): Sink {
  return {
    async publish(artifact, name, tags) {
      // Settle every sink before failing: a caller that retries (or exits) must not race a
      // sink still writing in the background.
      const settled = await Promise.allSettled(sinks.map((s) => s.publish(artifact, name, tags)));
      const all: Published[] = [];
      for (const r of settled) {
        if (r.status === "rejected") throw r.reason;
        all.push(r.value);
      }
      return { ...all[0]!, pushedBytes: all.reduce((n, p) => n + p.pushedBytes, 0) };
    },
    async dropBlob(digest) {
      await Promise.all(sinks.map((s) => s.dropBlob?.(digest)));
    },
  };
}
