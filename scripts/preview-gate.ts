// Reads `pulumi preview --json` and fails when it would replace or delete a stateful resource, unless the run says
// it is a teardown (--teardown). The transition tests decide with a table of the providers' replace-forcing
// properties; this gate checks the provider's real diff before anything happens.
// Usage: pulumi preview --json | npm run --silent preview:gate [-- --teardown]
import * as fs from "fs";

/** The resources that hold data or whose loss breaks the running service. */
export const STATEFUL_TYPES = [
    "aws:rds/instance:Instance",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:ec2/securityGroup:SecurityGroup",
    "eks:index:Cluster",
    "eks:index:ManagedNodeGroup",
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:ecr/repository:Repository",
    "aws:cloudwatch/logGroup:LogGroup",
];

/** The engine's step operations that remove a resource (pulumi/sdk/go/common/display: StepOp). */
const REMOVING = new Set(["delete", "replace", "create-replacement", "delete-replaced", "discard", "discard-replaced"]);

interface PreviewStep {
    op: string;
    urn: string;
}

export interface Finding {
    op: string;
    type: string;
    urn: string;
}

/** The resource type in a URN: urn:pulumi:<stack>::<project>::<parent types$>type::<name>. */
export function typeOf(urn: string): string {
    const parts = urn.split("::");
    if (parts.length < 4) {
        throw new Error(`'${urn}' is not a Pulumi URN`);
    }
    return parts[2].split("$").pop() ?? "";
}

/** The stateful resources the preview would replace or delete, once per resource and operation. */
export function findings(previewJson: string): Finding[] {
    let preview: { steps?: PreviewStep[] };
    try {
        preview = JSON.parse(previewJson) as { steps?: PreviewStep[] };
    } catch {
        throw new Error("the input is not the JSON of pulumi preview --json");
    }
    if (!Array.isArray(preview.steps)) {
        throw new Error("the preview has no steps: was it run with --json?");
    }
    const seen = new Set<string>();
    return preview.steps
        .filter((step) => REMOVING.has(step.op) && STATEFUL_TYPES.includes(typeOf(step.urn)))
        .map((step) => ({
            op: step.op === "create-replacement" || step.op === "delete-replaced" ? "replace" : step.op,
            type: typeOf(step.urn),
            urn: step.urn,
        }))
        .filter((finding) => {
            const key = `${finding.op} ${finding.urn}`;
            return seen.has(key) ? false : (seen.add(key), true);
        });
}

/** The gate's verdict: the exit code and what to print. */
export function gate(previewJson: string, teardown: boolean): { code: number; lines: string[] } {
    const found = findings(previewJson);
    if (found.length === 0) {
        return { code: 0, lines: ["preview-gate: no stateful resource is replaced or deleted."] };
    }
    const lines = found.map((f) => `${f.op} ${f.type} ${f.urn}`);
    if (teardown) {
        return { code: 0, lines: ["preview-gate: a teardown; these stateful resources go:", ...lines] };
    }
    return {
        code: 1,
        lines: [
            "preview-gate: this update would replace or delete stateful resources (see docs/operating.md#teardown-with-the-managed-database for a deliberate teardown):",
            ...lines,
        ],
    };
}

function main(): void {
    const args = process.argv.slice(2);
    const unknown = args.filter((arg) => arg !== "--teardown");
    if (unknown.length > 0) {
        console.error(
            `preview-gate: unknown argument ${unknown[0]}; usage: pulumi preview --json | npm run --silent preview:gate [-- --teardown]`,
        );
        process.exit(2);
    }
    try {
        const verdict = gate(fs.readFileSync(0, "utf8"), args.includes("--teardown"));
        (verdict.code === 0 ? console.log : console.error)(verdict.lines.join("\n"));
        process.exit(verdict.code);
    } catch (error) {
        console.error(`preview-gate: ${(error as Error).message}`);
        process.exit(2);
    }
}

if (require.main === module) {
    main();
}
