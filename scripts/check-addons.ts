// Checks each pinned EKS add-on version (versions.ts) against EKS's own compatibility list for its Kubernetes minor
// (DescribeAddonVersions, compatibilities[].clusterVersion) before a deploy: a pin EKS does not list would fail
// mid-update when the add-on is created or updated. Needs AWS credentials; the lookup is injected for the tests.
// Usage: npm run addons:check [-- <minor> ...]   (no minor: every minor in versions.ts)
import { DescribeAddonVersionsCommand, EKSClient } from "@aws-sdk/client-eks";
import { KUBERNETES_RELEASES, KubernetesVersion } from "../versions";

/** The EKS add-on names of the pins in versions.ts. */
export const ADDON_NAMES = {
    vpcCni: "vpc-cni",
    kubeProxy: "kube-proxy",
    coreDns: "coredns",
    metricsServer: "metrics-server",
} as const;

/** The versions of an add-on EKS lists as compatible with a cluster version. */
export type CompatibleVersions = (addonName: string, kubernetesVersion: string) => Promise<string[]>;

/** Every problem with the pins of these minors; empty when EKS lists each pin for its minor. */
export async function checkAddons(minors: KubernetesVersion[], compatible: CompatibleVersions): Promise<string[]> {
    const problems: string[] = [];
    for (const minor of minors) {
        for (const [key, addonName] of Object.entries(ADDON_NAMES)) {
            const pinned = KUBERNETES_RELEASES[minor].addons[key as keyof typeof ADDON_NAMES];
            const versions = await compatible(addonName, minor);
            if (!versions.includes(pinned)) {
                problems.push(
                    `${addonName} ${pinned} (versions.ts, Kubernetes ${minor}) is not compatible with ${minor} according to EKS; compatible: ${versions.length > 0 ? versions.join(", ") : "none listed"}`,
                );
            }
        }
    }
    return problems;
}

/** DescribeAddonVersions, every page, keeping the versions whose compatibilities name the cluster version. */
export function eksCompatibleVersions(client: EKSClient): CompatibleVersions {
    return async (addonName, kubernetesVersion) => {
        const versions: string[] = [];
        let nextToken: string | undefined;
        do {
            const page = await client.send(
                new DescribeAddonVersionsCommand({ addonName, kubernetesVersion, nextToken }),
            );
            for (const addon of page.addons ?? []) {
                for (const version of addon.addonVersions ?? []) {
                    const listed = (version.compatibilities ?? []).some(
                        (compatibility) => compatibility.clusterVersion === kubernetesVersion,
                    );
                    if (listed && version.addonVersion !== undefined) {
                        versions.push(version.addonVersion);
                    }
                }
            }
            nextToken = page.nextToken;
        } while (nextToken !== undefined);
        return versions;
    };
}

/** The minors named on the command line, each one versions.ts pins; none: all of them. */
export function minorsToCheck(args: string[]): KubernetesVersion[] {
    const known = Object.keys(KUBERNETES_RELEASES) as KubernetesVersion[];
    const unknown = args.filter((arg) => !known.includes(arg as KubernetesVersion));
    if (unknown.length > 0) {
        throw new Error(`${unknown.join(", ")} not pinned in versions.ts; use one of ${known.join(", ")}`);
    }
    return args.length > 0 ? (args as KubernetesVersion[]) : known;
}

async function main(): Promise<void> {
    const minors = minorsToCheck(process.argv.slice(2));
    const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "ap-southeast-1";
    const problems = await checkAddons(minors, eksCompatibleVersions(new EKSClient({ region })));
    if (problems.length > 0) {
        console.error(`addons:check: ${problems.join("\naddons:check: ")}`);
        process.exit(1);
    }
    console.log(
        `addons:check: every pinned add-on is compatible with Kubernetes ${minors.join(", ")} according to EKS.`,
    );
}

if (require.main === module) {
    main().catch((error: unknown) => {
        console.error(`addons:check: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(2);
    });
}
