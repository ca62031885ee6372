// The node group's capacity rules, shared by the configuration checks, the cluster and the workload.

/** Nodes the service's pods must run on, so that losing one node never takes every pod. */
export const MIN_NODES_WITH_PODS = 2;

export type NodeCapacityType = "ON_DEMAND" | "SPOT";

/**
 * x86_64 families (the nodes run the AL2023 x86_64 AMI) whose sizes listed with them have the same vCPUs and memory.
 * The cluster autoscaler sizes a node group from one instance type, so every type a spot node group offers must have
 * the same shape; offering several spot pools per zone keeps scaling going when one pool runs short.
 * (t2 joins only from medium up: t2.nano/micro/small have one vCPU where t3 has two.)
 */
const SAME_SHAPE_FAMILIES: { families: string[]; sizes: string[] }[] = [
    { families: ["t3", "t3a"], sizes: ["micro", "small"] },
    { families: ["t3", "t3a", "t2"], sizes: ["medium", "large", "xlarge", "2xlarge"] },
    { families: ["m5", "m5a", "m6i", "m6a", "m7i"], sizes: ["large", "xlarge", "2xlarge", "4xlarge"] },
    { families: ["c5", "c5a", "c6i", "c6a", "c7i"], sizes: ["large", "xlarge", "2xlarge", "4xlarge"] },
    { families: ["r5", "r5a", "r6i", "r6a", "r7i"], sizes: ["large", "xlarge", "2xlarge", "4xlarge"] },
];

/** The configured type first, then the other families of the same shape; undefined when none is known. */
export function spotInstanceTypes(instanceType: string): string[] | undefined {
    const [family, size] = instanceType.split(".");
    const group = SAME_SHAPE_FAMILIES.find(
        (candidate) => candidate.families.includes(family) && candidate.sizes.includes(size),
    );
    return (
        group && [
            instanceType,
            ...group.families.filter((other) => other !== family).map((other) => `${other}.${size}`),
        ]
    );
}

/** The families and sizes a spot node group can be built from, for error messages. */
export function spotInstanceFamilies(): string {
    return SAME_SHAPE_FAMILIES.map((group) => `${group.families.join("/")} ${group.sizes.join("|")}`).join("; ");
}

/** The types a node group of that capacity type offers: the configured one, or for spot every type of its shape. */
export function nodeInstanceTypes(instanceType: string, capacityType: NodeCapacityType): string[] {
    if (capacityType === "ON_DEMAND") {
        return [instanceType];
    }
    const types = spotInstanceTypes(instanceType);
    if (types === undefined) {
        throw new Error(`no instance types of the same shape as ${instanceType} are known for a spot node group`);
    }
    return types;
}
