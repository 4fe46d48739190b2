import type { Command } from "commander";
import { parseReference } from "../oci/reference.ts";
import { refuseCredentialsInReference } from "../oci/registry/reference-credentials.ts";
import { cli } from "./context.ts";

const collect = (v: string, prev: string[]) => [...prev, v];

export function verifyCommand(program: Command): void {
  program
    .command("verify")
    .argument("<ref>", "image reference (REPO:TAG or REPO@sha256:…)")
    .description(
      "check an image's cosign signature with a public key, and that its SBOM/provenance describe it",
    )
    .requiredOption("--key <cosign.pub>", "PEM public key (ECDSA P-256)")
    .option("--insecure-registry <host>", "allow plain HTTP to this registry (repeatable)", collect, [])
    .option("--json", "print one JSON document on stdout")
    .action(async (ref: string, flags: { key: string; insecureRegistry: string[]; json?: boolean }) => {
      refuseCredentialsInReference(ref, "tug verify");
      const [{ loadPublicKey }, { verifyImage }, { RegistryClient }] = await Promise.all([
        import("../sign/keys.ts"),
        import("../sign/verify-image.ts"),
        import("../oci/registry/client.ts"),
      ]);
      const key = await loadPublicKey(flags.key);
      const client = new RegistryClient({ insecureRegistries: flags.insecureRegistry });
      try {
        const report = await verifyImage({ ref: parseReference(ref), key, keyPath: flags.key, client });
        if (flags.json) cli.stdout.write(`${JSON.stringify(report)}\n`);
        else {
          cli.stdout.write(`${report.reference}@${report.digest}: signature verified with ${flags.key}\n`);
          for (const r of report.referrers)
            cli.stdout.write(`  ${r.artifactType || "artifact"} ${r.digest} describes ${r.subject}\n`);
        }
      } finally {
        await client.close();
      }
    });
}
