import type { Platform } from "../oci/types.ts";

export type { Platform } from "../oci/types.ts";

// The GOARCH names, which the OCI image-index spec adopts for `platform.architecture`.
const ARCHITECTURES = [
  "386",
  "amd64",
  "arm",
  "arm64",
  "loong64",
  "mips",
  "mipsle",
  "mips64",
  "mips64le",
  "ppc64",
  "ppc64le",
  "riscv64",
  "s390x",
];
const OPERATING_SYSTEMS = ["linux", "windows"];

// What people type when they mean a GOARCH name (uname -m, Debian and Rust spellings).
const ALIASES: Record<string, string> = {
  x86_64: "linux/amd64",
  x64: "linux/amd64",
  amd64: "linux/amd64",
  aarch64: "linux/arm64",
  arm64: "linux/arm64",
  armv7: "linux/arm/v7",
  armv7l: "linux/arm/v7",
  armhf: "linux/arm/v7",
  armv6: "linux/arm/v6",
  i386: "linux/386",
  i686: "linux/386",
  x86: "linux/386",
};

/** Why `s` is not an `os/arch[/variant]` platform, with a fix; undefined when it is one. */
export function platformProblem(s: string): { what: string; hint: string } | undefined {
  const parts = s.split("/");
  const [os, arch, variant] = parts;
  const alias = ALIASES[s] ?? ALIASES[arch ?? ""];
  const aliasHint = alias ? `did you mean "${alias}"? ` : "";
  if (parts.length < 2 || parts.length > 3 || !os || !arch) {
    return {
      what: `platform "${s}" is not of the form os/arch[/variant]`,
      hint: `${aliasHint}write platforms like linux/amd64, linux/arm64 or linux/arm/v7`,
    };
  }
  if (!OPERATING_SYSTEMS.includes(os)) {
    return {
      what: `unknown os "${os}" in platform "${s}"`,
      hint: `tug builds linux images; use linux/${arch}`,
    };
  }
  if (!ARCHITECTURES.includes(arch)) {
    return {
      what: `unknown architecture "${arch}" in platform "${s}"`,
      hint: `${aliasHint}architectures use Go's names: ${ARCHITECTURES.join(", ")}`,
    };
  }
  if (variant !== undefined && !/^v[0-9]+$/.test(variant)) {
    return { what: `unknown variant "${variant}" in platform "${s}"`, hint: "variants look like v7 or v8" };
  }
  return undefined;
}

/** The linux platform matching this machine, which is the default when a target names none. */
export function hostPlatform(arch: string = process.arch): Platform {
  return { os: "linux", architecture: arch === "arm64" ? "arm64" : "amd64" };
}
