// Renders the stack offline with the test mocks, as a stack without databaseUrl (the managed database, the
// default deploy) declares it: every Kubernetes object as YAML under
// build/synth/k8s/, an inventory of everything else (AWS resources, Helm releases) in
// build/synth/aws-inventory.json, and the database's AWS resources in Terraform's JSON syntax in
// build/synth/terraform/ for scanners that read Terraform. Secret values are replaced, never written.
// Usage: npm run synth
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import YAML from "yaml";
import { RecordedResource, isSecretInput, prefixedName, setStackConfig } from "./lib/mocks";
import { renderProgram } from "./lib/render";
import { isStructure } from "../cost/estimate";

const OUT_DIR = path.join(__dirname, "..", "build", "synth");
const K8S_DIR = path.join(OUT_DIR, "k8s");
const REDACTED = "REDACTED-SECRET";
const TERRAFORM_DIR = path.join(OUT_DIR, "terraform");

/**
 * The Terraform resource types behind the managed database's Pulumi types. The AWS provider is bridged from
 * Terraform's, so the inputs are Terraform's arguments in camelCase, and nested blocks are lists of objects.
 */
const TERRAFORM_TYPES: Record<string, string> = {
    "aws:rds/instance:Instance": "aws_db_instance",
    "aws:rds/parameterGroup:ParameterGroup": "aws_db_parameter_group",
    "aws:rds/subnetGroup:SubnetGroup": "aws_db_subnet_group",
    "aws:ec2/securityGroup:SecurityGroup": "aws_security_group",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "aws_vpc_security_group_ingress_rule",
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
};
/** Pulumi's plural name of a Terraform block, where it differs. */
const TERRAFORM_BLOCKS: Record<string, string> = { parameters: "parameter" };
/** Arguments that hold another of these resources' id or name, and the Terraform type they point to. */
const REFERENCES: Record<string, { type: string; attribute: "id" | "name" }> = {
    vpcSecurityGroupIds: { type: "aws_security_group", attribute: "id" },
    securityGroupId: { type: "aws_security_group", attribute: "id" },
    dbSubnetGroupName: { type: "aws_db_subnet_group", attribute: "name" },
    parameterGroupName: { type: "aws_db_parameter_group", attribute: "name" },
};

function snakeCase(key: string): string {
    return key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/**
 * The database's resources as one Terraform JSON file. Values the mocks derived from another of these resources
 * (its id, its name) become Terraform references, so graph checks see which resources are attached to which.
 */
function terraformShaped(resources: RecordedResource[]): Record<string, unknown> {
    const converted = resources
        .filter((r) => r.type in TERRAFORM_TYPES)
        .map((r) => ({ resource: r, type: TERRAFORM_TYPES[r.type], label: r.name.replace(/\W/g, "_") }));
    // The mocks give a resource the id `<name>-id` and hand its `name` input back as its name (or one made from its
    // `namePrefix`, as the provider would).
    const nameOf = ({ inputs }: RecordedResource): string =>
        typeof inputs.namePrefix === "string" ? prefixedName(inputs.namePrefix) : String(inputs.name);
    const target = (key: string, value: string): string | undefined => {
        const pointer = REFERENCES[key];
        const found = converted.find(
            (c) =>
                c.type === pointer?.type &&
                value === (pointer.attribute === "id" ? `${c.resource.name}-id` : nameOf(c.resource)),
        );
        return found === undefined ? undefined : `\${${found.type}.${found.label}.${pointer.attribute}}`;
    };
    const reference = (key: string, value: unknown): unknown => {
        if (Array.isArray(value)) {
            return value.map((item) => reference(key, item));
        }
        return typeof value === "string" ? (target(key, value) ?? value) : value;
    };
    const body: Record<string, Record<string, unknown>> = {};
    for (const { resource, type, label } of converted) {
        const inputs = sanitized(resource.inputs) as Record<string, unknown>;
        body[type] = {
            ...body[type],
            [label]: Object.fromEntries(
                Object.entries(inputs)
                    .filter(([key]) => !key.startsWith("__"))
                    .map(([key, value]) => [
                        TERRAFORM_BLOCKS[key] ?? snakeCase(key),
                        Array.isArray(value) && TERRAFORM_BLOCKS[key] !== undefined
                            ? value.map((block: Record<string, unknown>) =>
                                  Object.fromEntries(Object.entries(block).map(([k, v]) => [snakeCase(k), v])),
                              )
                            : reference(key, value),
                    ]),
            ),
        };
    }
    return { resource: body };
}

/** Kubernetes objects are rendered as manifests; a Helm release is an AWS-side install step, listed in the inventory. */
function isKubernetesObject(resource: RecordedResource): boolean {
    return resource.type.startsWith("kubernetes:") && resource.type !== "kubernetes:helm.sh/v3:Release";
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

/** The fields of a Kubernetes object that name its file; the rest is written as declared. */
interface Manifest {
    kind: string;
    metadata: { name: string };
}

function manifestFileName(index: number, manifest: Manifest): string {
    return `${String(index + 1).padStart(2, "0")}-${String(manifest.kind).toLowerCase()}-${manifest.metadata.name}.yaml`;
}

async function main(): Promise<void> {
    const recorded = await renderProgram(() => setStackConfig({}, false));

    fs.rmSync(OUT_DIR, { recursive: true, force: true });
    fs.mkdirSync(K8S_DIR, { recursive: true });

    const manifests = recorded.filter(isKubernetesObject).map((resource) => sanitized(resource.inputs) as Manifest);
    manifests.forEach((manifest, index) => {
        fs.writeFileSync(path.join(K8S_DIR, manifestFileName(index, manifest)), YAML.stringify(manifest));
    });

    const inventory = recorded
        .filter((r) => !isStructure(r.type) && !isKubernetesObject(r))
        .map((resource) => ({ type: resource.type, name: resource.name, inputs: sanitized(resource.inputs) }));
    fs.writeFileSync(path.join(OUT_DIR, "aws-inventory.json"), `${JSON.stringify(inventory, null, 2)}\n`);

    fs.mkdirSync(TERRAFORM_DIR, { recursive: true });
    fs.writeFileSync(
        path.join(TERRAFORM_DIR, "database.tf.json"),
        `${JSON.stringify(terraformShaped(recorded), null, 2)}\n`,
    );

    console.log(`synth: ${manifests.length} Kubernetes objects -> ${path.relative(process.cwd(), K8S_DIR)}/`);
    console.log(
        `synth: ${inventory.length} AWS resources and add-ons -> ${path.relative(process.cwd(), path.join(OUT_DIR, "aws-inventory.json"))}`,
    );
}

main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
