// The stack's lifecycle rules as CrossGuard policies, checked by `pulumi preview` and `pulumi up` on the real
// resources. Kept apart from index.ts, whose PolicyPack starts serving when constructed, so tests can import them.
import type { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";

export const EXTENDED_SUPPORT_DISABLED = "open-source-rds-extended-support-disabled";

/** The policy configuration: `teardown` lets step 1 of the documented teardown release the instance's protection. */
export interface LifecycleConfig {
    teardown: boolean;
}

const RDS_INSTANCE = "aws:rds/instance:Instance";
const LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup";
const KUBERNETES_PROVIDER = "pulumi:providers:kubernetes";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
/** The master user's URL (workload.ts MIGRATOR_SECRET): for the migration Job alone. */
export const MIGRATOR_SECRET = "fastapi-database-migrator";

/** The Secrets a pod template reads: env from one key, env from all keys, or a volume. */
export function secretsReferenced(value: unknown): string[] {
    if (Array.isArray(value)) {
        return value.flatMap(secretsReferenced);
    }
    if (typeof value !== "object" || value === null) {
        return [];
    }
    return Object.entries(value).flatMap(([key, inner]) => {
        const named = inner as { name?: unknown; secretName?: unknown } | null;
        const own =
            (key === "secretKeyRef" || key === "secretRef") && typeof named?.name === "string"
                ? [named.name]
                : key === "secret" && typeof named?.secretName === "string"
                  ? [named.secretName]
                  : [];
        return [...own, ...secretsReferenced(inner)];
    });
}

function isTrue(value: unknown): boolean {
    return value === true || value === "true";
}

/** Unset outside a policy run (the config is read only when the engine serves one). */
function teardown(args: ResourceValidationArgs): boolean {
    return args.getConfig<LifecycleConfig>().teardown === true;
}

export const policies: ResourceValidationPolicy[] = [
    {
        name: "rds-instance-encrypted",
        description: "The RDS instance encrypts its storage (it cannot be changed after creation).",
        enforcementLevel: "mandatory",
        validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
            if (args.type === RDS_INSTANCE && !isTrue(args.props.storageEncrypted)) {
                reportViolation(`${args.name}: storageEncrypted must be true`);
            }
        },
    },
    {
        name: "rds-instance-deletion-protected",
        description:
            "The RDS instance carries RDS deletion protection and Pulumi's protect, except in step 1 of the documented teardown (policy config teardown: true).",
        enforcementLevel: "mandatory",
        configSchema: { properties: { teardown: { type: "boolean", default: false } } },
        validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
            if (args.type !== RDS_INSTANCE || teardown(args)) {
                return;
            }
            if (!isTrue(args.props.deletionProtection)) {
                reportViolation(
                    `${args.name}: deletionProtection must be true (databaseDeletionProtection); to tear down, run with the policy config teardown: true (docs/operating.md#teardown-with-the-managed-database)`,
                );
            }
            if (!args.opts.protect) {
                reportViolation(`${args.name}: the resource option protect must be set`);
            }
        },
    },
    {
        name: "rds-instance-extended-support-off",
        description: "The RDS instance is created with extended support disabled, so RDS bills no extended support.",
        enforcementLevel: "mandatory",
        validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
            if (args.type === RDS_INSTANCE && args.props.engineLifecycleSupport !== EXTENDED_SUPPORT_DISABLED) {
                reportViolation(`${args.name}: engineLifecycleSupport must be ${EXTENDED_SUPPORT_DISABLED}`);
            }
        },
    },
    {
        name: "kubernetes-provider-without-delete-unreachable",
        description:
            "No Kubernetes provider sets deleteUnreachable: any failed read (an expired login) would drop every object from the state.",
        enforcementLevel: "mandatory",
        validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
            if (args.type === KUBERNETES_PROVIDER && isTrue(args.props.deleteUnreachable)) {
                reportViolation(
                    `${args.name}: deleteUnreachable belongs to the recovery procedure (PULUMI_K8S_DELETE_UNREACHABLE for one run), not to the provider`,
                );
            }
        },
    },
    {
        name: "service-without-master-credentials",
        description:
            "No Deployment reads the migrator's Secret: the service connects as its own role, and only the migration Job holds the master password.",
        enforcementLevel: "mandatory",
        validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
            if (args.type === DEPLOYMENT && secretsReferenced(args.props).includes(MIGRATOR_SECRET)) {
                reportViolation(`${args.name}: reads the Secret ${MIGRATOR_SECRET}, which only the migration Job may`);
            }
        },
    },
    {
        name: "log-group-retention",
        description: "Every CloudWatch log group the stack creates has a retention.",
        enforcementLevel: "mandatory",
        validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
            const days = Number(args.props.retentionInDays ?? 0);
            if (args.type === LOG_GROUP && !(days > 0)) {
                reportViolation(`${args.name}: retentionInDays must be set (CloudWatch keeps logs forever otherwise)`);
            }
        },
    },
];
