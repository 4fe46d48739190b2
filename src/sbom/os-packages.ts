import type { SbomPackage } from "./sbom-model.ts";

// The OS packages of a base image, from the package databases its layers hold: dpkg's
// /var/lib/dpkg/status (and distroless' status.d/ files), apk's /lib/apk/db/installed, and
// /etc/os-release for the purl namespace (debian, ubuntu, alpine, wolfi…). Pure parsers here;
// reading the files from layer tars is image-sbom's part.

export const OS_FILES = {
  dpkgStatus: "var/lib/dpkg/status",
  dpkgStatusDir: "var/lib/dpkg/status.d/",
  apkInstalled: "lib/apk/db/installed",
  osRelease: ["etc/os-release", "usr/lib/os-release"],
} as const;

/** Whether a layer path is one the OS package scan keeps. */
export function isOsPackageFile(path: string): boolean {
  return (
    path === OS_FILES.dpkgStatus ||
    (path.startsWith(OS_FILES.dpkgStatusDir) && !path.slice(OS_FILES.dpkgStatusDir.length).includes("/")) ||
    path === OS_FILES.apkInstalled ||
    (OS_FILES.osRelease as readonly string[]).includes(path)
  );
}

/** `ID=` of an os-release file, lower-case; undefined when absent. */
export function osReleaseId(text: string): string | undefined {
  const m = /^ID=(?:"([^"]*)"|'([^']*)'|(\S*))/m.exec(text);
  const id = (m?.[1] ?? m?.[2] ?? m?.[3] ?? "").trim().toLowerCase();
  return /^[a-z0-9._-]+$/.test(id) ? id : undefined;
}

/** RFC 822-style stanzas: `Field: value` lines, continuation lines folded away, blank-line separated. */
function stanzas(text: string): Array<Map<string, string>> {
  const out: Array<Map<string, string>> = [];
  let cur = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      if (cur.size > 0) out.push(cur);
      cur = new Map();
    } else if (!/^\s/.test(line)) {
      const colon = line.indexOf(":");
      if (colon > 0) cur.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
  }
  if (cur.size > 0) out.push(cur);
  return out;
}

/** Installed packages of a dpkg status file (or a status.d entry). */
export function parseDpkgStatus(text: string, distro: string | undefined): SbomPackage[] {
  const out: SbomPackage[] = [];
  for (const s of stanzas(text)) {
    const name = s.get("Package");
    const version = s.get("Version");
    const status = s.get("Status");
    // status.d files (distroless) carry no Status field: they list installed packages only.
    if (!name || !version || (status !== undefined && !/\binstalled$/.test(status))) continue;
    const arch = s.get("Architecture");
    out.push({
      ecosystem: "deb",
      name,
      version,
      distro: distro ?? "debian",
      ...(arch ? { arch } : {}),
    });
  }
  return out;
}

/** Packages of apk's installed database: `P:` name, `V:` version, `A:` arch, `L:` license. */
export function parseApkInstalled(text: string, distro: string | undefined): SbomPackage[] {
  const out: SbomPackage[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const f = new Map<string, string>();
    for (const line of block.split("\n"))
      if (/^[A-Za-z]:/.test(line) && !f.has(line[0] as string))
        f.set(line[0] as string, line.slice(2).trim());
    const name = f.get("P");
    const version = f.get("V");
    if (!name || !version) continue;
    out.push({
      ecosystem: "apk",
      name,
      version,
      distro: distro ?? "alpine",
      ...(f.get("A") ? { arch: f.get("A") as string } : {}),
      ...(f.get("L") ? { license: f.get("L") as string } : {}),
    });
  }
  return out;
}

/** The packages the files found (path → text, topmost layer's copy) describe. */
export function osPackagesOf(files: ReadonlyMap<string, string>): SbomPackage[] {
  const release = OS_FILES.osRelease.map((p) => files.get(p)).find((t) => t !== undefined);
  const distro = release !== undefined ? osReleaseId(release) : undefined;
  const out: SbomPackage[] = [];
  const status = files.get(OS_FILES.dpkgStatus);
  if (status !== undefined) out.push(...parseDpkgStatus(status, distro));
  for (const [path, text] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    if (path.startsWith(OS_FILES.dpkgStatusDir)) out.push(...parseDpkgStatus(text, distro));
  const apk = files.get(OS_FILES.apkInstalled);
  if (apk !== undefined) out.push(...parseApkInstalled(apk, distro));
  // One row per package: a status.d entry may repeat the status file.
  const seen = new Set<string>();
  return out.filter((p) => {
    const k = `${p.ecosystem}\u0000${p.name}\u0000${p.version}\u0000${p.arch ?? ""}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
