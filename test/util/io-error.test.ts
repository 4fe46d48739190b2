import assert from "node:assert/strict";
import { test } from "node:test";
import { TugError } from "../../src/errors.ts";
import { ioError, isIoFailure, targetOfTemp, writingTo } from "../../src/util/io-error.ts";

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: something, write`), { code, errno: -1, syscall: "write" });
}

test("each file-system failure becomes one TugError naming the path and what was written", () => {
  const cases: Array<[string, RegExp]> = [
    ["ENOSPC", /^no space left on device while writing the zip out\/api\.zip \(ENOSPC\)$/],
    ["EDQUOT", /^disk quota exceeded while writing/],
    ["EIO", /^I\/O error .* while writing the zip out\/api\.zip \(EIO\)$/],
    ["EACCES", /^permission denied while writing/],
    ["EPERM", /^operation not permitted while writing/],
    ["EROFS", /^read-only file system while writing/],
    ["EFBIG", /^file too large for its file system while writing/],
  ];
  for (const [code, what] of cases) {
    const cause = errno(code);
    const e = ioError(cause, { path: "out/api.zip", writing: "the zip" });
    assert.ok(e instanceof TugError, code);
    assert.match(e.what, what);
    assert.equal(e.where, "out/api.zip");
    assert.ok(e.hint);
    assert.equal(e.cause, cause);
    assert.ok(isIoFailure(cause));
  }
});

test("other errors and TugErrors come back unchanged (bugs keep their stack)", () => {
  const bug = new TypeError("x is undefined");
  assert.equal(ioError(bug, { path: "p", writing: "w" }), bug);
  const gone = errno("ENOENT");
  assert.equal(ioError(gone, { path: "p", writing: "w" }), gone);
  const clear = new TugError({ what: "already clear" });
  assert.equal(ioError(clear, { path: "p", writing: "w" }), clear);
  assert.equal(ioError("a string", { path: "p", writing: "w" }), "a string");
  assert.equal(isIoFailure(undefined), false);
});

test("a temp path is shown as the file it was written for", () => {
  assert.equal(targetOfTemp("/o/lambdas/api.zip.123.ab12cd34ef56.tmp"), "/o/lambdas/api.zip");
  assert.equal(targetOfTemp("/o/lambdas/.api.zip.12.ab12cd34ef.tmp.12.ab12cd34ff.tmp"), "/o/lambdas/api.zip");
  assert.equal(targetOfTemp("/o/.hidden"), "/o/.hidden");
  assert.equal(targetOfTemp("/o/api.zip"), "/o/api.zip");
});

test("writingTo passes results through and describes failures", async () => {
  assert.equal(await writingTo({ path: "p", writing: "w" }, async () => 42), 42);
  await assert.rejects(
    writingTo({ path: "cache", writing: "a record" }, () => Promise.reject(errno("EROFS"))),
    (e: unknown) =>
      e instanceof TugError && /read-only file system while writing a record cache/.test(e.what),
  );
});
