import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as random from "@pulumi/random";
import { MIN_MAX_CONNECTIONS } from "./connection-budget";

export const DATABASE_PORT = 5432;
export { MIN_MAX_CONNECTIONS } from "./connection-budget";
/** The CA bundle of RDS server certificates in the service image (app/Dockerfile). */
export const RDS_CA_BUNDLE_PATH = "/app/certs/rds-ca-bundle.pem";
export const RDS_CA_CERTIFICATE = "rds-ca-rsa2048-g1";
const DATABASE_NAME = "app";
const MASTER_USERNAME = "app";
/** The service's role, which the migration Job makes (app/src/fastapi_app/service_role.py). */
export const SERVICE_ROLE = "fastapi_app";
const BACKUP_RETENTION_DAYS = 7;
const LOG_RETENTION_DAYS = 30;
/** RDS then upgrades the major at the end of standard support instead of billing extended support. */
export const EXTENDED_SUPPORT_DISABLED = "open-source-rds-extended-support-disabled";

export interface DatabaseArgs {
    namePrefix: string;
    vpcId: pulumi.Input<string>;
    subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /** The only source admitted: the pods' security group. */
    clientSecurityGroupId: pulumi.Input<string>;
    /** The PostgreSQL major ("15"); RDS picks the minor. */
    postgresVersion: pulumi.Input<string>;
    instanceClass: string;
    storageGb: number;
    maxStorageGb: number;
    deletionProtection: boolean;
    finalSnapshot: boolean;
    /** Apply changes now rather than in the maintenance window. */
    applyImmediately: boolean;
    /** A new value generates a new password for the service's role. */
    passwordRotation?: string;
    tags?: Record<string, string>;
}

interface InstanceParts {
    readonly identifier: string;
    readonly password: pulumi.Output<string>;
    readonly subnetGroup: aws.rds.SubnetGroup;
    readonly securityGroup: aws.ec2.SecurityGroup;
    readonly parameterGroup: aws.rds.ParameterGroup;
}

/** Amazon RDS for PostgreSQL, reachable from the pods only, TLS only (docs/deploying.md). */
export class Database extends pulumi.ComponentResource {
    public readonly endpoint: pulumi.Output<string>;
    /** The service's DATABASE_URL, as its own role; a secret. */
    public readonly url: pulumi.Output<string>;
    /** As the master user, for the migration Job alone; a secret. */
    public readonly migrationUrl: pulumi.Output<string>;

    constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fastapi:index:Database", name, {}, opts);
        const identifier = `${args.namePrefix}-db`;
        // Alphanumeric: RDS refuses '/', '@', '"' and spaces, and the URL needs no escaping.
        const password = new random.RandomPassword(name, { length: 40, special: false }, { parent: this });
        const instance = this.instance(name, args, {
            identifier,
            password: password.result,
            ...this.network(name, identifier, args),
            parameterGroup: this.parameterGroup(name, identifier, args),
        });

        // Not the master's: RDS applies a master-password change asynchronously, after the update.
        const servicePassword = new random.RandomPassword(
            `${name}-service`,
            { length: 40, special: false, keepers: { rotation: args.passwordRotation ?? "" } },
            { parent: this },
        );

        this.endpoint = pulumi.interpolate`${instance.address}:${instance.port}`;
        const urlAs = (user: string, secret: pulumi.Output<string>): pulumi.Output<string> =>
            pulumi.secret(
                pulumi.interpolate`postgresql://${user}:${secret}@${this.endpoint}/${DATABASE_NAME}?sslmode=verify-full&sslrootcert=${RDS_CA_BUNDLE_PATH}`,
            );
        this.url = urlAs(SERVICE_ROLE, servicePassword.result);
        this.migrationUrl = urlAs(MASTER_USERNAME, password.result);
        this.registerOutputs({ endpoint: this.endpoint, url: this.url, migrationUrl: this.migrationUrl });
    }

    private network(
        name: string,
        identifier: string,
        args: DatabaseArgs,
    ): Pick<InstanceParts, "subnetGroup" | "securityGroup"> {
        const subnetGroup = new aws.rds.SubnetGroup(
            name,
            {
                name: identifier,
                description: "Isolated subnets of the managed PostgreSQL",
                subnetIds: args.subnetIds,
                tags: args.tags,
            },
            { parent: this },
        );
        // No egress rules: the provider then removes AWS's allow-all egress. A name prefix replaces create-first.
        const securityGroup = new aws.ec2.SecurityGroup(
            name,
            {
                namePrefix: `${identifier}-`,
                description: "PostgreSQL from the EKS pods only",
                vpcId: args.vpcId,
                tags: { ...args.tags, Name: identifier },
            },
            { parent: this },
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
            { parent: this },
        );
        return { subnetGroup, securityGroup };
    }

    /** Named by prefix: a major upgrade creates the new family's group first. */
    private parameterGroup(name: string, identifier: string, args: DatabaseArgs): aws.rds.ParameterGroup {
        return new aws.rds.ParameterGroup(
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
            { parent: this },
        );
    }

    private instance(name: string, args: DatabaseArgs, parts: InstanceParts): aws.rds.Instance {
        const { identifier } = parts;
        // Keyed on the instance's replace-forcing inputs: a new instance, a new snapshot name.
        const snapshotSuffix = new random.RandomId(
            `${name}-final-snapshot`,
            {
                byteLength: 4,
                keepers: { identifier, engine: "postgres", dbName: DATABASE_NAME, username: MASTER_USERNAME },
            },
            { parent: this },
        );
        // Before the instance, so RDS exports into a group with a retention.
        const logGroup = new aws.cloudwatch.LogGroup(
            `${name}-postgresql`,
            {
                name: `/aws/rds/instance/${identifier}/postgresql`,
                retentionInDays: LOG_RETENTION_DAYS,
                tags: args.tags,
            },
            { parent: this },
        );
        return new aws.rds.Instance(
            name,
            {
                identifier,
                engine: "postgres",
                engineVersion: args.postgresVersion,
                // RDS refuses a major upgrade without allowMajorVersionUpgrade (terraform-provider-aws#27497).
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
                password: parts.password,
                port: DATABASE_PORT,
                dbSubnetGroupName: parts.subnetGroup.name,
                vpcSecurityGroupIds: [parts.securityGroup.id],
                publiclyAccessible: false,
                parameterGroupName: parts.parameterGroup.name,
                caCertIdentifier: RDS_CA_CERTIFICATE,
                backupRetentionPeriod: BACKUP_RETENTION_DAYS,
                // UTC: 02:00 and Monday 03:00 in Singapore; the windows must not overlap.
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
                // AWS sets it only at create or restore: an older instance keeps its own.
                ignoreChanges: ["engineLifecycleSupport"],
            },
        );
    }
}
