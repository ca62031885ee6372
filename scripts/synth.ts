// Renders the stack offline with the test mocks: every Kubernetes object it declares as YAML under
// build/synth/k8s/, and an inventory of everything else (AWS resources, Helm releases) in
// build/synth/aws-inventory.json. Secret values are replaced, never written.
// Usage: npm run synth
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import YAML from "yaml";
import { RecordedResource, isSecretInput, setStackConfig } from "../tests/stack/mocks";
import { renderProgram } from "./render";

const OUT_DIR = path.join(__dirname, "..", "build", "synth");
const K8S_DIR = path.join(OUT_DIR, "k8s");
const REDACTED = "REDACTED-SECRET";

/** Kubernetes objects are rendered as manifests; a Helm release is an AWS-side install step, listed in the inventory. */
function isKubernetesObject(resource: RecordedResource): boolean {
    return resource.type.startsWith("kubernetes:") && resource.type !== "kubernetes:helm.sh/v3:Release";
}

/** Our own ComponentResources and the providers are structure, not infrastructure. */
function isInfrastructure(resource: RecordedResource): boolean {
    return !resource.type.startsWith("fastapi:") && !resource.type.startsWith("pulumi:providers:");
}

function sanitized(value: unknown): unknown {
    if (isSecretInput(value)) {
        return redactedLeaves((value as { value: unknown }).value);
    }
    if (pulumi.Resource.isInstance(value)) {
        return "(reference to another resource in this inventory)";
    }
    if (Array.isArray(value)) {
        return value.map(sanitized);
    }
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, sanitized(inner)]));
    }
    return value;
}

/** Keeps the shape of a secret (its keys) so manifests stay valid, but none of its values. */
function redactedLeaves(value: unknown): unknown {
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
        return Object.fromEntries(Object.keys(value).map((key) => [key, REDACTED]));
    }
    return REDACTED;
}

function manifestFileName(index: number, manifest: Record<string, any>): string { // `any`: a manifest is free-form JSON
    return `${String(index + 1).padStart(2, "0")}-${String(manifest.kind).toLowerCase()}-${manifest.metadata.name}.yaml`;
}

async function main(): Promise<void> {
    const recorded = await renderProgram(() => setStackConfig());

    fs.rmSync(OUT_DIR, { recursive: true, force: true });
    fs.mkdirSync(K8S_DIR, { recursive: true });

    const manifests = recorded.filter(isKubernetesObject).map((resource) => sanitized(resource.inputs) as Record<string, any>);
    manifests.forEach((manifest, index) => {
        fs.writeFileSync(path.join(K8S_DIR, manifestFileName(index, manifest)), YAML.stringify(manifest));
    });

    const inventory = recorded.filter((r) => isInfrastructure(r) && !isKubernetesObject(r))
        .map((resource) => ({ type: resource.type, name: resource.name, inputs: sanitized(resource.inputs) }));
    fs.writeFileSync(path.join(OUT_DIR, "aws-inventory.json"), `${JSON.stringify(inventory, null, 2)}\n`);

    console.log(`synth: ${manifests.length} Kubernetes objects -> ${path.relative(process.cwd(), K8S_DIR)}/`);
    console.log(`synth: ${inventory.length} AWS resources and add-ons -> ${path.relative(process.cwd(), path.join(OUT_DIR, "aws-inventory.json"))}`);
}

main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
