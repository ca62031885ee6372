import { ConfigError } from "./config-error";

/**
 * Every version the stack pins, in one place: the Kubernetes minors it accepts and, for each, the add-ons built for
 * it. A Kubernetes version is listed only while it is in EKS standard support (extended support costs $0.60 per
 * cluster hour instead of $0.10). The bump procedure is in docs/operating.md ("Upgrade Kubernetes by one minor").
 *
 * Sources, checked 2026-11-29:
 * - standard-support end dates: the Amazon EKS Kubernetes release calendar
 *   (https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html); 1.34 ends 2026-12-02 and is no
 *   longer offered here;
 * - kube-proxy and CoreDNS: the latest EKS add-on version per Kubernetes version in "Manage kube-proxy in Amazon EKS
 *   clusters" and "Manage CoreDNS for DNS in Amazon EKS clusters" (managing-kube-proxy.md, managing-coredns.md);
 * - vpc-cni: one release for every supported minor ("Amazon VPC CNI versions", managing-vpc-cni.md), v1.23.0;
 * - metrics-server: the EKS community add-on v0.9.0;
 * - cluster-autoscaler: the image release of the same minor as the control plane (its compatibility rule) and the
 *   chart of kubernetes/autoscaler that deploys it.
 * Before a bump, confirm each add-on with `aws eks describe-addon-versions --kubernetes-version <minor> --addon-name <name>`.
 */
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

/** Only a version listed above type-checks; config.ts turns the configured string into one. */
export type KubernetesVersion = keyof typeof KUBERNETES_RELEASES;
export type KubernetesRelease = (typeof KUBERNETES_RELEASES)[KubernetesVersion];

export const DEFAULT_KUBERNETES_VERSION: KubernetesVersion = "1.36";

/** The chart that installs the cluster-autoscaler image above; its image tag is set per Kubernetes minor. */
export const CLUSTER_AUTOSCALER_CHART_VERSION = "9.59.0";

/** The minor number of "1.36" (36), for the one-minor-at-a-time rule. */
export function minorOf(version: string): number {
    const match = /^1\.(\d+)(\.\d+)?$/.exec(version);
    if (!match) {
        throw new Error(`'${version}' is not a Kubernetes 1.x version`);
    }
    return Number(match[1]);
}

/** What EKS does when the version leaves standard support: STANDARD upgrades it, EXTENDED bills extended support. */
export type KubernetesSupportType = "STANDARD" | "EXTENDED";

/**
 * EKS upgrades the control plane one minor at a time, and only once the nodes run its minor. The stack upgrades the
 * nodes in the same update, right after the control plane, so each update may move one minor and no more.
 */
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

/**
 * The PostgreSQL majors the managed database may run, each with the day Amazon RDS ends its standard support
 * (the RDS for PostgreSQL release calendar, postgresql-release-calendar.html, checked 2026-12-06). The stack creates
 * instances with extended support disabled, so on that day RDS upgrades the major itself, outside any deploy; the
 * config refuses a major past that day and the tests fail 180 days before it, as for the Kubernetes minors above.
 * The default is the major the service's tests run against (app/tests/postgres_server.py).
 */
export const POSTGRES_RELEASES = {
    "15": { endOfStandardSupport: "2028-02-29" },
    "16": { endOfStandardSupport: "2029-02-28" },
    "17": { endOfStandardSupport: "2030-02-28" },
} as const;

export type PostgresVersion = keyof typeof POSTGRES_RELEASES;

export const DEFAULT_POSTGRES_VERSION: PostgresVersion = "15";
