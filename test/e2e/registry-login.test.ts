// `podman login` users: tug pushes with the credentials of a containers-auth.json alone.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runTug } from "../support/cli.ts";
import { startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import { skopeoInspectRaw } from "../support/tools.ts";

const USER = "podman-user";
const PASS = "Pa55-for-auth-json";

test("pushes to an htpasswd registry with only a REGISTRY_AUTH_FILE, using its namespace-scoped login", async (t) => {
  const registry = await startRegistry(t, { htpasswd: { username: USER, password: PASS } });
  const dir = await tempDir(t, "tug-e2e-login-");
  await mkdir(join(dir, "public"));
  await writeFile(join(dir, "public", "index.html"), "<p>logged in</p>\n");
  await writeFile(
    join(dir, "tug.yaml"),
    "images:\n  site:\n    builder: files\n    context: ./public\n    dest: /srv/www\n    base: scratch\n",
  );
  const empty = await tempDir(t, "tug-e2e-nologin-");
  // No login anywhere this run could see: docker's and podman's default places are empty dirs.
  const isolated = {
    TUG_CACHE: join(dir, ".cache"),
    DOCKER_CONFIG: empty,
    XDG_CONFIG_HOME: empty,
    XDG_RUNTIME_DIR: empty,
  };
  const args = ["build", "--repo", registry.repo("team")];

  const denied = await runTug(args, { cwd: dir, env: isolated });
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /requires authentication/);
  assert.match(denied.stderr, /podman login 127\.0\.0\.1:\d+/);

  // The right login is scoped to the namespace; a wrong one for the whole host must lose to it.
  const authFile = join(dir, "auth.json");
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  await writeFile(
    authFile,
    JSON.stringify({
      auths: {
        [registry.repo("").slice(0, -1)]: { auth: b64(`${USER}:wrong`) },
        [registry.repo("team")]: { auth: b64(`${USER}:${PASS}`) },
      },
    }),
  );
  const pushed = await runTug(args, { cwd: dir, env: { ...isolated, REGISTRY_AUTH_FILE: authFile } });
  assert.equal(pushed.code, 0, pushed.stderr);
  // An independent client, with the same credentials, reads the pushed image back.
  const manifest = await skopeoInspectRaw(`docker://${registry.repo("team/site")}:latest`, {
    extraArgs: ["--creds", `${USER}:${PASS}`],
  });
  assert.equal(manifest.layers?.length, 1);
});
