// Decorators that attach each published image's SBOMs the OCI 1.1 way: in a layout, the artifact
// manifests beside the image (index.json lists them untagged); in a registry, pushed by digest,
// indexed by the registry's referrers API when it has one (its OCI-Subject answer), else listed
// in the referrers tag `sha256-<hex>` (the fallback of distribution-spec 1.1, which Debian's
// docker-registry 2.8 needs: it has no referrers API). Already attached: nothing is sent.
import type { Engine } from "../engine/engine.ts";
import { withKeyLock } from "../engine/key-lock.ts";
import { sha256 } from "../oci/digest.ts";
import { readIndexJson } from "../oci/layout.ts";
import { parseReference } from "../oci/reference.ts";
import type { IndexManifest } from "../oci/types.ts";
import { MediaType } from "../oci/types.ts";
import { imageProvenanceReferrers, type ProvenanceContext } from "../sbom/image-provenance.ts";
import { imageSbomReferrers } from "../sbom/image-sbom.ts";
import { referrerImage } from "../sbom/referrer-image.ts";
import { type ReferrerArtifact, referrersIndex, referrersTag } from "../sbom/referrer-manifest.ts";
import type { SbomFormat } from "../sbom/sbom-model.ts";
import { Limiter } from "../util/limiter.ts";
import type { RegistryAccess } from "./registry-sink.ts";
import type { Sink } from "./sinks.ts";

interface SbomOptions {
  format: SbomFormat;
  engine: Engine;
  /** `--provenance`: an SLSA provenance statement beside each SBOM. */
  provenance?: ProvenanceContext;
}

async function referrersOf(artifact: Parameters<Sink["publish"]>[0], name: string, o: SbomOptions) {
  const sboms = await o.engine.timings.step(name, "sbom", async () => ({
    value: await imageSbomReferrers({ artifact, name, format: o.format, store: o.engine.store }),
    cached: false,
  }));
  const ctx = o.provenance;
  if (!ctx) return sboms;
  const statements = await o.engine.timings.step(name, "provenance", async () => ({
    value: await imageProvenanceReferrers({ artifact, name, ctx, store: o.engine.store }),
    cached: false,
  }));
  return [...sboms, ...statements];
}

const attachesNothing = (o: SbomOptions) => o.format === "none" && !o.provenance;

/** `inner` (a layout sink at `dir`), then each platform image's SBOM referrer into the layout. */
export function layoutSboms(inner: Sink, dir: string, o: SbomOptions): Sink {
  if (attachesNothing(o)) return inner;
  const serial = new Limiter(1);
  return {
    async publish(artifact, name, tags) {
      const published = await inner.publish(artifact, name, tags);
      const referrers = await referrersOf(artifact, name, o);
      const present = new Set((await readIndexJson(dir)).manifests.map((m) => m.digest));
      const missing = referrers.filter((r) => !present.has(r.digest));
      if (missing.length === 0) return published;
      const { writeLayout } = await import("../oci/layout-write.ts");
      let written = 0;
      // The layout sink's lock: index.json is read-modified-written.
      await serial.run(() =>
        withKeyLock(o.engine.store.root, `layout-${sha256(dir).slice(7, 23)}`, async () => {
          for (const r of missing)
            written += (await writeLayout(dir, referrerImage(r), { tags: [] })).writtenBytes;
        }),
      );
      return { ...published, pushedBytes: published.pushedBytes + written };
    },
  };
}

/** `inner` (a registry sink to `repo`), then each SBOM referrer by digest and in its referrers tag. */
export function registrySboms(inner: Sink, access: RegistryAccess, repo: string, o: SbomOptions): Sink {
  if (attachesNothing(o)) return inner;
  return {
    async publish(artifact, name, tags) {
      const target = parseReference(`${repo}/${name}`);
      const repoRef = { registry: target.registry, repository: target.repository };
      const publishing = inner.publish(artifact, name, tags);
      publishing.catch(() => {});
      const referrers = await referrersOf(artifact, name, o).catch(async (e: unknown) => {
        await publishing.catch(() => {});
        throw e;
      });
      const attachAll = async (trustRecord: boolean) => {
        let pushed = 0;
        for (const r of referrers) pushed += await attach(r, repoRef, access, o.engine, trustRecord);
        return pushed;
      };
      const recorded = await Promise.all(referrers.map((r) => attachedRecord(r, repoRef, o.engine)));
      if (!recorded.some(Boolean)) {
        // Never attached by this cache (an edit: a new image, so a new SBOM): pushed beside the
        // image instead of after it. A registry takes a referrer before its subject
        // (distribution-spec 1.1), and the image's tag is still written last.
        // Both settle before either failure is reported: nothing goes on after the build returns.
        const [published, pushed] = await Promise.allSettled([publishing, attachAll(false)]);
        if (published.status === "rejected") throw published.reason;
        if (pushed.status === "rejected") throw pushed.reason;
        return { ...published.value, pushedBytes: published.value.pushedBytes + pushed.value };
      }
      const published = await publishing;
      // The image was already there: a referrer this cache recorded attaching is too (no request).
      const pushed = await attachAll(published.pushedBytes === 0);
      return { ...published, pushedBytes: published.pushedBytes + pushed };
    },
  };
}

function attachedKey(r: ReferrerArtifact, repo: { registry: string; repository: string }): string {
  return `${repo.registry}/${repo.repository}:${referrersTag(r.manifest.subject.digest)}:${r.digest}`;
}

/** Whether this cache recorded attaching `r` to `repo`. */
async function attachedRecord(
  r: ReferrerArtifact,
  repo: { registry: string; repository: string },
  engine: Engine,
): Promise<boolean> {
  return (await engine.store.getRecord<boolean>("sbom-attached", attachedKey(r, repo))) === true;
}

async function attach(
  r: ReferrerArtifact,
  repo: { registry: string; repository: string },
  access: RegistryAccess,
  engine: Engine,
  trustRecord: boolean,
): Promise<number> {
  const subject = r.manifest.subject.digest;
  const tag = referrersTag(subject);
  const recordKey = attachedKey(r, repo);
  if (trustRecord && (await attachedRecord(r, repo, engine))) return 0;
  const attached = async (bytes: number) => {
    await engine.store.putRecord("sbom-attached", recordKey, true);
    return bytes;
  };
  const client = await access.client();
  // Already attached? The referrers API answers where the registry has one (404 where not).
  const listed = await engine.io.run(() => client.referrers(repo, subject)).catch(() => undefined);
  if (listed?.manifests.some((m) => m.digest === r.digest)) return attached(0);
  const tagged = async () =>
    engine.io
      .run(() => client.manifest(repo, tag))
      .then((m) => JSON.parse(m.raw.toString("utf8")) as IndexManifest)
      .catch(() => undefined);
  let current = listed ? undefined : await tagged();
  if (current?.manifests?.some((m) => m.digest === r.digest)) return attached(0);
  // A registry that indexes the subject says so with an OCI-Subject header on the manifest PUT:
  // then no fallback tag is written (distribution-spec 1.1, "Pushing Manifests with Subject").
  let indexed = false;
  const res = await access.push(
    referrerImage(r),
    { ...repo, digest: r.digest },
    {
      onEvent: (e) => {
        if (e.type === "manifest" && e.digest === r.digest && e.ociSubject === subject) indexed = true;
      },
    },
  );
  if (indexed) return attached(res.pushedBytes);
  if (listed) current = await tagged();
  const index = Buffer.from(JSON.stringify(referrersIndex(current, r)));
  await engine.io.run(() => client.putManifest(repo, tag, index, MediaType.ociIndex));
  return attached(res.pushedBytes + index.length);
}
