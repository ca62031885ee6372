import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";

/**
 * Zone IDs in which EKS refuses cluster subnets (EKS user guide, VPC and subnet requirements). Zone names map to
 * different physical zones in each account, so only the IDs identify them.
 */
export const EKS_UNSUPPORTED_ZONE_IDS = ["use1-az3", "usw1-az2", "cac1-az3"];

export interface NetworkArgs {
    cidrBlock: string;
    /**
     * Zones for the public subnets, in the same order. Undefined: the region's first zones (by name) that can host
     * EKS, one per subnet, as this account sees them.
     */
    availabilityZones?: string[];
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
 * The first `count` zones of the provider's region that EKS accepts. Every zone state counts, not only "available":
 * a zone that is briefly impaired must not shift the choice, which would replace the subnets and the cluster.
 * New zones get later letters, so the first ones stay the same as a region grows.
 */
export async function zonesForEks(count: number, parent?: pulumi.Resource): Promise<string[]> {
    const zones = await aws.getAvailabilityZones(
        {
            excludeZoneIds: EKS_UNSUPPORTED_ZONE_IDS,
            // Regular zones only: Local and Wavelength Zones are opted into, sort before them by name and cannot host EKS.
            filters: [{ name: "opt-in-status", values: ["opt-in-not-required"] }],
        },
        { parent },
    );
    const names = [...zones.names].sort();
    if (names.length < count) {
        throw new Error(
            `the region has ${names.length} availability zones that can host EKS (${names.join(", ")}), ` +
                `${count} are needed, one per public subnet; configure availabilityZones and publicSubnetCidrs to match`,
        );
    }
    return names.slice(0, count);
}

/**
 * A VPC whose public subnets hold the nodes and the load balancer, reaching the internet through the internet
 * gateway, so no NAT gateway is paid for; optionally isolated subnets (no route out at all) for the database.
 */
export class Network extends pulumi.ComponentResource<awsx.ec2.Vpc> {
    public readonly vpcId: pulumi.Output<string>;
    public readonly publicSubnetIds: pulumi.Output<string[]>;
    public readonly isolatedSubnetIds: pulumi.Output<string[]>;

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fastapi:index:Network", name, args, opts);
        const vpc = pulumi.output(this.getData());
        this.vpcId = vpc.apply((created) => created.vpcId);
        this.publicSubnetIds = vpc.apply((created) => created.publicSubnetIds);
        this.isolatedSubnetIds = vpc.apply((created) => created.isolatedSubnetIds);
        this.registerOutputs({
            vpcId: this.vpcId,
            publicSubnetIds: this.publicSubnetIds,
            isolatedSubnetIds: this.isolatedSubnetIds,
        });
    }

    // Runs from ComponentResource's constructor: awsx needs the zone names as plain strings, and without
    // configured ones they come from an AWS lookup, so the VPC can only be declared once that has answered.
    protected async initialize(
        props: pulumi.Inputs,
        _opts: pulumi.ComponentResourceOptions,
        name: string,
    ): Promise<awsx.ec2.Vpc> {
        const args = props as NetworkArgs;
        const availabilityZones = args.availabilityZones ?? (await zonesForEks(args.publicSubnetCidrs.length, this));
        // The VPC keeps the component's name, as before zones could be looked up: existing stacks keep their VPC.
        return new awsx.ec2.Vpc(
            name,
            {
                cidrBlock: args.cidrBlock,
                availabilityZoneNames: availabilityZones,
                // Only "Auto" honours subnetSpecs[].cidrBlocks verbatim; the default strategy would compute its own ranges.
                subnetStrategy: "Auto",
                subnetSpecs: [
                    {
                        type: "Public",
                        cidrBlocks: args.publicSubnetCidrs,
                        tags: {
                            // The AWS cloud controller places internet-facing load balancers in subnets with this tag.
                            "kubernetes.io/role/elb": "1",
                            [`kubernetes.io/cluster/${args.clusterName}`]: "shared",
                        },
                    },
                    ...(args.isolatedSubnetCidrs === undefined
                        ? []
                        : [
                              {
                                  // awsx gives isolated subnets a route table with the VPC's local route only.
                                  type: "Isolated" as const,
                                  cidrBlocks: args.isolatedSubnetCidrs,
                              },
                          ]),
                ],
                natGateways: { strategy: "None" },
                enableDnsHostnames: true,
                enableDnsSupport: true,
                tags: args.tags,
            },
            { parent: this },
        );
    }
}
