import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as eks from "@pulumi/eks";
import * as k8s from "@pulumi/kubernetes";
import { NodeCapacityType, nodeInstanceTypes } from "./capacity";
import { createClusterAutoscaler } from "./cluster-autoscaler";
import {
    KUBERNETES_RELEASES,
    KubernetesRelease,
    KubernetesSupportType,
    KubernetesVersion,
    checkUpgradeStep,
} from "./versions";

const CLUSTER_ROLE_POLICIES = [
    "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
    "arn:aws:iam::aws:policy/AmazonEKSVPCResourceController",
];
const NODE_ROLE_POLICIES = [
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
];
const CLUSTER_ADMIN_ACCESS_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";

export interface NodeGroupSize {
    desired: number;
    min: number;
    max: number;
}

export interface ClusterArgs {
    clusterName: string;
    kubernetesVersion: KubernetesVersion;
    region: string;
    vpcId: pulumi.Input<string>;
    subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    nodeInstanceType: string;
    /** With SPOT the node group offers every type of the same shape as nodeInstanceType (spotInstanceTypes). */
    nodeCapacityType: NodeCapacityType;
    nodeGroupSize: NodeGroupSize;
    nodeDiskSizeGb: number;
    /** IAM principals (besides the identity that creates the cluster) that get cluster-admin. */
    clusterAdmins: string[];
    /** What EKS does when the version leaves standard support (STANDARD: upgrade it; EXTENDED: bill extended support). */
    supportType: KubernetesSupportType;
    /** Days CloudWatch keeps the control-plane logs. */
    logRetentionDays: number;
    tags?: Record<string, string>;
}

/**
 * The access-entry key of a principal: stable for that principal wherever it sits in the list, so adding, removing
 * or reordering admins touches only their own entries (EKS refuses a second entry for the same principal, which a
 * position-based key would create while moving a principal to another position).
 */
export function accessEntryKey(principalArn: string): string {
    const name = principalArn.split("/").pop() ?? principalArn;
    const hash = createHash("sha256").update(principalArn).digest("hex").slice(0, 8);
    return `admin-${name.replace(/[^A-Za-z0-9-]/g, "-")}-${hash}`;
}

/** The version EKS runs for this cluster today, or undefined before the first deploy. */
async function runningVersion(clusterName: string, parent: pulumi.Resource): Promise<string | undefined> {
    const { names } = await aws.eks.getClusters({}, { parent });
    if (!names.includes(clusterName)) {
        return undefined;
    }
    return (await aws.eks.getCluster({ name: clusterName }, { parent })).version;
}

interface RoleWithPolicies {
    role: aws.iam.Role;
    attachments: aws.iam.RolePolicyAttachment[];
}

function assumeRolePolicy(service: string): string {
    const document: aws.iam.PolicyDocument = {
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }],
    };
    return JSON.stringify(document);
}

/**
 * The EKS control plane, one managed node group and the two add-ons the workload relies on:
 * metrics-server (the HPA reads CPU from it) and the cluster autoscaler (adds nodes for pending pods).
 */
export class Cluster extends pulumi.ComponentResource {
    public readonly clusterName: pulumi.Output<string>;
    public readonly kubeconfig: pulumi.Output<string>;
    /** The API server's URL (https://…), which monitoring reaches the pods through. */
    public readonly apiEndpoint: pulumi.Output<string>;
    /** The PEM certificate of the cluster's certificate authority, which signed the API server's certificate. */
    public readonly certificateAuthority: pulumi.Output<string>;
    public readonly provider: k8s.Provider;
    /**
     * The security group that pod traffic leaves from: the cluster security group EKS creates. Our launch template
     * names no security group, so EKS puts the nodes' primary network interfaces in that group; the VPC CNI gives
     * pods secondary IPs on the node's interfaces (or on extra interfaces it creates with the primary's groups),
     * and traffic to addresses inside the VPC keeps the pod's IP. Security groups for pods (per-pod branch
     * interfaces) are not enabled, so no pod leaves from any other group.
     */
    public readonly podSecurityGroupId: pulumi.Output<string>;

    constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fastapi:index:Cluster", name, {}, opts);
        const release: KubernetesRelease = KUBERNETES_RELEASES[args.kubernetesVersion];
        // Checked against the running cluster before EKS is asked for anything: a jump of two minors would upgrade
        // the control plane and then fail on the nodes.
        const version = pulumi.output(runningVersion(args.clusterName, this)).apply((running) => {
            checkUpgradeStep(running, args.kubernetesVersion);
            return args.kubernetesVersion;
        });

        // EKS creates this group on first use with no retention and leaves it behind on deletion; owned here, it has a
        // retention and goes with the stack. The cluster depends on it, so it exists before EKS writes to it. EKS may
        // re-create it after a destroy: scripts/clear-control-plane-logs (docs/operating.md#teardown).
        const logGroup = new aws.cloudwatch.LogGroup(
            `${name}-control-plane-logs`,
            {
                name: `/aws/eks/${args.clusterName}/cluster`,
                retentionInDays: args.logRetentionDays,
                tags: args.tags,
            },
            { parent: this },
        );

        // pulumi-eks waits only for the policies of roles it creates itself. Ours are attached before the control plane
        // starts and, on destroy, detached only after it is gone (it needs them to clean up its network interfaces).
        const controlPlane = this.role(
            `${args.clusterName}-control-plane`,
            "eks.amazonaws.com",
            CLUSTER_ROLE_POLICIES,
            args.tags,
        );
        const cluster = new eks.Cluster(
            name,
            {
                name: args.clusterName,
                version,
                // Without it EKS keeps a cluster whose version leaves standard support and bills extended support.
                upgradePolicy: { supportType: args.supportType },
                vpcId: args.vpcId,
                publicSubnetIds: args.subnetIds,
                serviceRole: controlPlane.role,
                authenticationMode: eks.AuthenticationMode.Api,
                accessEntries: Object.fromEntries(
                    args.clusterAdmins.map((principalArn) => [
                        accessEntryKey(principalArn),
                        {
                            principalArn,
                            accessPolicies: {
                                clusterAdmin: {
                                    policyArn: CLUSTER_ADMIN_ACCESS_POLICY,
                                    accessScope: { type: "cluster" },
                                },
                            },
                        },
                    ]),
                ),
                createOidcProvider: true,
                enabledClusterLogTypes: ["api", "audit", "authenticator"],
                endpointPublicAccess: true,
                endpointPrivateAccess: true,
                // The managed node group below is the only compute; it uses the security group EKS creates.
                skipDefaultNodeGroup: true,
                skipDefaultSecurityGroups: true,
                // Without it the VPC CNI ignores NetworkPolicy objects. Pinned, like kube-proxy: unpinned, each run resolves
                // the most recent version, and an unrelated deploy rolls the networking of every node.
                vpcCniOptions: { enableNetworkPolicy: true, addonVersion: release.addons.vpcCni },
                kubeProxyAddonOptions: { version: release.addons.kubeProxy },
                tags: args.tags,
            },
            { parent: this, dependsOn: [...controlPlane.attachments, logGroup] },
        );

        const nodeGroup = this.nodeGroup(name, cluster, args);
        // No deleteUnreachable: it takes any failed read (an expired login, a 401) for a deleted cluster and drops every
        // object from the state; a cluster that is really gone is a recovery procedure (docs/operating.md).
        this.provider = new k8s.Provider(name, { kubeconfig: cluster.kubeconfigJson }, { parent: this });

        // CoreDNS is not created by pulumi-eks without its default node group; EKS installed it self-managed, and
        // this managed add-on adopts it (OVERWRITE) once there are nodes to run it, so it is upgraded with the pins.
        this.addon(name, cluster, nodeGroup, "coredns", release.addons.coreDns, args.tags);
        this.addon(name, cluster, nodeGroup, "metrics-server", release.addons.metricsServer, args.tags);

        createClusterAutoscaler(
            name,
            {
                clusterName: args.clusterName,
                region: args.region,
                oidcProviderArn: cluster.oidcProviderArn,
                oidcIssuer: cluster.oidcIssuer,
                imageTag: release.clusterAutoscalerImage,
                tags: args.tags,
            },
            { parent: this, provider: this.provider, nodeGroup },
        );

        this.clusterName = cluster.eksCluster.name;
        this.kubeconfig = pulumi.secret(cluster.kubeconfigJson);
        this.apiEndpoint = cluster.eksCluster.endpoint;
        this.certificateAuthority = cluster.eksCluster.certificateAuthority.apply((ca) =>
            Buffer.from(ca.data, "base64").toString("utf8"),
        );
        // With skipDefaultSecurityGroups, pulumi-eks reports the group EKS created for the cluster.
        this.podSecurityGroupId = cluster.clusterSecurityGroupId;
        this.registerOutputs({
            clusterName: this.clusterName,
            kubeconfig: this.kubeconfig,
            apiEndpoint: this.apiEndpoint,
            certificateAuthority: this.certificateAuthority,
            podSecurityGroupId: this.podSecurityGroupId,
        });
    }

    private addon(
        name: string,
        cluster: eks.Cluster,
        nodeGroup: eks.ManagedNodeGroup,
        addonName: string,
        addonVersion: string,
        tags?: Record<string, string>,
    ): aws.eks.Addon {
        return new aws.eks.Addon(
            `${name}-${addonName}`,
            {
                clusterName: cluster.eksCluster.name,
                addonName,
                addonVersion,
                resolveConflictsOnCreate: "OVERWRITE",
                resolveConflictsOnUpdate: "OVERWRITE",
                tags,
            },
            { parent: this, dependsOn: [nodeGroup] },
        );
    }

    private role(
        roleName: string,
        service: string,
        policyArns: string[],
        tags?: Record<string, string>,
    ): RoleWithPolicies {
        const role = new aws.iam.Role(
            roleName,
            {
                name: roleName,
                assumeRolePolicy: assumeRolePolicy(service),
                tags,
            },
            { parent: this },
        );
        const attachments = policyArns.map((policyArn) => {
            const policyName = policyArn.split("/").pop() ?? policyArn;
            return new aws.iam.RolePolicyAttachment(
                `${roleName}-${policyName}`,
                { role: role.name, policyArn },
                { parent: this },
            );
        });
        return { role, attachments };
    }

    private nodeGroup(name: string, cluster: eks.Cluster, args: ClusterArgs): eks.ManagedNodeGroup {
        // EKS only sets a gp3 root volume and IMDSv2 through a launch template of our own.
        const launchTemplate = new aws.ec2.LaunchTemplate(
            `${name}-nodes`,
            {
                namePrefix: `${args.clusterName}-nodes-`,
                blockDeviceMappings: [
                    {
                        deviceName: "/dev/xvda",
                        ebs: {
                            volumeSize: args.nodeDiskSizeGb,
                            volumeType: "gp3",
                            encrypted: "true",
                            deleteOnTermination: "true",
                        },
                    },
                ],
                metadataOptions: {
                    httpEndpoint: "enabled",
                    httpTokens: "required",
                    // One hop: IMDS answers the node itself (and host-network pods such as the VPC CNI) but its token response
                    // cannot reach a pod's own network namespace, so pods cannot borrow the node role's credentials. A pod that
                    // calls AWS must use its own role through the OIDC provider (IRSA), as the cluster autoscaler does.
                    httpPutResponseHopLimit: 1,
                },
                updateDefaultVersion: true,
                tagSpecifications: [
                    { resourceType: "instance", tags: { ...args.tags, Name: `${args.clusterName}-node` } },
                ],
                tags: args.tags,
            },
            { parent: this },
        );

        // Nodes need the worker and CNI policies to join and get pod IPs; on destroy the policies stay until the nodes
        // are gone, so the CNI can still release the network interfaces it attached.
        const nodeRole = this.role(`${args.clusterName}-node`, "ec2.amazonaws.com", NODE_ROLE_POLICIES, args.tags);
        return new eks.ManagedNodeGroup(
            `${name}-nodes`,
            {
                cluster,
                nodeRole: nodeRole.role,
                subnetIds: args.subnetIds,
                // The types go on the node group, not the launch template: EKS refuses instanceTypes when the template
                // names an instance type, and only the node group can offer several.
                instanceTypes: nodeInstanceTypes(args.nodeInstanceType, args.nodeCapacityType),
                capacityType: args.nodeCapacityType,
                amiType: "AL2023_x86_64_STANDARD",
                // pulumi-eks leaves the version unset with a launch template of our own, so nodes would stay behind a control
                // plane upgrade. The control plane's own version output makes EKS upgrade the nodes right after it.
                version: cluster.eksCluster.version,
                scalingConfig: {
                    desiredSize: args.nodeGroupSize.desired,
                    minSize: args.nodeGroupSize.min,
                    maxSize: args.nodeGroupSize.max,
                },
                // The cluster autoscaler owns the desired size once running; `pulumi up` must not reset it.
                ignoreScalingChanges: true,
                launchTemplate: { id: launchTemplate.id, version: pulumi.interpolate`${launchTemplate.latestVersion}` },
                tags: args.tags,
            },
            { parent: this, dependsOn: nodeRole.attachments },
        );
    }
}
