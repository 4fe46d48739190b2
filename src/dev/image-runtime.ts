import { promises as fs } from "node:fs";
import { effectiveRepo } from "../config/index.ts";
import { hostPlatform } from "../config/platform.ts";
import type { ImageTarget, Project } from "../config/types.ts";
import { resolveYamlText } from "../deploy/resolve.ts";
import type { Engine } from "../engine/engine.ts";
import { TugError } from "../errors.ts";
import { type RegistryAccess, registryAccess, registrySink } from "../image/registry-sink.ts";
import { containerRuntime } from "./container-runtime.ts";
import { buildDevImage, devImageDeployer } from "./dev-image.ts";
import { kubePlayRuntime } from "./kube-play-runtime.ts";
import { kubernetesRuntime } from "./kubernetes-runtime.ts";
import type { Runtime } from "./runtime.ts";
import type { Deployer } from "./session.ts";

/** The runtime and deployer for a target whose `dev.runtime` is podman, docker, kube-play or kubernetes. */
export async function imageRuntime(
  target: ImageTarget,
  engine: Engine,
  project: Project,
): Promise<{ runtime: Runtime; deployer: Deployer }> {
  const kind = target.dev?.runtime;
  const platform = hostPlatform();
  if (kind === "podman" || kind === "docker") {
    return {
      runtime: containerRuntime({ cli: kind }),
      deployer: devImageDeployer(engine, target, project, platform),
    };
  }
  if (kind === "kube-play") {
    return {
      runtime: kubePlayRuntime({ manifests: target.dev?.manifests ?? [] }),
      deployer: devImageDeployer(engine, target, project, platform),
    };
  }
  if (kind !== "kubernetes") throw new TugError({ what: `unknown dev runtime ${kind}`, where: target.where });
  const repo = effectiveRepo(project, undefined, process.env);
  if (!repo) {
    throw new TugError({
      what: "the kubernetes dev runtime needs a repository the cluster can pull from",
      where: target.where,
      hint: "set repo: in tug.yaml or TUG_REPO",
    });
  }
  const manifests: string[] = [];
  const runtime = kubernetesRuntime({
    selector: target.dev?.selector ?? `app=${target.name}`,
    ...(target.dev?.namespace ? { namespace: target.dev.namespace } : {}),
    manifests,
  });
  const registry = registryAccess();
  return { runtime, deployer: kubernetesDeployer({ engine, target, project, repo, registry, manifests }) };
}

/** Builds and pushes the dev image, then resolves `tug://NAME` in the target's manifests to it. */
function kubernetesDeployer(o: {
  engine: Engine;
  target: ImageTarget;
  project: Project;
  repo: string;
  registry: RegistryAccess;
  manifests: string[];
}): Deployer {
  const platform = hostPlatform();
  const sink = registrySink(o.registry, o.engine, { repo: o.repo });
  return {
    async deploy() {
      const dev = await buildDevImage({
        ...o,
        platform,
        compression: { kind: "gzip", level: 1 },
        targets: o.project.targets,
      });
      const published = await sink.publish(dev.image, o.target.name, ["dev"]);
      const texts = await Promise.all(
        (o.target.dev?.manifests ?? []).map(async (file) =>
          resolveYamlText(await fs.readFile(file, "utf8"), file, async (name) => {
            if (name !== o.target.name)
              throw new TugError({ what: `tug://${name} is not this target (${o.target.name})` });
            return published.ref;
          }),
        ),
      );
      // The runtime applies these on its next start.
      o.manifests.splice(0, o.manifests.length, ...texts);
      return {
        spec: { ...dev.spec, image: { layout: "", name: published.ref, digest: published.digest } },
        externals: dev.externals,
      };
    },
  };
}
