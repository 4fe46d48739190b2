import { TugError } from "../errors.ts";
import { type Digest, isDigest } from "./digest.ts";

/** An image reference split into the parts the distribution API needs. */
export interface Reference {
  /** Registry as the user names it (`docker.io`, `127.0.0.1:5000`); see `registryHost`. */
  registry: string;
  repository: string;
  tag?: string;
  digest?: Digest;
}

export const DOCKER_HUB = "docker.io";

// Grammar from distribution/reference (regexp.go), kept to the parts docker accepts today.
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const REPOSITORY_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DOMAIN_LABEL = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const HOST_RE = new RegExp(`^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[a-fA-F0-9:.]+\\])(?::[0-9]+)?$`);

function invalid(input: string, why: string, hint?: string): TugError {
  return new TugError({
    what: `invalid image reference "${input}": ${why}`,
    hint: hint ?? "use [registry[:port]/]repository[:tag][@sha256:<64 hex>], e.g. 127.0.0.1:5000/demo/web:v1",
  });
}

/**
 * Parses a reference the way docker does: a first path component is a registry only when it
 * contains "." or ":" or is "localhost"; otherwise the image lives on Docker Hub, where
 * single-component names get the implicit "library/" prefix. No tag and no digest means ":latest".
 */
export function parseReference(input: string): Reference {
  const s = input.trim();
  if (s === "") throw invalid(input, "it is empty");
  let rest = s;
  let digest: Digest | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) throw invalid(input, `"${d}" is not a sha256 digest`);
    digest = d;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw invalid(input, `"${tag}" is not a valid tag`);
  }
  let registry = DOCKER_HUB;
  let repository = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost") {
      if (!HOST_RE.test(first)) throw invalid(input, `"${first}" is not a valid registry host`);
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (registry === "index.docker.io") registry = DOCKER_HUB;
  if (repository === "") throw invalid(input, "the repository name is missing");
  if (repository !== repository.toLowerCase()) {
    throw invalid(
      input,
      "repository names must be lowercase",
      `try "${s.replace(repository, repository.toLowerCase())}"`,
    );
  }
  if (!REPOSITORY_RE.test(repository)) {
    throw invalid(input, `"${repository}" is not a valid repository name`);
  }
  if (registry === DOCKER_HUB && !repository.includes("/")) repository = `library/${repository}`;
  if (registry.length + repository.length + 1 > 255)
    throw invalid(input, "the name is longer than 255 characters");
  if (tag === undefined && digest === undefined) tag = "latest";
  const ref: Reference = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** The fully qualified form: `registry/repository[:tag][@digest]`. */
export function formatReference(ref: Reference): string {
  let s = `${ref.registry}/${ref.repository}`;
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

/** The host the API lives on: Docker Hub's API is not served from docker.io itself. */
export function registryHost(registry: string): string {
  return registry === DOCKER_HUB ? "registry-1.docker.io" : registry;
}

/** The tag or digest to address a manifest by; the digest wins when both are given. */
export function manifestReference(ref: Reference): string {
  const r = ref.digest ?? ref.tag;
  if (!r) throw new TugError({ what: `reference ${formatReference(ref)} has neither tag nor digest` });
  return r;
}

export function withDigest(ref: Reference, digest: Digest): Reference {
  return { registry: ref.registry, repository: ref.repository, ...(ref.tag ? { tag: ref.tag } : {}), digest };
}
