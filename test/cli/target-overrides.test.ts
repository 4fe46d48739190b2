import assert from "node:assert/strict";
import { test } from "node:test";
import { parseLabels, parsePlatforms, withOverrides } from "../../src/cli/target-overrides.ts";
import type { ImageTarget, Project } from "../../src/config/types.ts";
import { TugError } from "../../src/errors.ts";

function image(name: string, base: ImageTarget["base"]): ImageTarget {
  return {
    name,
    where: name,
    context: "/p",
    base,
    platforms: [{ os: "linux", architecture: "amd64" }],
    env: {},
    ports: [],
    labels: { keep: "1" },
    annotations: {},
    tags: ["latest"],
    builder: "files",
    dest: "/app",
  };
}

const project: Project = {
  file: "/p/tug.yaml",
  dir: "/p",
  targets: [
    image("assets", { kind: "scratch" }),
    image("app", { kind: "target", name: "assets" }),
    image("other", { kind: "scratch" }),
  ],
};

test("withOverrides: --platform reaches the tug:// bases of the selected image; tags and labels only it", () => {
  const out = withOverrides(project, ["app"], {
    platform: ["linux/amd64,linux/arm64"],
    tag: ["v1"],
    imageLabel: ["team=web", "keep=2"],
  });
  const by = Object.fromEntries(out.targets.map((t) => [t.name, t]));
  const two = [
    { os: "linux", architecture: "amd64" },
    { os: "linux", architecture: "arm64" },
  ];
  assert.deepEqual(by.app?.platforms, two);
  assert.deepEqual(by.assets?.platforms, two);
  assert.deepEqual(by.other?.platforms, [{ os: "linux", architecture: "amd64" }]);
  assert.deepEqual(by.app?.tags, ["latest", "v1"]);
  assert.deepEqual(by.assets?.tags, ["latest"]);
  assert.deepEqual(by.app?.labels, { keep: "2", team: "web" });
  assert.deepEqual(by.assets?.labels, { keep: "1" });
  // No overrides: the same project object.
  assert.equal(withOverrides(project, [], {}), project);
});

test("flag values are checked: platforms, labels, tags", () => {
  assert.deepEqual(parsePlatforms(["linux/arm/v7", "linux/arm/v7"]), [
    { os: "linux", architecture: "arm", variant: "v7" },
  ]);
  assert.throws(
    () => parsePlatforms(["amd64"]),
    (e) => e instanceof TugError && /did you mean "linux\/amd64"/.test(e.hint ?? ""),
  );
  assert.throws(() => parsePlatforms([","]), /names no platform/);
  assert.throws(() => parseLabels(["novalue"]), /is not KEY=VALUE/);
  assert.deepEqual(parseLabels(["a=b=c"]), { a: "b=c" });
  assert.throws(() => withOverrides(project, [], { tag: ["-bad"] }), /"-bad" is not a valid tag/);
});
