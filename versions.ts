import { ConfigError } from "./config-error";

/** The minors in EKS standard support and their add-ons; sources in docs/configuration.md#pinned-versions. */
export const KUBERNETES_RELEASES = {
    "1.35": {
        endOfStandardSupport: "2027-03-27",
        addons: {
            vpcCni: "v1.23.0-eksbuild.1",
            kubeProxy: "v1.35.3-eksbuild.13",
            coreDns: "v1.14.3-eksbuild.3",
            metricsServer: "v0.9.0-eksbuild.5",
        },
        clusterAutoscalerImage: "v1.35.2",
    },
    "1.36": {
        endOfStandardSupport: "2027-08-02",
        addons: {
            vpcCni: "v1.23.0-eksbuild.1",
            kubeProxy: "v1.36.0-eksbuild.14",
            coreDns: "v1.14.3-eksbuild.3",
            metricsServer: "v0.9.0-eksbuild.5",
        },
        clusterAutoscalerImage: "v1.36.1",
    },
} as const;

export type KubernetesVersion = keyof typeof KUBERNETES_RELEASES;
export type KubernetesRelease = (typeof KUBERNETES_RELEASES)[KubernetesVersion];

/** The chart that installs the autoscaler image above, tagged per minor. */
export const CLUSTER_AUTOSCALER_CHART_VERSION = "9.59.0";

/** 36 for "1.36". */
export function minorOf(version: string): number {
    const match = /^1\.(\d+)(\.\d+)?$/.exec(version);
    if (!match) {
        throw new Error(`'${version}' is not a Kubernetes 1.x version`);
    }
    return Number(match[1]);
}

/** At the end of standard support: STANDARD upgrades, EXTENDED bills extended support. */
export type KubernetesSupportType = "STANDARD" | "EXTENDED";

/** EKS upgrades one minor at a time; the nodes follow in the same update. */
export function checkUpgradeStep(runningVersion: string | undefined, wanted: KubernetesVersion): void {
    if (runningVersion === undefined) {
        return;
    }
    const step = minorOf(wanted) - minorOf(runningVersion);
    if (step > 1) {
        const next = `1.${minorOf(runningVersion) + 1}`;
        throw new ConfigError(
            "kubernetesVersion",
            `the cluster runs ${runningVersion}; EKS upgrades one minor version at a time. Set ${next}, run pulumi up, then set ${wanted} and run pulumi up again (see docs/operating.md)`,
        );
    }
    if (step < 0) {
        throw new ConfigError(
            "kubernetesVersion",
            `the cluster runs ${runningVersion}; EKS cannot downgrade to ${wanted}. Set ${runningVersion} (or a later minor)`,
        );
    }
}

/** The RDS majors and the end of their standard support (docs/configuration.md#pinned-versions). */
export const POSTGRES_RELEASES = {
    "15": { endOfStandardSupport: "2028-02-29" },
    "16": { endOfStandardSupport: "2029-02-28" },
    "17": { endOfStandardSupport: "2030-02-28" },
} as const;

export type PostgresVersion = keyof typeof POSTGRES_RELEASES;
