// The decorator that signs each image a registry sink pushed, the way cosign does (tag-based
// discovery, specs/SIGNATURE_SPEC.md): the simple-signing payload of the pushed digest, signed
// with the --sign-key, as a layer of the manifest at `sha256-<hex>.sig`. A signature by the same
// key over the same payload already there is kept: ECDSA signatures differ on every run, so
// signing again would push a new manifest on every no-op build.
import type { Engine } from "../engine/engine.ts";
import { type Digest, sha256 } from "../oci/digest.ts";
import { formatReference, parseReference } from "../oci/reference.ts";
import { parseManifestJson } from "../oci/registry/client.ts";
import { RegistryError } from "../oci/registry/errors.ts";
import type { Descriptor, Manifest } from "../oci/types.ts";
import type { SigningKey } from "../sign/keys.ts";
import { signatureImage, signatureLayer, signPayload, verifyPayload } from "../sign/signature-image.ts";
import { SIGNATURE_ANNOTATION, signatureTag, simpleSigningPayload } from "../sign/simple-signing.ts";
import type { RegistryAccess } from "./registry-sink.ts";
import type { Sink } from "./sinks.ts";

/** `inner` (a registry sink to `repo`), then the cosign signature of each pushed digest. */
export function registrySignatures(
  inner: Sink,
  access: RegistryAccess,
  repo: string,
  o: { key: SigningKey | undefined; engine: Engine },
): Sink {
  const key = o.key;
  if (!key) return inner;
  return {
    async publish(artifact, name, tags) {
      const published = await inner.publish(artifact, name, tags);
      const target = parseReference(`${repo}/${name}`);
      const repoRef = { registry: target.registry, repository: target.repository };
      const pushed = await o.engine.timings.step(name, "sign", async () => {
        const n = await signDigest(
          published.digest,
          repoRef,
          key,
          access,
          o.engine,
          published.pushedBytes === 0,
        );
        return { value: n, cached: n === 0 };
      });
      return { ...published, pushedBytes: published.pushedBytes + pushed };
    },
  };
}

async function signDigest(
  digest: Digest,
  repo: { registry: string; repository: string },
  key: SigningKey,
  access: RegistryAccess,
  engine: Engine,
  trustRecord: boolean,
): Promise<number> {
  const tag = signatureTag(digest);
  const payload = simpleSigningPayload(formatReference(repo), digest);
  const payloadDigest = sha256(payload);
  const keyId = sha256(key.publicKey.export({ type: "spki", format: "der" }));
  const recordKey = `${repo.registry}/${repo.repository}:${tag}:${payloadDigest}:${keyId}`;
  if (trustRecord && (await engine.store.getRecord<boolean>("signed", recordKey)) === true) return 0;
  const client = await access.client();
  const current = await engine.io
    .run(() => client.manifest(repo, tag))
    .then((m) => parseManifestJson<Manifest>(m.raw, `${formatReference(repo)}:${tag}`))
    .catch((e: unknown) => {
      if (e instanceof RegistryError && e.status === 404) return undefined;
      throw e;
    });
  const layers: Descriptor[] = Array.isArray(current?.layers) ? current.layers : [];
  const signedAlready = layers.some(
    (l) =>
      l.digest === payloadDigest &&
      verifyPayload(key.publicKey, payload, String(l.annotations?.[SIGNATURE_ANNOTATION] ?? "")),
  );
  if (!signedAlready) {
    const layer = signatureLayer(payload, signPayload(key.privateKey, payload));
    const image = signatureImage([...layers, layer], new Map([[payloadDigest, payload]]));
    const res = await access.push(image, { ...repo, tag });
    await engine.store.putRecord("signed", recordKey, true);
    return res.pushedBytes + (await image.rawManifest()).length;
  }
  await engine.store.putRecord("signed", recordKey, true);
  return 0;
}
