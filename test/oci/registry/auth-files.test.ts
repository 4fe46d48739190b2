import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { isTugError } from "../../../src/errors.ts";
import {
  authFilePaths,
  normalizeAuthKey,
  registryCredentials,
} from "../../../src/oci/registry/auth-files.ts";
import { tempDir } from "../../support/tmp.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const login = (user: string) => ({ auth: b64(`${user}:pw-${user}`) });
const creds = (user: string) => ({ username: user, password: `pw-${user}` });

async function put(path: string, content: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, typeof content === "string" ? content : JSON.stringify(content));
}

test("login files are searched in containers/image's order; REGISTRY_AUTH_FILE alone when set", () => {
  const env = { XDG_RUNTIME_DIR: "/run/u", XDG_CONFIG_HOME: "/cfg", DOCKER_CONFIG: "/dk" };
  assert.deepEqual(authFilePaths(env, "/home/u"), [
    { path: "/run/u/containers/auth.json", kind: "containers" },
    { path: "/cfg/containers/auth.json", kind: "containers" },
    { path: "/dk/config.json", kind: "docker" },
  ]);
  assert.deepEqual(authFilePaths({}, "/home/u", 1000), [
    { path: "/run/containers/1000/auth.json", kind: "containers" },
    { path: "/home/u/.config/containers/auth.json", kind: "containers" },
    { path: "/home/u/.docker/config.json", kind: "docker" },
  ]);
  assert.deepEqual(authFilePaths({ ...env, REGISTRY_AUTH_FILE: "/x/auth.json" }, "/home/u"), [
    { path: "/x/auth.json", kind: "containers" },
  ]);
});

test("the first file with an entry for the registry wins; others fall through to later files", async (t) => {
  const root = await tempDir(t);
  const env = {
    XDG_RUNTIME_DIR: join(root, "run"),
    XDG_CONFIG_HOME: join(root, "cfg"),
    DOCKER_CONFIG: join(root, "dk"),
  };
  await put(join(root, "run/containers/auth.json"), { auths: { "a.io": login("podman-run") } });
  await put(join(root, "cfg/containers/auth.json"), {
    auths: { "a.io": login("podman-cfg"), "b.io": login("podman-cfg") },
  });
  await put(join(root, "dk/config.json"), {
    auths: {
      "https://a.io/v1/": login("docker"),
      "c.io": login("docker"),
      "https://index.docker.io/v1/": login("hub"),
    },
  });
  const source = registryCredentials({ env });
  assert.deepEqual(await source("a.io", "x/y"), creds("podman-run"));
  assert.deepEqual(await source("b.io", "x"), creds("podman-cfg"));
  assert.deepEqual(await source("c.io", "x"), creds("docker"));
  assert.deepEqual(await source("docker.io", "library/alpine"), creds("hub"));
  assert.equal(await source("d.io", "x"), undefined);

  // An explicit REGISTRY_AUTH_FILE is the only file read, as podman and skopeo do.
  const only = join(root, "only.json");
  await put(only, { auths: { "b.io": login("explicit") } });
  const explicit = registryCredentials({ env: { ...env, REGISTRY_AUTH_FILE: only } });
  assert.deepEqual(await explicit("b.io", "x"), creds("explicit"));
  assert.equal(await explicit("a.io", "x"), undefined);
  // None of the files existing is simply "no credentials".
  assert.equal(
    await registryCredentials({ env: { REGISTRY_AUTH_FILE: join(root, "nope.json") } })("a.io"),
    undefined,
  );
});

test("namespace-scoped logins: the longest matching key wins, on path-segment boundaries", async (t) => {
  const root = await tempDir(t);
  const file = join(root, "auth.json");
  await put(file, {
    auths: {
      "quay.io": login("host"),
      "quay.io/team": login("team"),
      "quay.io/team/app": login("app"),
      "https://r.io/team/": login("legacy"),
    },
  });
  const source = registryCredentials({ env: { REGISTRY_AUTH_FILE: file } });
  assert.deepEqual(await source("quay.io", "team/app"), creds("app"));
  assert.deepEqual(await source("quay.io", "team/app/sub"), creds("app"));
  assert.deepEqual(await source("quay.io", "team/other"), creds("team"));
  assert.deepEqual(await source("quay.io", "teamx/app"), creds("host"));
  assert.deepEqual(await source("quay.io", "else"), creds("host"));
  assert.deepEqual(await source("quay.io"), creds("host"));
  // A key with a scheme is docker's legacy URL form: it names the whole registry.
  assert.deepEqual(await source("r.io", "anything"), creds("legacy"));
  assert.equal(normalizeAuthKey("Quay.IO/Team/"), "quay.io/Team");
  assert.equal(normalizeAuthKey("https://registry-1.docker.io/v2/"), "docker.io");
});

test("a hostile or broken login file is one clear error naming the file", async (t) => {
  const root = await tempDir(t);
  const cases: Array<[string, unknown, RegExp]> = [
    ["not-json.json", "{ auths: ", /is not valid JSON/],
    ["array.json", "[]", /unexpected shape at the top level/],
    ["auths-array.json", { auths: [] }, /unexpected shape at auths/],
    ["auth-number.json", { auths: { "a.io": { auth: 5 } } }, /unexpected shape at auths\.a\.io\.auth/],
    ["helpers.json", { credHelpers: { "a.io": {} } }, /unexpected shape at credHelpers\.a\.io/],
    [
      "no-colon.json",
      { auths: { "a.io": { auth: b64("secret-without-colon") } } },
      /not base64 of user:password/,
    ],
    ["big.json", `{"auths":{},"pad":"${"x".repeat(2 * 1024 * 1024)}"}`, /too big/],
  ];
  for (const [name, content, message] of cases) {
    const path = join(root, name);
    await put(path, content);
    await assert.rejects(registryCredentials({ env: { REGISTRY_AUTH_FILE: path } })("a.io", "x"), (e) => {
      assert.ok(isTugError(e), String(e));
      assert.match(e.what, message, name);
      assert.ok(`${e.what} ${e.where ?? ""}`.includes(path), `${name}: the error names the file`);
      assert.doesNotMatch(`${e.what} ${e.hint}`, /secret-without-colon/);
      return true;
    });
  }
  const noColon = join(root, "no-colon.json");
  await assert.rejects(registryCredentials({ env: { REGISTRY_AUTH_FILE: noColon } })("a.io"), (e) => {
    assert.ok(isTugError(e));
    assert.match(e.hint ?? "", /podman login a\.io/);
    return true;
  });
  // A directory where the file should be is not "no credentials" silently.
  const dirAsFile = join(root, "dir.json");
  await mkdir(dirAsFile);
  await assert.rejects(registryCredentials({ env: { REGISTRY_AUTH_FILE: dirAsFile } })("a.io"), (e) => {
    assert.ok(isTugError(e));
    assert.match(e.what, /cannot read registry login file .*dir\.json: EISDIR/);
    return true;
  });
});
