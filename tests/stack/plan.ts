// What `pulumi up` would do going from one render of the program to another: each resource (by type and name, as
// its URN) created, updated, replaced (and whether delete-first) or deleted, decided with the providers'
// replace-forcing properties below. The engine asks the provider for the real diff; this table is what the
// transition tests rely on instead, and the preview gate (scripts/preview-gate.ts) checks the real one on AWS.
import { canonicalJson } from "./mocks";
import { STATEFUL_TYPES } from "../../scripts/preview-gate";

export interface PlannedResource {
    type: string;
    name: string;
    inputs: unknown;
    options?: { protect?: boolean; ignoreChanges?: string[]; deleteBeforeReplace?: boolean };
}

interface ReplaceRule {
    /** Top-level inputs whose change replaces the resource. */
    replaceOn: string[];
    /** The input that names the resource in AWS: set explicitly, a replacement must delete first. */
    nameInput?: string;
    /** Where the provider says so. */
    source: string;
}

const TF_AWS = "hashicorp/terraform-provider-aws";

/**
 * Replace-forcing inputs of the stateful resources (ForceNew / RequiresReplace in the provider's schema), and the
 * delete-first rule of pulumi-terraform-bridge (`nameRequiresDeleteBeforeReplace` in pkg/tfbridge/schema.go: an
 * auto-nameable property set by the program, not by the autonamer, makes a replacement delete first).
 */
export const REPLACE_RULES: Record<string, ReplaceRule> = {
    "aws:rds/instance:Instance": {
        replaceOn: [
            "identifier",
            "identifierPrefix",
            "engine",
            "dbName",
            "username",
            "storageEncrypted",
            "kmsKeyId",
            "availabilityZone",
            "characterSetName",
            "ncharCharacterSetName",
            "timezone",
            "snapshotIdentifier",
            "restoreToPointInTime",
            "customIamInstanceProfile",
            "engineLifecycleSupport",
        ],
        nameInput: "identifier",
        source: `${TF_AWS} internal/service/rds/instance.go (ForceNew); engineLifecycleSupport: the RDS API takes it only in CreateDBInstance and the Restore calls, so a change cannot be applied in place`,
    },
    "aws:rds/parameterGroup:ParameterGroup": {
        replaceOn: ["name", "namePrefix", "family", "description"],
        nameInput: "name",
        source: `${TF_AWS} internal/service/rds/parameter_group.go (ForceNew)`,
    },
    "aws:rds/subnetGroup:SubnetGroup": {
        replaceOn: ["name", "namePrefix"],
        nameInput: "name",
        source: `${TF_AWS} internal/service/rds/subnet_group.go (ForceNew; subnet_ids and description update in place)`,
    },
    "aws:ec2/securityGroup:SecurityGroup": {
        replaceOn: ["name", "namePrefix", "description", "vpcId"],
        nameInput: "name",
        source: `${TF_AWS} internal/service/ec2/vpc_security_group.go (ForceNew)`,
    },
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": {
        replaceOn: ["securityGroupId"],
        source: `${TF_AWS} internal/service/ec2/vpc_security_group_ingress_rule.go (RequiresReplace on security_group_id)`,
    },
    "eks:index:Cluster": {
        replaceOn: ["name", "vpcId", "publicSubnetIds", "privateSubnetIds", "serviceRole", "encryptionConfigKeyArn"],
        nameInput: "name",
        source: `${TF_AWS} internal/service/eks/cluster.go (name, role_arn, vpc_config subnets, encryption_config ForceNew), passed through by pulumi/pulumi-eks nodejs/eks/cluster.ts`,
    },
    "aws:eks/cluster:Cluster": {
        replaceOn: ["name", "roleArn", "encryptionConfig", "bootstrapSelfManagedAddons"],
        nameInput: "name",
        source: `${TF_AWS} internal/service/eks/cluster.go (ForceNew)`,
    },
    "aws:eks/nodeGroup:NodeGroup": {
        replaceOn: [
            "clusterName",
            "nodeGroupName",
            "nodeGroupNamePrefix",
            "nodeRoleArn",
            "subnetIds",
            "amiType",
            "capacityType",
            "instanceTypes",
            "diskSize",
            "remoteAccess",
        ],
        nameInput: "nodeGroupName",
        source: `${TF_AWS} internal/service/eks/node_group.go (ForceNew)`,
    },
    "eks:index:ManagedNodeGroup": {
        replaceOn: [
            "cluster",
            "nodeGroupName",
            "nodeGroupNamePrefix",
            "nodeRole",
            "nodeRoleArn",
            "subnetIds",
            "amiType",
            "capacityType",
            "instanceTypes",
            "diskSize",
            "remoteAccess",
        ],
        nameInput: "nodeGroupName",
        source: `${TF_AWS} internal/service/eks/node_group.go (ForceNew; version, scaling_config and launch_template version update in place)`,
    },
    "aws:ecr/repository:Repository": {
        replaceOn: ["name", "encryptionConfigurations"],
        nameInput: "name",
        source: `${TF_AWS} internal/service/ecr/repository.go (ForceNew)`,
    },
    "aws:cloudwatch/logGroup:LogGroup": {
        replaceOn: ["name", "namePrefix", "logGroupClass"],
        nameInput: "name",
        source: `${TF_AWS} internal/service/logs/group.go (ForceNew; retention_in_days updates in place)`,
    },
    "random:index/randomPassword:RandomPassword": {
        replaceOn: [
            "length",
            "special",
            "upper",
            "lower",
            "numeric",
            "minSpecial",
            "minUpper",
            "minLower",
            "minNumeric",
            "overrideSpecial",
            "keepers",
        ],
        source: "hashicorp/terraform-provider-random internal/provider/resource_password.go (every attribute RequiresReplace)",
    },
    "random:index/randomId:RandomId": {
        replaceOn: ["byteLength", "prefix", "keepers"],
        source: "hashicorp/terraform-provider-random internal/provider/resource_id.go (RequiresReplace)",
    },
    // Kubernetes objects named in metadata.name are replaced delete-first (pulumi-kubernetes provider.go Diff).
    "kubernetes:batch/v1:Job": {
        // Of spec the provider replaces on completions, parallelism, selector and template: all the Job ever changes.
        replaceOn: ["spec"],
        nameInput: "metadata",
        source: "pulumi/pulumi-kubernetes provider/pkg/provider/forcenew.go (Job: .spec.template, .spec.selector)",
    },
    "kubernetes:core/v1:Secret": {
        replaceOn: ["type", "stringData", "data"],
        nameInput: "metadata",
        source: "pulumi/pulumi-kubernetes provider/pkg/provider/forcenew.go (a Secret's data, unless enableSecretMutable)",
    },
    "awsx:ec2:Vpc": {
        replaceOn: ["cidrBlock", "availabilityZoneNames"],
        source: `${TF_AWS} internal/service/ec2/vpc_.go and vpc_subnet.go (cidr_block, availability_zone ForceNew), through pulumi/pulumi-awsx awsx/ec2/vpc.ts`,
    },
};

export { STATEFUL_TYPES };

export interface Plan {
    create: string[];
    update: string[];
    /** Replaced; `deleteFirst` when the old one goes before the new one exists. */
    replace: { key: string; deleteFirst: boolean }[];
    delete: string[];
    /** Deletes and replacements the engine refuses because the resource is protected. */
    refusedByProtect: string[];
}

function byKey(resources: PlannedResource[]): Map<string, PlannedResource> {
    return new Map(resources.map((r) => [`${r.type}::${r.name}`, r]));
}

/** The top-level inputs that differ, leaving out those the new declaration ignores (ignoreChanges). */
export function changedInputs(before: PlannedResource, after: PlannedResource): string[] {
    const [a, b] = [before.inputs as Record<string, unknown>, after.inputs as Record<string, unknown>];
    const ignored = after.options?.ignoreChanges ?? [];
    return [...new Set([...Object.keys(a), ...Object.keys(b)])]
        .filter((key) => !key.startsWith("__") && !ignored.includes(key))
        .filter((key) => canonicalJson(a[key], "unwrapped") !== canonicalJson(b[key], "unwrapped"))
        .sort();
}

/** What the engine would do going from the `before` render (the state) to the `after` render (the program). */
export function plan(before: PlannedResource[], after: PlannedResource[]): Plan {
    const [old, next] = [byKey(before), byKey(after)];
    const result: Plan = { create: [], update: [], replace: [], delete: [], refusedByProtect: [] };
    for (const [key, resource] of next) {
        const previous = old.get(key);
        if (previous === undefined) {
            result.create.push(key);
            continue;
        }
        const changed = changedInputs(previous, resource);
        if (changed.length === 0) {
            continue;
        }
        const rule = REPLACE_RULES[resource.type];
        if (rule !== undefined && changed.some((input) => rule.replaceOn.includes(input))) {
            const named =
                rule.nameInput !== undefined &&
                (resource.inputs as Record<string, unknown>)[rule.nameInput] !== undefined;
            result.replace.push({ key, deleteFirst: named || resource.options?.deleteBeforeReplace === true });
            if (previous.options?.protect === true) {
                result.refusedByProtect.push(key);
            }
        } else {
            result.update.push(key);
        }
    }
    for (const [key, resource] of old) {
        if (!next.has(key)) {
            result.delete.push(key);
            if (resource.options?.protect === true) {
                result.refusedByProtect.push(key);
            }
        }
    }
    for (const list of [result.create, result.update, result.delete, result.refusedByProtect]) {
        list.sort();
    }
    result.replace.sort((a, b) => a.key.localeCompare(b.key));
    return result;
}

/** The keys of a list that belong to the stateful types. */
export function stateful(keys: string[]): string[] {
    return keys.filter((key) => STATEFUL_TYPES.some((type) => key.startsWith(`${type}::`)));
}

interface Linked {
    type: string;
    name: string;
    urn: string;
    parent: string;
    dependencies: string[];
}

/**
 * The order `pulumi destroy` deletes in: a resource goes once nothing left depends on it or is its child (the
 * engine's reverse dependency order; ties broken by key, which the engine runs in parallel).
 */
export function destroyOrder(resources: Linked[]): string[] {
    const remaining = new Map(resources.map((r) => [r.urn, r]));
    const order: string[] = [];
    while (remaining.size > 0) {
        const needed = new Set([...remaining.values()].flatMap((r) => [...r.dependencies, r.parent]));
        const free = [...remaining.values()].filter((r) => !needed.has(r.urn));
        if (free.length === 0) {
            throw new Error(`a dependency cycle among ${[...remaining.keys()].join(", ")}`);
        }
        for (const r of free.sort((a, b) => `${a.type}::${a.name}`.localeCompare(`${b.type}::${b.name}`))) {
            order.push(`${r.type}::${r.name}`);
            remaining.delete(r.urn);
        }
    }
    return order;
}
