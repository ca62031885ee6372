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
    readonly desired: number;
    readonly min: number;
    readonly max: number;
}

export interface ClusterArgs {
    readonly clusterName: string;
    readonly kubernetesVersion: KubernetesVersion;
    readonly region: string;
    readonly vpcId: pulumi.Input<string>;
    readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    readonly nodeInstanceType: string;
    /** SPOT offers every type of nodeInstanceType's shape (spotInstanceTypes). */
    readonly nodeCapacityType: NodeCapacityType;
    readonly nodeGroupSize: NodeGroupSize;
    readonly nodeDiskSizeGb: number;
    /** Besides the identity that creates the cluster. */
    readonly clusterAdmins: readonly string[];
    /** STANDARD: EKS upgrades a version leaving standard support; EXTENDED: it bills extended support. */
    readonly supportType: KubernetesSupportType;
    readonly logRetentionDays: number;
    readonly tags?: Record<string, string>;
}

/**
 * The access-entry key of a principal, independent of its position in the list: EKS refuses a second entry for the
 * same principal, which a position-based key would create when the list is reordered.
 */
export function accessEntryKey(principalArn: string): string {
    const name = principalArn.split("/").pop() ?? principalArn;
    const hash = createHash("sha256").update(principalArn).digest("hex").slice(0, 8);
    return `admin-${name.replace(/[^A-Za-z0-9-]/g, "-")}-${hash}`;
}

function accessEntries(clusterAdmins: readonly string[]): Record<string, eks.types.input.AccessEntryArgs> {
    return Object.fromEntries(
        clusterAdmins.map((principalArn) => [
            accessEntryKey(principalArn),
            {
                principalArn,
                accessPolicies: {
                    clusterAdmin: { policyArn: CLUSTER_ADMIN_ACCESS_POLICY, accessScope: { type: "cluster" } },
                },
            },
        ]),
    );
}

/** Undefined before the first deploy. */
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

interface RoleArgs {
    readonly roleName: string;
    readonly service: string;
    readonly policyArns: readonly string[];
    readonly tags?: Record<string, string>;
}

interface AddonArgs {
    readonly cluster: eks.Cluster;
    readonly nodeGroup: eks.ManagedNodeGroup;
    readonly addonName: string;
    readonly addonVersion: string;
    readonly tags?: Record<string, string>;
}

function assumeRolePolicy(service: string): string {
    const document: aws.iam.PolicyDocument = {
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }],
    };
    return JSON.stringify(document);
}

/** The EKS control plane, one managed node group, metrics-server (for the HPA) and the cluster autoscaler. */
export class Cluster extends pulumi.ComponentResource {
    public readonly clusterName: pulumi.Output<string>;
    public readonly kubeconfig: pulumi.Output<string>;
    /** Monitoring reaches the pods through the API server. */
    public readonly apiEndpoint: pulumi.Output<string>;
    /** PEM of the CA that signed the API server's certificate. */
    public readonly certificateAuthority: pulumi.Output<string>;
    public readonly provider: k8s.Provider;
    /** The cluster security group EKS creates: pod traffic leaves from it (docs/architecture.md#nodes-and-pods). */
    public readonly podSecurityGroupId: pulumi.Output<string>;

    constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fastapi:index:Cluster", name, {}, opts);
        const release: KubernetesRelease = KUBERNETES_RELEASES[args.kubernetesVersion];
        const cluster = this.controlPlane(name, args, release);
        const nodeGroup = this.nodeGroup(name, cluster, args);
        // No deleteUnreachable: it takes any failed read for a deleted cluster and empties the state (docs/operating.md).
        this.provider = new k8s.Provider(name, { kubeconfig: cluster.kubeconfigJson }, { parent: this });

        // The managed CoreDNS add-on adopts the one EKS installs (OVERWRITE) once nodes exist.
        for (const [addonName, addonVersion] of [
            ["coredns", release.addons.coreDns],
            ["metrics-server", release.addons.metricsServer],
        ]) {
            this.addon(name, { cluster, nodeGroup, addonName, addonVersion, tags: args.tags });
        }
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
        this.podSecurityGroupId = cluster.clusterSecurityGroupId;
        this.registerOutputs({
            clusterName: this.clusterName,
            kubeconfig: this.kubeconfig,
            apiEndpoint: this.apiEndpoint,
            certificateAuthority: this.certificateAuthority,
            podSecurityGroupId: this.podSecurityGroupId,
        });
    }

    private controlPlane(name: string, args: ClusterArgs, release: KubernetesRelease): eks.Cluster {
        // A jump of two minors would upgrade the control plane, then fail on the nodes.
        const version = pulumi.output(runningVersion(args.clusterName, this)).apply((running) => {
            checkUpgradeStep(running, args.kubernetesVersion);
            return args.kubernetesVersion;
        });
        // Owned for its retention; EKS may re-create it after a destroy (docs/operating.md#teardown).
        const logGroup = new aws.cloudwatch.LogGroup(
            `${name}-control-plane-logs`,
            { name: `/aws/eks/${args.clusterName}/cluster`, retentionInDays: args.logRetentionDays, tags: args.tags },
            { parent: this },
        );
        // pulumi-eks waits only for the policies of roles it creates.
        const controlPlane = this.role({
            roleName: `${args.clusterName}-control-plane`,
            service: "eks.amazonaws.com",
            policyArns: CLUSTER_ROLE_POLICIES,
            tags: args.tags,
        });
        return new eks.Cluster(
            name,
            {
                name: args.clusterName,
                version,
                // Otherwise EKS bills extended support past standard support.
                upgradePolicy: { supportType: args.supportType },
                vpcId: args.vpcId,
                publicSubnetIds: args.subnetIds,
                serviceRole: controlPlane.role,
                authenticationMode: eks.AuthenticationMode.Api,
                accessEntries: accessEntries(args.clusterAdmins),
                createOidcProvider: true,
                enabledClusterLogTypes: ["api", "audit", "authenticator"],
                endpointPublicAccess: true,
                endpointPrivateAccess: true,
                skipDefaultNodeGroup: true,
                skipDefaultSecurityGroups: true,
                // Without enableNetworkPolicy the CNI ignores NetworkPolicy; unpinned, a new release rolls every node.
                vpcCniOptions: { enableNetworkPolicy: true, addonVersion: release.addons.vpcCni },
                kubeProxyAddonOptions: { version: release.addons.kubeProxy },
                tags: args.tags,
            },
            { parent: this, dependsOn: [...controlPlane.attachments, logGroup] },
        );
    }

    private addon(name: string, args: AddonArgs): aws.eks.Addon {
        return new aws.eks.Addon(
            `${name}-${args.addonName}`,
            {
                clusterName: args.cluster.eksCluster.name,
                addonName: args.addonName,
                addonVersion: args.addonVersion,
                resolveConflictsOnCreate: "OVERWRITE",
                resolveConflictsOnUpdate: "OVERWRITE",
                tags: args.tags,
            },
            { parent: this, dependsOn: [args.nodeGroup] },
        );
    }

    private role(args: RoleArgs): RoleWithPolicies {
        const role = new aws.iam.Role(
            args.roleName,
            { name: args.roleName, assumeRolePolicy: assumeRolePolicy(args.service), tags: args.tags },
            { parent: this },
        );
        const attachments = args.policyArns.map((policyArn) => {
            const policyName = policyArn.split("/").pop() ?? policyArn;
            return new aws.iam.RolePolicyAttachment(
                `${args.roleName}-${policyName}`,
                { role: role.name, policyArn },
                { parent: this },
            );
        });
        return { role, attachments };
    }

    private launchTemplate(name: string, args: ClusterArgs): aws.ec2.LaunchTemplate {
        // gp3 and IMDSv2 need a launch template of our own.
        return new aws.ec2.LaunchTemplate(
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
                    // One hop: pods cannot borrow the node role's credentials (docs/architecture.md#nodes-and-pods).
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
    }

    private nodeGroup(name: string, cluster: eks.Cluster, args: ClusterArgs): eks.ManagedNodeGroup {
        const launchTemplate = this.launchTemplate(name, args);
        // Detached only after the nodes, so the CNI can release its interfaces.
        const nodeRole = this.role({
            roleName: `${args.clusterName}-node`,
            service: "ec2.amazonaws.com",
            policyArns: NODE_ROLE_POLICIES,
            tags: args.tags,
        });
        return new eks.ManagedNodeGroup(
            `${name}-nodes`,
            {
                cluster,
                nodeRole: nodeRole.role,
                subnetIds: args.subnetIds,
                // On the node group: EKS refuses instanceTypes when the launch template names one.
                instanceTypes: nodeInstanceTypes(args.nodeInstanceType, args.nodeCapacityType),
                capacityType: args.nodeCapacityType,
                amiType: "AL2023_x86_64_STANDARD",
                // Unset by pulumi-eks with our own launch template: nodes would stay behind an upgrade.
                version: cluster.eksCluster.version,
                scalingConfig: {
                    desiredSize: args.nodeGroupSize.desired,
                    minSize: args.nodeGroupSize.min,
                    maxSize: args.nodeGroupSize.max,
                },
                // The autoscaler owns the desired size.
                ignoreScalingChanges: true,
                launchTemplate: { id: launchTemplate.id, version: pulumi.interpolate`${launchTemplate.latestVersion}` },
                tags: args.tags,
            },
            { parent: this, dependsOn: nodeRole.attachments },
        );
    }
}
