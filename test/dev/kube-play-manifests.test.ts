// What the kube-play runtime hands podman: the dev image's containers run under the supervisor
// with a 127.0.0.1 hostPort, and a private containers.conf that keeps the user's settings.
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseAllDocuments } from "yaml";
import { superviseManifests, ulimitContainersConf } from "../../src/dev/kube-play-runtime.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";

const REF = "localhost/tmp/tug-dev-web-x/layout:latest";

test("superviseManifests: supervisor command, own command kept, pull Never, hostPort for the dev port", () => {
  const pod = `apiVersion: v1
kind: Pod
metadata: { name: p }
spec:
  containers:
    - { name: web, image: ${REF}, ports: [{ containerPort: 8080 }] }
    - { name: side, image: busybox, command: [sleep, "1000"] }
`;
  const deploy = `apiVersion: apps/v1
kind: Deployment
metadata: { name: d }
spec:
  template:
    spec:
      containers:
        - { name: api, image: ${REF}, command: [node], args: [/app/api.js] }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: c }
data: { a: "1" }
`;
  const { yaml, containers } = superviseManifests({
    texts: [pod, deploy],
    ref: REF,
    argv: ["node", "/app/server.js"],
    port: 8080,
  });
  assert.equal(containers, 2);
  const docs = parseAllDocuments(yaml).map((d) => d.toJS());
  assert.equal(docs.length, 3, "other kinds pass through");
  const [web, side] = docs[0].spec.containers;
  assert.deepEqual(web.command, ["/tug/supervisor", "run", "--", "node", "/app/server.js"]);
  assert.equal(web.imagePullPolicy, "Never");
  assert.deepEqual(web.ports, [{ containerPort: 8080, hostPort: 8080, hostIP: "127.0.0.1" }]);
  assert.deepEqual(side.command, ["sleep", "1000"], "other images untouched");
  const api = docs[1].spec.template.spec.containers[0];
  assert.deepEqual(api.command, ["/tug/supervisor", "run", "--", "node", "/app/api.js"]);
  assert.equal(api.args, undefined);
  assert.deepEqual(api.ports, [{ containerPort: 8080, hostPort: 8080, hostIP: "127.0.0.1" }]);
});

test("ulimitContainersConf: the user's containers.conf plus default_ulimits, read back by Python's tomllib", async (t) => {
  const dir = await tempDir(t, "tug-kp-conf-");
  const own = join(dir, "own.conf");
  await fs.writeFile(own, '[containers]\nenv = ["A=1"]\n\n[engine]\nlock_type = "file"\n');
  const path = await ulimitContainersConf({ CONTAINERS_CONF: own }, dir);
  const r = await runTool("python3", [
    "-c",
    "import json,sys,tomllib; print(json.dumps(tomllib.load(open(sys.argv[1],'rb'))))",
    path,
  ]);
  assert.deepEqual(JSON.parse(r.stdout), {
    containers: { env: ["A=1"], default_ulimits: ["nofile=1024:1024", "nproc=1024:1024"] },
    engine: { lock_type: "file" },
  });
});
