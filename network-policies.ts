import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { APP_LABELS, CONTAINER_PORT, METRICS_PORT, MIGRATION_LABELS } from "./workload-names";

export interface DatabaseEgress {
    readonly cidrs: string[];
    readonly port: number;
}

export interface NetworkPoliciesArgs {
    readonly namespace: pulumi.Input<string>;
    /** Where the API server's proxied scrapes come from (the cluster's VPC); only they reach the metrics port. */
    readonly metricsSourceCidrs: string[];
    /** When the database's blocks are known, the pods may reach nothing but DNS and the database. */
    readonly databaseEgress?: DatabaseEgress;
}

/** Ingress: nothing but the service's port, and the metrics port from the VPC; egress limited when it can be. */
export function createNetworkPolicies(
    name: string,
    args: NetworkPoliciesArgs,
    opts: pulumi.CustomResourceOptions,
): void {
    const ns = args.namespace;
    new k8s.networking.v1.NetworkPolicy(
        `${name}-default-deny-ingress`,
        {
            metadata: { name: "default-deny-ingress", namespace: ns },
            spec: { podSelector: {}, policyTypes: ["Ingress"] },
        },
        opts,
    );
    new k8s.networking.v1.NetworkPolicy(
        `${name}-allow-http`,
        {
            metadata: { name: "fastapi-allow-http", namespace: ns, labels: APP_LABELS },
            spec: {
                podSelector: { matchLabels: APP_LABELS },
                policyTypes: ["Ingress"],
                ingress: [
                    { ports: [{ protocol: "TCP", port: CONTAINER_PORT }] },
                    // The Service never publishes this port: only the API server's proxy, inside the VPC, reaches it.
                    {
                        from: args.metricsSourceCidrs.map((cidr) => ({ ipBlock: { cidr } })),
                        ports: [{ protocol: "TCP", port: METRICS_PORT }],
                    },
                ],
            },
        },
        opts,
    );
    if (args.databaseEgress !== undefined) {
        egressPolicy(name, { namespace: ns, database: args.databaseEgress }, opts);
    }
}

/** A compromised pod can resolve names and talk to its database, and nothing else. */
function egressPolicy(
    name: string,
    args: { readonly namespace: pulumi.Input<string>; readonly database: DatabaseEgress },
    opts: pulumi.CustomResourceOptions,
): void {
    const { namespace: ns, database } = args;
    new k8s.networking.v1.NetworkPolicy(
        `${name}-egress`,
        {
            metadata: { name: "fastapi-egress", namespace: ns, labels: APP_LABELS },
            spec: {
                podSelector: {
                    matchExpressions: [{ key: "app", operator: "In", values: [APP_LABELS.app, MIGRATION_LABELS.app] }],
                },
                policyTypes: ["Egress"],
                egress: [
                    {
                        to: [
                            {
                                namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                                podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                            },
                        ],
                        ports: [
                            { protocol: "UDP", port: 53 },
                            { protocol: "TCP", port: 53 },
                        ],
                    },
                    {
                        to: database.cidrs.map((cidr) => ({ ipBlock: { cidr } })),
                        ports: [{ protocol: "TCP", port: database.port }],
                    },
                ],
            },
        },
        opts,
    );
}
