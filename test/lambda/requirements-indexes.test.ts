import assert from "node:assert/strict";
import { test } from "node:test";
import { TugError } from "../../src/errors.ts";
import type { IndexOption } from "../../src/python/requirements-file.ts";
import { indexUrlsWithFileOptions } from "../../src/python/requirements-indexes.ts";

const PYPI = "https://pypi.org/simple";
const opt = (
  option: IndexOption["option"],
  url: string,
  line: number,
  file = "requirements.txt",
): IndexOption => ({
  option,
  url,
  file,
  line,
});
const urls = (options: IndexOption[], more: { indexUrl?: string; env?: NodeJS.ProcessEnv } = {}) =>
  indexUrlsWithFileOptions({
    indexUrl: more.indexUrl,
    extraIndexUrls: ["https://extra.example/simple"],
    env: more.env ?? {},
    defaultUrl: PYPI,
    options,
  });

test("a file's --index-url replaces the default and PIP_INDEX_URL; its extras follow python.extra_index_urls", () => {
  assert.deepEqual(
    urls(
      [
        opt("--index-url", "https://mirror.example/simple", 1),
        opt("--extra-index-url", "https://more.example/simple", 2),
      ],
      {
        env: {
          PIP_INDEX_URL: "https://pip.example/simple",
          PIP_EXTRA_INDEX_URL: "https://pipx.example/simple",
        },
      },
    ),
    ["https://mirror.example/simple", "https://extra.example/simple", "https://more.example/simple"],
  );
  // Only extras: the configured index stays, the extras are added once.
  assert.deepEqual(urls([opt("--extra-index-url", "https://extra.example/simple/", 3)]), [
    PYPI,
    "https://extra.example/simple",
  ]);
  // The same index as tug.yaml's (trailing slash aside) is no conflict.
  assert.deepEqual(
    urls([opt("--index-url", "https://mirror.example/simple/", 1)], {
      indexUrl: "https://mirror.example/simple",
    })[0],
    "https://mirror.example/simple/",
  );
});

test("two different indexes, in the file and in tug's settings or in two files, are one error naming both, without logins", () => {
  assert.throws(
    () =>
      urls([opt("--index-url", "https://user:secret@a.example/simple", 1)], {
        indexUrl: "https://b.example/simple",
      }),
    (e: unknown) =>
      e instanceof TugError &&
      e.where === "requirements.txt:1" &&
      /https:\/\/a\.example\/simple.*https:\/\/b\.example\/simple/.test(e.what) &&
      !e.what.includes("secret"),
  );
  assert.throws(
    () =>
      urls([
        opt("--index-url", "https://a.example/simple", 1),
        opt("--index-url", "https://c.example/simple", 4, "base.txt"),
      ]),
    (e: unknown) => e instanceof TugError && e.where === "base.txt:4" && /two indexes/.test(e.what),
  );
  assert.throws(
    () =>
      urls([opt("--index-url", "https://a.example/simple", 1)], {
        env: { TUG_INDEX_URL: "https://t.example/simple" },
      }),
    (e: unknown) => e instanceof TugError && /t\.example/.test(e.what),
  );
});
