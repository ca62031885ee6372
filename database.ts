import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as random from "@pulumi/random";
import { MIN_MAX_CONNECTIONS } from "./connection-budget";

export const DATABASE_PORT = 5432;
export { MIN_MAX_CONNECTIONS } from "./connection-budget";
/** Where the service image keeps the CA certificates that sign RDS server certificates (app/Dockerfile). */
export const RDS_CA_BUNDLE_PATH = "/app/certs/rds-ca-bundle.pem";
/** The RDS certificate authority the instance's server certificate comes from; its root is in the bundle. */
export const RDS_CA_CERTIFICATE = "rds-ca-rsa2048-g1";
const DATABASE_NAME = "app";
const MASTER_USERNAME = "app";
const BACKUP_RETENTION_DAYS = 7;
const LOG_RETENTION_DAYS = 30;
/** Created with it, RDS upgrades the major at the end of standard support instead of billing extended support. */
export const EXTENDED_SUPPORT_DISABLED = "open-source-rds-extended-support-disabled";

export interface DatabaseArgs {
    /** Prefix of the AWS names: the instance identifier, its groups, its final snapshot. */
    namePrefix: string;
    vpcId: pulumi.Input<string>;
    /** Isolated subnets (no route to the internet), one per availability zone. */
    subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /** The only source admitted on the PostgreSQL port: the security group pod traffic leaves from. */
    clientSecurityGroupId: pulumi.Input<string>;
    /** The PostgreSQL major ("15"); RDS picks the newest minor. A higher one upgrades the instance in place. */
    postgresVersion: pulumi.Input<string>;
    instanceClass: string;
    storageGb: number;
    /** Ceiling for storage autoscaling. */
    maxStorageGb: number;
    /** RDS deletion protection, and Pulumi's protect on the instance: neither a delete nor a replacement goes through. */
    deletionProtection: boolean;
    /** Keep a named snapshot when the instance is deleted. */
    finalSnapshot: boolean;
    /** Apply modifications during the update rather than in the next maintenance window. */
    applyImmediately: boolean;
    tags?: Record<string, string>;
}

/**
 * Amazon RDS for PostgreSQL in isolated subnets, reachable only from the pods' security group, TLS only, with a
 * generated password. Hands out the service's DATABASE_URL (a secret) with certificate verification switched on.
 */
export class Database extends pulumi.ComponentResource {
    /** host:port of the instance; not secret. */
    public readonly endpoint: pulumi.Output<string>;
    /** postgresql://… with the password, sslmode=verify-full and the image's CA bundle; a Pulumi secret. */
    public readonly url: pulumi.Output<string>;

    constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fastapi:index:Database", name, {}, opts);
        const child = { parent: this };
        const identifier = `${args.namePrefix}-db`;

        const subnetGroup = new aws.rds.SubnetGroup(
            name,
            {
                name: identifier,
                description: "Isolated subnets of the managed PostgreSQL",
                subnetIds: args.subnetIds,
                tags: args.tags,
            },
            child,
        );

        // No egress rules: the database never opens a connection, and without them the provider removes the
        // allow-all egress rule AWS adds to every new group.
        // A name prefix: a replacement (a new description, another VPC) creates the new group before deleting the old.
        const securityGroup = new aws.ec2.SecurityGroup(
            name,
            {
                namePrefix: `${identifier}-`,
                description: "PostgreSQL from the EKS pods only",
                vpcId: args.vpcId,
                tags: { ...args.tags, Name: identifier },
            },
            child,
        );
        new aws.vpc.SecurityGroupIngressRule(
            `${name}-from-pods`,
            {
                securityGroupId: securityGroup.id,
                description: "PostgreSQL from the security group pod traffic leaves from",
                referencedSecurityGroupId: args.clientSecurityGroupId,
                ipProtocol: "tcp",
                fromPort: DATABASE_PORT,
                toPort: DATABASE_PORT,
                tags: args.tags,
            },
            child,
        );

        // A major upgrade changes the family, which replaces the group: with a name prefix the new group exists before
        // the instance moves to it, and the old one (which RDS refuses to delete while in use) goes after.
        const parameterGroup = new aws.rds.ParameterGroup(
            name,
            {
                namePrefix: pulumi.interpolate`${identifier}-postgres${args.postgresVersion}-`,
                family: pulumi.interpolate`postgres${args.postgresVersion}`,
                description: "TLS only; a connection budget for the service's pools",
                parameters: [
                    { name: "rds.force_ssl", value: "1" },
                    {
                        name: "max_connections",
                        value: `GREATEST({DBInstanceClassMemory/9531392},${MIN_MAX_CONNECTIONS})`,
                        applyMethod: "pending-reboot",
                    },
                ],
                tags: args.tags,
            },
            child,
        );

        // Alphanumeric: RDS refuses '/', '@', '"' and spaces in the password, and the URL needs no escaping.
        const password = new random.RandomPassword(name, { length: 40, special: false }, child);
        // A snapshot name must be unique in the account: a stack created again after a destroy gets a new suffix, and
        // so does an instance created anew (the keepers are its replace-forcing inputs).
        const snapshotSuffix = new random.RandomId(
            `${name}-final-snapshot`,
            {
                byteLength: 4,
                keepers: { identifier, engine: "postgres", dbName: DATABASE_NAME, username: MASTER_USERNAME },
            },
            child,
        );

        // Created before the instance so RDS writes its exports here, with a retention, and destroy removes it.
        const logGroup = new aws.cloudwatch.LogGroup(
            `${name}-postgresql`,
            {
                name: `/aws/rds/instance/${identifier}/postgresql`,
                retentionInDays: LOG_RETENTION_DAYS,
                tags: args.tags,
            },
            child,
        );

        const instance = new aws.rds.Instance(
            name,
            {
                identifier,
                engine: "postgres",
                engineVersion: args.postgresVersion,
                // Minor versions (security fixes) arrive in the maintenance window. A major upgrade happens only when
                // databasePostgresVersion changes; RDS refuses it unless this is set (terraform-provider-aws#27497).
                autoMinorVersionUpgrade: true,
                allowMajorVersionUpgrade: true,
                applyImmediately: args.applyImmediately,
                engineLifecycleSupport: EXTENDED_SUPPORT_DISABLED,
                instanceClass: args.instanceClass,
                storageType: "gp3",
                allocatedStorage: args.storageGb,
                maxAllocatedStorage: args.maxStorageGb,
                storageEncrypted: true,
                dbName: DATABASE_NAME,
                username: MASTER_USERNAME,
                password: password.result,
                port: DATABASE_PORT,
                dbSubnetGroupName: subnetGroup.name,
                vpcSecurityGroupIds: [securityGroup.id],
                publiclyAccessible: false,
                parameterGroupName: parameterGroup.name,
                caCertIdentifier: RDS_CA_CERTIFICATE,
                backupRetentionPeriod: BACKUP_RETENTION_DAYS,
                // UTC; 02:00-02:30 and Monday 03:00-03:30 in Singapore, the default region. The windows must not overlap.
                backupWindow: "18:00-18:30",
                maintenanceWindow: "sun:19:00-sun:19:30",
                enabledCloudwatchLogsExports: ["postgresql"],
                copyTagsToSnapshot: true,
                deletionProtection: args.deletionProtection,
                skipFinalSnapshot: !args.finalSnapshot,
                finalSnapshotIdentifier: args.finalSnapshot
                    ? pulumi.interpolate`${identifier}-final-${snapshotSuffix.hex}`
                    : undefined,
                tags: args.tags,
            },
            {
                parent: this,
                dependsOn: [logGroup],
                protect: args.deletionProtection,
                // AWS sets the lifecycle support only at create or restore: an instance created before keeps its own.
                ignoreChanges: ["engineLifecycleSupport"],
            },
        );

        this.endpoint = pulumi.interpolate`${instance.address}:${instance.port}`;
        this.url = pulumi.secret(
            pulumi.interpolate`postgresql://${MASTER_USERNAME}:${password.result}@${instance.address}:${instance.port}/${DATABASE_NAME}?sslmode=verify-full&sslrootcert=${RDS_CA_BUNDLE_PATH}`,
        );
        this.registerOutputs({ endpoint: this.endpoint, url: this.url });
    }
}
