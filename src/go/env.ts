import { TugError } from "../errors.ts";
import type { Platform } from "../oci/types.ts";
import { withGoEnvFile } from "./env-file.ts";

/** Set by tug from `platforms:`; a static image needs CGO off, and one target has one platform list. */
export const PLATFORM_VARIABLES = ["GOOS", "GOARCH", "GOARM", "CGO_ENABLED"] as const;

/**
 * Flags `flags:` may not carry: tug passes them itself (or they have their own option), and the
 * race/memory/address sanitizers need cgo, which a static image turns off.
 */
const FLAG_RULES: Array<{ flag: string; hint: string }> = [
  { flag: "-o", hint: "tug writes the binary to /app/NAME; set name: to rename it" },
  { flag: "-ldflags", hint: "use ldflags: instead" },
  { flag: "-tags", hint: "use build_tags: instead" },
  { flag: "-race", hint: "the race detector needs cgo, which tug turns off for a static image" },
  { flag: "-msan", hint: "the memory sanitizer needs cgo, which tug turns off for a static image" },
  { flag: "-asan", hint: "the address sanitizer needs cgo, which tug turns off for a static image" },
];

/** The name of a command-line flag ("--tags=x" → "-tags"). */
function flagName(arg: string): string {
  return `-${arg.replace(/^-+/, "").split("=")[0]}`;
}

/** The first flag of `flags` that tug refuses, with the reason; undefined when all are allowed. */
export function refusedFlag(flags: string[]): { flag: string; hint: string } | undefined {
  for (const arg of flags) {
    if (!arg.startsWith("-"))
      return { flag: arg, hint: "write each flag with its value as one item: -gcflags=all=-l" };
    const rule = FLAG_RULES.find((r) => r.flag === flagName(arg));
    if (rule) return { flag: arg, hint: rule.hint };
  }
  return undefined;
}

/**
 * The first variable of a go target's `build_env` that tug refuses (set from `platforms:`).
 * `CGO_ENABLED: "0"` is allowed: it says the user accepts packages' non-cgo fallbacks.
 */
export function refusedVariable(env: Record<string, string>): string | undefined {
  return Object.keys(env).find(
    (k) => (PLATFORM_VARIABLES as readonly string[]).includes(k) && !(k === "CGO_ENABLED" && env[k] === "0"),
  );
}

/**
 * The user's GOFLAGS plus what tug needs: `-buildvcs=false` (a VCS stamp would make the binary
 * depend on .git, which is not an input), unless the user chose `-buildvcs` themselves.
 * GOFLAGS is a space-separated list of -flag[=value] (cmd/go: "go help environment").
 */
export function mergeGoflags(user: string | undefined): string {
  const flags = (user ?? "").split(/\s+/).filter(Boolean);
  if (!flags.some((f) => flagName(f) === "-buildvcs")) flags.push("-buildvcs=false");
  return flags.join(" ");
}

export function goarmOf(platform: Platform): string | undefined {
  return platform.architecture === "arm" && platform.variant ? platform.variant.replace(/^v/, "") : undefined;
}

/**
 * The environment of a static, reproducible cross-build for `platform`: the user's environment,
 * then the target's `build_env`, then what tug forces (platform, CGO off, local toolchain, GOCACHE).
 * Settings of the go env file (`go env -w GOAMD64=v3`) are made explicit where the environment
 * leaves them unset, so they are keyed (goTuning, GOFLAGS) like the shell's; `envFile: false`
 * leaves them to go (tug's own programs).
 */
export function goBuildEnv(o: {
  platform: Platform;
  buildEnv?: Record<string, string>;
  base?: NodeJS.ProcessEnv;
  gocache?: string;
  where?: string;
  envFile?: boolean;
}): NodeJS.ProcessEnv {
  const buildEnv = o.buildEnv ?? {};
  const refused = refusedVariable(buildEnv);
  if (refused) {
    throw new TugError({
      what: `build_env sets ${refused}, which tug sets from platforms:`,
      where: o.where,
      hint: "list the platforms under platforms: (CGO stays off: images are static)",
    });
  }
  const given: NodeJS.ProcessEnv = { ...(o.base ?? process.env), ...buildEnv };
  const merged = o.envFile === false ? given : withGoEnvFile(given, o.where);
  const env: NodeJS.ProcessEnv = {
    ...merged,
    CGO_ENABLED: "0",
    GOOS: o.platform.os,
    GOARCH: o.platform.architecture,
    GOFLAGS: mergeGoflags(merged.GOFLAGS),
    GOTOOLCHAIN: "local",
  };
  delete env.GOARM;
  const goarm = goarmOf(o.platform);
  if (goarm) env.GOARM = goarm;
  if (o.gocache) env.GOCACHE = o.gocache;
  return env;
}

/**
 * Environment settings that change what `go build` emits or which files it reads: part of the
 * key when set. `build_env` is keyed whole (GOPRIVATE and the like are cheap to key).
 */
export function goTuning(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of [
    "GOAMD64",
    "GOARM64",
    "GO386",
    "GOMIPS",
    "GOMIPS64",
    "GOPPC64",
    "GORISCV64",
    "GOWASM",
    "GOEXPERIMENT",
    "GOFIPS140",
    "GOWORK",
    "GO111MODULE",
  ]) {
    const v = env[k];
    if (v) out[k] = v;
  }
  return out;
}
