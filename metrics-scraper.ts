import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { METRICS_SCRAPER } from "./workload-names";

export interface MetricsScraperArgs {
    /** Whose pods it may read and reach. */
    readonly namespace: pulumi.Input<string>;
}

/**
 * Prometheus's identity: read the namespace's pods and proxy to them. Returns its long-lived token, a secret
 * (docs/architecture.md#why-the-metrics-scraper-has-a-long-lived-token).
 */
export function createMetricsScraper(
    name: string,
    args: MetricsScraperArgs,
    opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
    const labels = { app: METRICS_SCRAPER };
    const ns = args.namespace;
    const account = new k8s.core.v1.ServiceAccount(
        `${name}-metrics-scraper`,
        {
            metadata: { name: METRICS_SCRAPER, namespace: ns, labels },
            automountServiceAccountToken: false,
        },
        opts,
    );
    const role = new k8s.rbac.v1.Role(
        `${name}-metrics-scraper`,
        {
            metadata: { name: METRICS_SCRAPER, namespace: ns, labels },
            rules: [
                { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
                { apiGroups: [""], resources: ["pods/proxy"], verbs: ["get"] },
            ],
        },
        opts,
    );
    new k8s.rbac.v1.RoleBinding(
        `${name}-metrics-scraper`,
        {
            metadata: { name: METRICS_SCRAPER, namespace: ns, labels },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
            subjects: [{ kind: "ServiceAccount", name: account.metadata.name, namespace: ns }],
        },
        opts,
    );
    const tokenSecret = new k8s.core.v1.Secret(
        `${name}-metrics-scraper-token`,
        {
            metadata: {
                name: `${METRICS_SCRAPER}-token`,
                namespace: ns,
                labels,
                annotations: { "kubernetes.io/service-account.name": METRICS_SCRAPER },
            },
            type: "kubernetes.io/service-account-token",
        },
        { ...opts, dependsOn: [account] },
    );
    // The provider waits until the token controller has written the token.
    return pulumi.secret(tokenSecret.data.apply((data) => Buffer.from(data.token, "base64").toString("utf8")));
}
