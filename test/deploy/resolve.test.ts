import assert from "node:assert/strict";
import { test } from "node:test";
import { parseAllDocuments } from "yaml";
import { referencedTargets, resolveYamlText } from "../../src/deploy/resolve.ts";
import { TugError } from "../../src/errors.ts";

const DIGEST = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const ref = (name: string) => `127.0.0.1:5000/demo/${name}@${DIGEST}`;

const MANIFESTS = `# The demo app: a web Deployment and its Service.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # keep in sync with the Service selector
  labels: {app: web, tier: "front"}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      initContainers:
        - name: migrate
          image: "tug://migrate"      # double-quoted
          args: ['--to', latest]
      containers:
        - name: web
          image: tug://web            # built by tug
          ports:
            - containerPort: 8080
          env:
            - name: SIDECAR_IMAGE
              value: 'tug://hello'
            - name: NOT_A_REF
              value: "see tug://web for details"
        - name: proxy
          image: docker.io/library/nginx:1.27
        - {name: hello, image: tug://hello}
---
# Service
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
    - port: 80
      targetPort: 8080
...
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  template:
    spec:
      containers:
        - name: once
          image: >-
            tug://web
      restartPolicy: Never
`;

test("referencedTargets finds every tug:// value in every document", () => {
  assert.deepEqual([...referencedTargets(MANIFESTS)].sort(), ["hello", "migrate", "web"]);
  assert.deepEqual([...referencedTargets("a: 1\n")], []);
  assert.deepEqual([...referencedTargets("")], []);
});

test("resolve replaces only the tug:// scalars, byte for byte elsewhere", async () => {
  const calls: string[] = [];
  const out = await resolveYamlText(MANIFESTS, "k8s/app.yaml", async (name) => {
    calls.push(name);
    return ref(name);
  });
  assert.deepEqual(calls.sort(), ["hello", "migrate", "web"], "one lookup per name");

  const expected = MANIFESTS.replace('"tug://migrate"', `"${ref("migrate")}"`)
    .replace("image: tug://web ", `image: ${ref("web")} `)
    .replace("'tug://hello'", `'${ref("hello")}'`)
    .replace("image: tug://hello}", `image: ${ref("hello")}}`)
    .replace("            tug://web\n", `            ${ref("web")}\n`);
  assert.equal(out, expected);

  // And the result is still the same YAML structure with the digests in place.
  const docs = parseAllDocuments(out).map((d) => d.toJS() as Record<string, unknown>);
  assert.equal(docs.length, 3);
  const json = JSON.stringify(docs);
  assert.ok(!/"tug:\/\/[a-z]/.test(json), "no tug:// value left");
  assert.ok(json.includes("see tug://web for details"), "strings that merely mention tug:// stay");
});

test("CRLF line endings, a BOM and anchors survive", async () => {
  const text = "\uFEFFimage: &img tug://web\r\nother: *img\r\n# tail\r\n";
  const out = await resolveYamlText(text, "x.yaml", async (n) => ref(n));
  assert.equal(out, `\uFEFFimage: &img ${ref("web")}\r\nother: *img\r\n# tail\r\n`);
});

test("text without references comes back unchanged, lookup never called", async () => {
  const text = "a: 1 # c\n---\nb: [x, y]\n";
  const out = await resolveYamlText(text, "x.yaml", async () => assert.fail("no lookup expected"));
  assert.equal(out, text);
});

test("an unknown target is a TugError at the line that names it", async () => {
  const lookup = async (name: string) => {
    if (name === "web") return ref(name);
    throw new TugError({ what: `no image named "${name}" in tug.yaml`, hint: "known images: web" });
  };
  await assert.rejects(resolveYamlText(MANIFESTS, "k8s/app.yaml", lookup), (e) => {
    assert.ok(e instanceof TugError);
    assert.equal(e.what, 'no image named "migrate" in tug.yaml');
    assert.equal(e.where, "k8s/app.yaml:19:18");
    assert.equal(e.hint, "known images: web");
    return true;
  });
});

test("errors that already say where, and internal errors, pass through", async () => {
  const located = new TugError({ what: "build failed", where: "images.web (tug.yaml:3)" });
  await assert.rejects(
    resolveYamlText("image: tug://web\n", "x.yaml", async () => Promise.reject(located)),
    (e) => e === located,
  );
  const bug = new Error("boom");
  await assert.rejects(
    resolveYamlText("image: tug://web\n", "x.yaml", async () => Promise.reject(bug)),
    (e) => e === bug,
  );
});

test("a malformed tug:// reference is reported at its line", async () => {
  await assert.rejects(
    resolveYamlText("a: 1\nimage: tug://web:v1\n", "x.yaml", async (n) => ref(n)),
    (e) => e instanceof TugError && e.where === "x.yaml:2:8" && /not a tug reference/.test(e.what),
  );
});

test("invalid YAML is reported with file:line", async () => {
  await assert.rejects(
    resolveYamlText("a: 1\n---\nimage: [tug://web\nb: 2\n", "chart.yaml", async (n) => ref(n)),
    (e) =>
      e instanceof TugError &&
      /^chart\.yaml:[34]:\d+$/.test(e.where ?? "") &&
      /helm template/.test(e.hint ?? ""),
  );
});

test("mapping keys that look like references are not replaced", async () => {
  const text = "tug://web: tug://web\n";
  const out = await resolveYamlText(text, "x.yaml", async (n) => ref(n));
  assert.equal(out, `tug://web: ${ref("web")}\n`);
});
