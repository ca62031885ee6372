import * as pulumi from "@pulumi/pulumi";
import * as awsx from "@pulumi/awsx";

export interface NetworkArgs {
    cidrBlock: string;
    availabilityZones: string[];
    /** One block per availability zone, in the same order. */
    publicSubnetCidrs: string[];
    /**
     * One block per availability zone for subnets with no route to the internet (the managed database's);
     * none are laid out when absent.
     */
    isolatedSubnetCidrs?: string[];
    /** The EKS cluster that will use these subnets; its tag lets Kubernetes find them. */
    clusterName: string;
    tags?: Record<string, string>;
}

/**
 * A VPC whose public subnets hold the nodes and the load balancer, reaching the internet through the internet
 * gateway, so no NAT gateway is paid for; optionally isolated subnets (no route out at all) for the database.
 */
export class Network extends pulumi.ComponentResource {
    public readonly vpcId: pulumi.Output<string>;
    public readonly publicSubnetIds: pulumi.Output<string[]>;
    public readonly isolatedSubnetIds: pulumi.Output<string[]>;

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fastapi:index:Network", name, {}, opts);

        const vpc = new awsx.ec2.Vpc(name, {
            cidrBlock: args.cidrBlock,
            availabilityZoneNames: args.availabilityZones,
            // Only "Auto" honours subnetSpecs[].cidrBlocks verbatim; the default strategy would compute its own ranges.
            subnetStrategy: "Auto",
            subnetSpecs: [{
                type: "Public",
                cidrBlocks: args.publicSubnetCidrs,
                tags: {
                    // The AWS cloud controller places internet-facing load balancers in subnets with this tag.
                    "kubernetes.io/role/elb": "1",
                    [`kubernetes.io/cluster/${args.clusterName}`]: "shared",
                },
            }, ...(args.isolatedSubnetCidrs === undefined ? [] : [{
                // awsx gives isolated subnets a route table with the VPC's local route only.
                type: "Isolated" as const,
                cidrBlocks: args.isolatedSubnetCidrs,
            }])],
            natGateways: { strategy: "None" },
            enableDnsHostnames: true,
            enableDnsSupport: true,
            tags: args.tags,
        }, { parent: this });

        this.vpcId = vpc.vpcId;
        this.publicSubnetIds = vpc.publicSubnetIds;
        this.isolatedSubnetIds = vpc.isolatedSubnetIds;
        this.registerOutputs({ vpcId: this.vpcId, publicSubnetIds: this.publicSubnetIds, isolatedSubnetIds: this.isolatedSubnetIds });
    }
}
