/** Nodes the pods spread over, so that losing one never takes every pod. */
export const MIN_NODES_WITH_PODS = 2;

export type NodeCapacityType = "ON_DEMAND" | "SPOT";

/** x86_64 families whose listed sizes have the same vCPUs and memory (docs/configuration.md#spot-instance-types). */
const SAME_SHAPE_FAMILIES: { families: string[]; sizes: string[] }[] = [
    { families: ["t3", "t3a"], sizes: ["micro", "small"] },
    { families: ["t3", "t3a", "t2"], sizes: ["medium", "large", "xlarge", "2xlarge"] },
    { families: ["m5", "m5a", "m6i", "m6a", "m7i"], sizes: ["large", "xlarge", "2xlarge", "4xlarge"] },
    { families: ["c5", "c5a", "c6i", "c6a", "c7i"], sizes: ["large", "xlarge", "2xlarge", "4xlarge"] },
    { families: ["r5", "r5a", "r6i", "r6a", "r7i"], sizes: ["large", "xlarge", "2xlarge", "4xlarge"] },
];

/** The configured type first; undefined when no family of its shape is known. */
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

export function spotInstanceFamilies(): string {
    return SAME_SHAPE_FAMILIES.map((group) => `${group.families.join("/")} ${group.sizes.join("|")}`).join("; ");
}

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
