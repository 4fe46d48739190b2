// A second reporter beside node's own: one JSON line per test that did not pass, with why
// (`testTimeoutFailure`, `cancelledByParent`, …). scripts/test.mjs fails the run on any, so a
// cancelled test can never pass as "# fail 0".
export default async function* verdictReporter(source) {
  for await (const event of source) {
    if (event.type !== "test:fail" || event.data.todo) continue;
    const { name, file, line, details } = event.data;
    const failureType = details?.error?.failureType ?? "testCodeFailure";
    yield `${JSON.stringify({ name, file, line, failureType })}\n`;
  }
}
