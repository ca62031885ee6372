import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";

/** Zone IDs where EKS refuses cluster subnets (EKS user guide); names differ per account, IDs do not. */
export const EKS_UNSUPPORTED_ZONE_IDS = ["use1-az3", "usw1-az2", "cac1-az3"];

export interface NetworkArgs {
    readonly cidrBlock: string;
    /** Zones of the public subnets, in order; undefined: the region's first zones that can host EKS. */
    readonly availabilityZones?: string[];
    readonly publicSubnetCidrs: string[];
    /** Subnets with no route out (the managed database's), one per zone; none when absent. */
    readonly isolatedSubnetCidrs?: string[];
    readonly clusterName: string;
    readonly tags?: Record<string, string>;
}

/** Zones in any state: an impaired zone must not shift the choice and replace the subnets and the cluster. */
export async function zonesForEks(count: number, parent?: pulumi.Resource): Promise<string[]> {
    const zones = await aws.getAvailabilityZones(
        {
            excludeZoneIds: EKS_UNSUPPORTED_ZONE_IDS,
            // Local and Wavelength Zones are opt-in and cannot host EKS.
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

/** Public subnets for the nodes and the load balancer (no NAT gateway), and isolated ones for the database. */
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

    // awsx needs the zone names as plain strings, which may come from an AWS lookup.
    protected async initialize(
        props: pulumi.Inputs,
        _opts: pulumi.ComponentResourceOptions,
        name: string,
    ): Promise<awsx.ec2.Vpc> {
        const args = props as NetworkArgs;
        const availabilityZones = args.availabilityZones ?? (await zonesForEks(args.publicSubnetCidrs.length, this));
        // Named like the component: the URN existing stacks' VPC has.
        return new awsx.ec2.Vpc(
            name,
            {
                cidrBlock: args.cidrBlock,
                availabilityZoneNames: availabilityZones,
                // Only "Auto" takes subnetSpecs[].cidrBlocks verbatim.
                subnetStrategy: "Auto",
                subnetSpecs: [
                    {
                        type: "Public",
                        cidrBlocks: args.publicSubnetCidrs,
                        tags: {
                            // Where the AWS cloud controller places internet-facing load balancers.
                            "kubernetes.io/role/elb": "1",
                            [`kubernetes.io/cluster/${args.clusterName}`]: "shared",
                        },
                    },
                    ...(args.isolatedSubnetCidrs === undefined
                        ? []
                        : [
                              {
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
