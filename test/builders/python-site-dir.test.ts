import assert from "node:assert/strict";
import { test } from "node:test";
import { siteDirOf } from "../../src/builders/python-base.ts";

const tree = (...paths: string[]) => new Map(paths.map((p) => [p, {}]));

test("the base's site directory: Debian's dist-packages, else PREFIX/lib/pythonX.Y/site-packages", () => {
  // python:3.12-slim: CPython built from source under /usr/local.
  assert.equal(
    siteDirOf(
      tree("/usr/local/lib/python3.12/os.py", "/usr/local/lib/python3.12/site-packages/README.txt"),
      "/usr/local/bin/python3.12",
      [3, 12],
    ),
    "/usr/local/lib/python3.12/site-packages",
  );
  // debian:12 with the python3 package: its site.py never reads /usr/lib/python3.11/site-packages.
  assert.equal(
    siteDirOf(
      tree("/usr/lib/python3.11/os.py", "/usr/lib/python3/dist-packages"),
      "/usr/bin/python3.11",
      [3, 11],
    ),
    "/usr/lib/python3/dist-packages",
  );
  // Fedora: prefix /usr, upstream layout.
  assert.equal(
    siteDirOf(
      tree("/usr/lib64/python3.12/os.py", "/usr/lib/python3.12/site-packages/x"),
      "/usr/bin/python3.12",
      [3, 12],
    ),
    "/usr/lib/python3.12/site-packages",
  );
  // Neither directory: /usr is Debian's (distroless); any other prefix is a from-source build.
  assert.equal(siteDirOf(tree(), "/usr/bin/python3.11", [3, 11]), "/usr/lib/python3/dist-packages");
  assert.equal(
    siteDirOf(tree(), "/root/.pyenv/versions/3.11.7/bin/python3.11", [3, 11]),
    "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages",
  );
});
