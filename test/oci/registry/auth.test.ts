import assert from "node:assert/strict";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { isTugError } from "../../../src/errors.ts";
import { parseReference } from "../../../src/oci/reference.ts";
import { dockerConfigCredentials } from "../../../src/oci/registry/auth-files.ts";
import { RegistryClient } from "../../../src/oci/registry/client.ts";
import { pushArtifact } from "../../../src/oci/registry/push.ts";
import { fetchArtifact } from "../../../src/oci/registry/remote-image.ts";
import { isIndex } from "../../../src/oci/types.ts";
import { layerOf, memoryImage } from "../../support/memory-image.ts";
import { startRegistry } from "../../support/registry.ts";
import { tempDir } from "../../support/tmp.ts";
import { startTokenServer } from "../../support/token-server.ts";
import { skopeoInspectRaw } from "../../support/tools.ts";

const USER = "tug";
const PASS = "s3cret-Passw0rd";

async function dockerConfigDir(t: Parameters<typeof tempDir>[0], config: unknown): Promise<string> {
  const dir = await tempDir(t, "tug-docker-config-");
  await writeFile(join(dir, "config.json"), JSON.stringify(config));
  return dir;
}

function newClient(t: { after: (fn: () => Promise<void>) => void }, dir?: string): RegistryClient {
  const c = new RegistryClient({
    credentials: dir ? dockerConfigCredentials({ dir }) : async () => undefined,
  });
  t.after(() => c.close());
  return c;
}

test("basic auth: no credentials is a clear error, config.json credentials work", async (t) => {
  const registry = await startRegistry(t, { htpasswd: { username: USER, password: PASS } });
  const image = await memoryImage([await layerOf({ a: "basic" })]);
  const target = parseReference(registry.repo("private/app:v1"));

  await assert.rejects(pushArtifact(newClient(t), image, target), (e) => {
    assert.ok(isTugError(e));
    assert.match(e.what, /requires authentication/);
    assert.match(e.hint ?? "", /docker login 127\.0\.0\.1:\d+/);
    return true;
  });

  const auth = Buffer.from(`${USER}:${PASS}`).toString("base64");
  const dir = await dockerConfigDir(t, { auths: { [`http://${registry.repo("")}`]: { auth } } });
  const res = await pushArtifact(newClient(t, dir), image, target);
  assert.equal(res.uploadedBlobs, 2);
  await skopeoInspectRaw(`docker://${registry.repo("private/app:v1")}`, {
    extraArgs: ["--creds", `${USER}:${PASS}`],
  });

  const wrong = Buffer.from(`${USER}:nope`).toString("base64");
  const bad = await dockerConfigDir(t, { auths: { [registry.repo("").slice(0, -1)]: { auth: wrong } } });
  await assert.rejects(fetchArtifact(newClient(t, bad), target), (e) => {
    assert.ok(isTugError(e));
    assert.match(e.what, /rejected the stored credentials/);
    assert.doesNotMatch(`${e.what} ${e.where} ${e.hint}`, new RegExp(`${PASS}|nope|${wrong}`));
    return true;
  });
});

test("credentials come from a docker credential helper", async (t) => {
  const registry = await startRegistry(t, { htpasswd: { username: USER, password: PASS } });
  const bin = await tempDir(t, "tug-bin-");
  await mkdir(bin, { recursive: true });
  const helper = join(bin, "docker-credential-tugtest");
  await writeFile(
    helper,
    `#!/bin/sh\nread server\nif [ "$server" = "${registry.repo("").slice(0, -1)}" ]; then\n` +
      `  printf '{"ServerURL":"%s","Username":"${USER}","Secret":"${PASS}"}' "$server"\nelse\n` +
      `  echo "credentials not found in native keychain"; exit 1\nfi\n`,
  );
  await chmod(helper, 0o755);
  const dir = await dockerConfigDir(t, { credHelpers: { [registry.repo("").slice(0, -1)]: "tugtest" } });
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  const c = new RegistryClient({ credentials: dockerConfigCredentials({ dir, env }) });
  t.after(() => c.close());
  const image = await memoryImage([await layerOf({ a: "helper" })]);
  await pushArtifact(c, image, parseReference(registry.repo("helped/app:v1")));

  // credsStore answers "not found" for other hosts: that is no credentials, not an error.
  const store = await dockerConfigDir(t, { credsStore: "tugtest" });
  assert.equal(await dockerConfigCredentials({ dir: store, env })("other.example:5000"), undefined);
  assert.deepEqual(await dockerConfigCredentials({ dir: store, env })(registry.repo("").slice(0, -1)), {
    username: USER,
    password: PASS,
  });
});

test("bearer tokens: fetched once per scope, anonymous pull, push needs credentials", async (t) => {
  const tokens = await startTokenServer(t, {
    users: { [USER]: PASS },
    refreshTokens: { "refresh-123": USER },
  });
  const registry = await startRegistry(t, { token: tokens });
  const image = await memoryImage([await layerOf({ a: "token" }), await layerOf({ b: "token" })]);
  const target = parseReference(registry.repo("tok/app:v1"));
  const host = registry.repo("").slice(0, -1);
  const dir = await dockerConfigDir(t, { auths: { [host]: { username: USER, password: PASS } } });

  const c = newClient(t, dir);
  const res = await pushArtifact(c, image, target);
  assert.equal(res.uploadedBlobs, 3);
  assert.equal(tokens.requests.length, 1, "one pull,push token serves the whole push");
  assert.deepEqual(tokens.requests[0], { user: USER, scopes: ["repository:tok/app:pull,push"] });

  // Mounting needs pull on the source repository too: the token is re-scoped once.
  tokens.requests.length = 0;
  const mounted = await pushArtifact(c, image, parseReference(registry.repo("tok/other:v1")), {
    mountFrom: ["tok/app"],
  });
  assert.equal(mounted.mountedBlobs, 3);
  assert.equal(tokens.requests.length, 1);
  assert.deepEqual(tokens.requests[0]?.scopes, ["repository:tok/other:pull,push", "repository:tok/app:pull"]);

  // An identity token (from `docker login` against an OAuth2 registry) is exchanged by POST.
  tokens.requests.length = 0;
  const idDir = await dockerConfigDir(t, { auths: { [host]: { identitytoken: "refresh-123" } } });
  await pushArtifact(newClient(t, idDir), image, parseReference(registry.repo("tok/id:v1")));
  assert.deepEqual(tokens.requests, [
    { user: USER, scopes: ["repository:tok/id:pull,push"], grant: "refresh_token" },
  ]);

  // Anyone may pull: an anonymous token is enough.
  const anon = newClient(t);
  const fetched = await fetchArtifact(anon, target);
  assert.ok(!isIndex(fetched));
  assert.equal(await fetched.digest(), res.digest);
  assert.equal((await fetched.config()).os, "linux");

  await assert.rejects(pushArtifact(anon, image, parseReference(registry.repo("tok/anon:v1"))), (e) => {
    assert.ok(isTugError(e));
    assert.match(e.what, /requires authentication/);
    assert.match(e.hint ?? "", /docker login/);
    return true;
  });
});
