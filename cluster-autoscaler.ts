import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import { CLUSTER_AUTOSCALER_CHART_VERSION } from "./versions";

const SERVICE_ACCOUNT = "cluster-autoscaler";

export interface ClusterAutoscalerArgs {
    /** The EKS cluster whose tagged node groups it scales. */
    readonly clusterName: string;
    readonly region: string;
    /** The cluster's OIDC provider, through which the autoscaler's service account assumes its role (IRSA). */
    readonly oidcProviderArn: pulumi.Input<string>;
    readonly oidcIssuer: pulumi.Input<string>;
    /** The cluster-autoscaler image release of the control plane's minor. */
    readonly imageTag: string;
    readonly tags?: Record<string, string>;
}

export interface ClusterAutoscalerOptions {
    /** The Cluster component: the resources keep the URNs they had when the Cluster declared them itself. */
    readonly parent: pulumi.Resource;
    readonly provider: k8s.Provider;
    /** The chart installs once the nodes it runs on are there. */
    readonly nodeGroup: pulumi.Resource;
}

/** Permissions the cluster autoscaler needs, writes limited to the node groups EKS tagged for this cluster. */
function clusterAutoscalerPolicy(clusterName: string): aws.iam.PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "ScaleOwnNodeGroups",
                Effect: "Allow",
                Action: ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                Resource: "*",
                Condition: { StringEquals: { [`aws:ResourceTag/k8s.io/cluster-autoscaler/${clusterName}`]: "owned" } },
            },
            {
                Sid: "DiscoverNodeGroups",
                Effect: "Allow",
                Action: [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                    "eks:DescribeNodegroup",
                ],
                Resource: "*",
            },
        ],
    };
}

interface ServiceAccountIdentity {
    readonly oidcProviderArn: string;
    readonly oidcIssuer: string;
    readonly namespace: string;
    readonly serviceAccount: string;
}

/** Trust policy letting exactly one Kubernetes service account assume a role through the cluster's OIDC provider. */
function serviceAccountTrustPolicy({
    oidcProviderArn,
    oidcIssuer,
    namespace,
    serviceAccount,
}: ServiceAccountIdentity): aws.iam.PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Principal: { Federated: oidcProviderArn },
                Action: "sts:AssumeRoleWithWebIdentity",
                Condition: {
                    StringEquals: {
                        [`${oidcIssuer}:sub`]: `system:serviceaccount:${namespace}:${serviceAccount}`,
                        [`${oidcIssuer}:aud`]: "sts.amazonaws.com",
                    },
                },
            },
        ],
    };
}

interface RoleWithPermissions {
    readonly role: aws.iam.Role;
    readonly permissions: aws.iam.RolePolicy;
}

/** The autoscaler's IAM role, which only its own service account can assume, with the permissions it needs. */
function autoscalerRole(args: ClusterAutoscalerArgs, opts: ClusterAutoscalerOptions): RoleWithPermissions {
    const roleName = `${args.clusterName}-autoscaler`;
    const role = new aws.iam.Role(
        roleName,
        {
            name: roleName,
            assumeRolePolicy: pulumi
                .all([args.oidcProviderArn, args.oidcIssuer])
                .apply(([oidcProviderArn, oidcIssuer]) =>
                    JSON.stringify(
                        serviceAccountTrustPolicy({
                            oidcProviderArn,
                            oidcIssuer,
                            namespace: "kube-system",
                            serviceAccount: SERVICE_ACCOUNT,
                        }),
                    ),
                ),
            tags: args.tags,
        },
        { parent: opts.parent },
    );
    const permissions = new aws.iam.RolePolicy(
        roleName,
        { role: role.id, policy: JSON.stringify(clusterAutoscalerPolicy(args.clusterName)) },
        { parent: opts.parent },
    );
    return { role, permissions };
}

/** The cluster autoscaler (Helm chart) and its IAM role, reachable only from its own service account. */
export function createClusterAutoscaler(
    name: string,
    args: ClusterAutoscalerArgs,
    opts: ClusterAutoscalerOptions,
): void {
    const { role, permissions } = autoscalerRole(args, opts);
    new k8s.helm.v3.Release(
        `${name}-cluster-autoscaler`,
        {
            name: "cluster-autoscaler",
            namespace: "kube-system",
            chart: "cluster-autoscaler",
            version: CLUSTER_AUTOSCALER_CHART_VERSION,
            repositoryOpts: { repo: "https://kubernetes.github.io/autoscaler" },
            values: {
                cloudProvider: "aws",
                awsRegion: args.region,
                // Finds the node group through the tags EKS puts on its Auto Scaling group.
                autoDiscovery: { clusterName: args.clusterName },
                fullnameOverride: "cluster-autoscaler",
                image: { tag: args.imageTag },
                rbac: {
                    serviceAccount: {
                        name: SERVICE_ACCOUNT,
                        annotations: { "eks.amazonaws.com/role-arn": role.arn },
                    },
                },
                extraArgs: { "balance-similar-node-groups": true, expander: "least-waste" },
                resources: { requests: { cpu: "100m", memory: "300Mi" }, limits: { memory: "600Mi" } },
                securityContext: {
                    runAsNonRoot: true,
                    runAsUser: 65534,
                    runAsGroup: 65534,
                    seccompProfile: { type: "RuntimeDefault" },
                },
                containerSecurityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ["ALL"] },
                },
            },
        },
        { parent: opts.parent, provider: opts.provider, dependsOn: [opts.nodeGroup, permissions] },
    );
}
