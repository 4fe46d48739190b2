import { isAbsolute, resolve } from "node:path";
import { IMAGE_NAME, TUG_SCHEME } from "./names.ts";
import { isValidTag, referenceProblem } from "./reference.ts";

/** Where a target's base image comes from. */
export type BaseRef =
  | { kind: "scratch" }
  | { kind: "layout"; path: string; tag: string }
  | { kind: "registry"; ref: string }
  /** Another image target of the same tug.yaml, built first in the same run (`tug://NAME`). */
  | { kind: "target"; name: string }
  /** A program of this machine and the libraries it loads (`host:node`): runs offline. */
  | { kind: "host"; program: string };

const LAYOUT_PREFIX = "oci-layout:";
const HOST_PREFIX = "host:";
const PROGRAM = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

/** Splits `oci-layout:PATH[:TAG]`: a tag is the text after a ':' that follows the last '/'. */
function splitLayout(rest: string): { path: string; tag: string | undefined } {
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/") && colon > 0)
    return { path: rest.slice(0, colon), tag: rest.slice(colon + 1) };
  return { path: rest, tag: undefined };
}

/** Why `s` is not a valid `base:` value; undefined when it is one. */
export function baseProblem(s: string): string | { what: string; hint: string } | undefined {
  if (s === "scratch") return undefined;
  if (s.startsWith(TUG_SCHEME)) {
    const name = s.slice(TUG_SCHEME.length);
    return IMAGE_NAME.test(name)
      ? undefined
      : {
          what: `${JSON.stringify(s)} is not a tug reference`,
          hint: "write tug://NAME with NAME an image of this tug.yaml",
        };
  }
  if (s.startsWith(HOST_PREFIX)) {
    const program = s.slice(HOST_PREFIX.length);
    return PROGRAM.test(program) ? undefined : "host: needs a program name on PATH, e.g. host:node";
  }
  if (s.startsWith(LAYOUT_PREFIX)) {
    const { path, tag } = splitLayout(s.slice(LAYOUT_PREFIX.length));
    if (!path) return "oci-layout: needs a directory, e.g. oci-layout:./bases/busybox:latest";
    if (tag !== undefined && !isValidTag(tag)) return `"${tag}" is not a valid tag`;
    return undefined;
  }
  return referenceProblem(s);
}

/** Parses a `base:` value already accepted by `baseProblem`; layout paths resolve against `dir`. */
export function parseBase(s: string, dir: string): BaseRef {
  if (s === "scratch") return { kind: "scratch" };
  if (s.startsWith(TUG_SCHEME)) return { kind: "target", name: s.slice(TUG_SCHEME.length) };
  if (s.startsWith(HOST_PREFIX)) return { kind: "host", program: s.slice(HOST_PREFIX.length) };
  if (s.startsWith(LAYOUT_PREFIX)) {
    const { path, tag } = splitLayout(s.slice(LAYOUT_PREFIX.length));
    return { kind: "layout", path: isAbsolute(path) ? path : resolve(dir, path), tag: tag || "latest" };
  }
  return { kind: "registry", ref: s };
}
