import assert from "node:assert/strict";
import test from "node:test";
import { constraintsBeside } from "../../src/lambda/function-requirements.ts";
import { parseRequirementsFile } from "../../src/python/requirements-file.ts";

test("every requirement line a function does not select constrains it, after the -c lines; selected ones do not", () => {
  const file = parseRequirementsFile(
    "# pip-compile output\npandas==2.2.3\nnumpy==1.26.4\npytz==2024.1 ; python_version >= '3.9'\n",
    "requirements.txt",
  );
  const [pandas, numpy, pytz] = file.requirements;
  assert.ok(pandas && numpy && pytz);
  const minus = parseRequirementsFile("urllib3<2\n", "constraints.txt").requirements;
  const constraints = constraintsBeside({ requirements: file.requirements, constraints: minus }, [pandas]);
  assert.deepEqual(
    constraints.map((c) => `${c.file}:${c.line} ${c.name}${c.specifier} ${c.markerText ?? ""}`.trim()),
    [
      "constraints.txt:1 urllib3<2",
      "requirements.txt:3 numpy==1.26.4",
      "requirements.txt:4 pytz==2024.1 python_version >= '3.9'",
    ],
  );
  assert.deepEqual(constraintsBeside({ requirements: file.requirements }, file.requirements), []);
});
