import { createHash } from "node:crypto";

/**
 * What of a Go file `go list -deps` depends on: everything before the first top-level
 * declaration (build constraints, the package clause, imports, a cgo preamble) and every
 * `//go:embed` line. An edit that changes only declarations (function bodies, constants) keeps
 * this digest, so the package graph and file list need not be listed again.
 */
export function goHeaderDigest(text: string): string {
  const lines = text.split("\n");
  const firstDecl = lines.findIndex((l) => /^(func|type|var|const)\b/.test(l));
  const head = firstDecl < 0 ? lines : lines.slice(0, firstDecl);
  const embeds = firstDecl < 0 ? [] : lines.slice(firstDecl).filter((l) => /^\s*\/\/go:embed\b/.test(l));
  return createHash("sha256").update(head.join("\n")).update("\0").update(embeds.join("\n")).digest("hex");
}
