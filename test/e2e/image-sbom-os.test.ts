// A base image's Debian packages in the SBOM: the base carries this machine's own
// /var/lib/dpkg/status and /etc/os-release (written by dpkg, not by tug), and every package
// dpkg-query reports installed is a `pkg:deb/debian/NAME@VERSION?arch=ARCH` row, read from the
// base layer's tar as it streams; tug's own layer adds none.
import assert from "node:assert/strict";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { build, loadProject } from "../../src/index.ts";
import { makeBusyboxBase, makeImage } from "../support/bases.ts";
import { startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool, skopeoCopy } from "../support/tools.ts";

interface SpdxDoc {
  packages: Array<{
    name: string;
    versionInfo?: string;
    externalRefs?: Array<{ referenceType: string; referenceLocator: string }>;
  }>;
}

test("the SBOM lists the base's Debian packages exactly as dpkg-query reports them installed", async (t) => {
  const registry = await startRegistry(t);
  const work = await tempDir(t, "tug-sbom-os-");
  const base = await makeImage(join(work, "base"), "deb", {
    from: await makeBusyboxBase(),
    files: [
      { from: "/var/lib/dpkg/status", to: "/var/lib/dpkg/status", mode: 0o644 },
      { from: "/etc/os-release", to: "/etc/os-release", mode: 0o644 },
    ],
  });
  const baseRef = registry.repo("base/deb:1");
  await skopeoCopy(base.ref, `docker://${baseRef}`);
  await writeFile(join(work, "index.html"), "<p>os</p>\n");
  await writeFile(
    join(work, "tug.yaml"),
    `images:\n  site: { builder: files, context: ., dest: /srv/www, base: ${baseRef}, entrypoint_check: false }\n`,
  );
  const out = join(work, "out");
  const opts = { out, cacheDir: await tempDir(t, "tug-sbom-os-cache-"), insecureRegistries: [] };
  const [site] = (await build(await loadProject(join(work, "tug.yaml")), opts)).artifacts;

  const layout = join(out, "oci");
  const blob = async (d: string) => readFile(join(layout, "blobs", "sha256", d.slice(7)));
  const sbomIn = async (): Promise<{ layer: string; doc: SpdxDoc } | undefined> => {
    const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as {
      manifests: Array<{ digest: string }>;
    };
    for (const m of index.manifests) {
      const manifest = JSON.parse((await blob(m.digest)).toString()) as {
        subject?: { digest: string };
        layers: Array<{ digest: string }>;
      };
      const layer = manifest.layers[0]?.digest as string;
      if (manifest.subject?.digest === site?.digest)
        return { layer, doc: JSON.parse((await blob(layer)).toString()) };
    }
    return undefined;
  };
  const found = await sbomIn();
  const doc = found?.doc;
  assert.ok(doc, "the image has an SBOM referrer");
  const purls = new Set(
    doc.packages
      .flatMap((p) => (p.externalRefs ?? []).map((r) => r.referenceLocator))
      .filter((p) => p.startsWith("pkg:deb/")),
  );
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format, not a template
  const format = "${db:Status-Abbrev}|${Package}|${Version}|${Architecture}";
  const listed = (await runTool("dpkg-query", ["-W", `-f=${format}\\n`])).stdout
    .split("\n")
    .filter((l) => l.startsWith("ii"))
    .map((l) => {
      const [, name, version, arch] = l.split("|") as [string, string, string, string];
      return `pkg:deb/debian/${encodeURIComponent(name)}@${encodeURIComponent(version)}?arch=${arch}`;
    });
  assert.ok(listed.length > 10);
  assert.deepEqual([...purls].sort(), [...new Set(listed)].sort());

  // A warm cache and an empty output: the document is made again from the cache's records, to
  // the same bytes the recorded artifact manifest names.
  await rm(out, { recursive: true });
  const [again] = (await build(await loadProject(join(work, "tug.yaml")), opts)).artifacts;
  assert.equal(again?.digest, site?.digest);
  assert.equal((await sbomIn())?.layer, found?.layer);
});
