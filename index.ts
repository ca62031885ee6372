import * as pulumi from "@pulumi/pulumi";
import { DatabaseConfig, loadConfig } from "./config";
import { Network } from "./network";
import { Cluster } from "./cluster";
import { Registry } from "./registry";
import { Workload } from "./workload";
import { DATABASE_PORT, Database } from "./database";
import { checkDatabaseMode, deployedDatabase } from "./database-mode";
import type { DatabaseEgress } from "./network-policies";

const config = loadConfig();
const eksClusterName = `${config.namePrefix}-cluster`;
const tags = { project: "fastapi-app", stack: pulumi.getStack(), "managed-by": "pulumi" };

/** Everything that depends on the database mode, decided in one place. */
interface DatabasePlan {
    isolatedSubnetCidrs?: string[];
    postgresVersion?: string;
    egress?: DatabaseEgress;
    /** Declares the managed database, if any, once the deployed mode is checked; returns the service's URL. */
    connect(
        network: Network,
        cluster: Cluster,
        afterCheck: <T>(value: pulumi.Input<T>) => pulumi.Output<T>,
    ): { url: pulumi.Output<string>; migrationUrl?: pulumi.Output<string>; database?: Database };
}

function databasePlan(database: DatabaseConfig): DatabasePlan {
    if (database.mode === "external") {
        return { connect: (_network, _cluster, afterCheck) => ({ url: afterCheck(database.url) }) };
    }
    return {
        isolatedSubnetCidrs: database.isolatedSubnetCidrs,
        postgresVersion: database.postgresVersion,
        egress: { cidrs: database.isolatedSubnetCidrs, port: DATABASE_PORT },
        connect: (network, cluster, afterCheck) => {
            const managed = new Database(config.namePrefix, {
                namePrefix: config.namePrefix,
                vpcId: afterCheck(network.vpcId),
                subnetIds: afterCheck(network.isolatedSubnetIds),
                clientSecurityGroupId: cluster.podSecurityGroupId,
                postgresVersion: afterCheck(database.postgresVersion),
                instanceClass: database.instanceClass,
                storageGb: database.storageGb,
                maxStorageGb: database.maxStorageGb,
                deletionProtection: database.deletionProtection,
                finalSnapshot: database.finalSnapshot,
                applyImmediately: database.applyImmediately,
                passwordRotation: database.passwordRotation,
                tags,
            });
            return { url: managed.url, migrationUrl: managed.migrationUrl, database: managed };
        },
    };
}

const plan = databasePlan(config.database);

const network = new Network(config.namePrefix, {
    ...config.network,
    isolatedSubnetCidrs: plan.isolatedSubnetCidrs,
    clusterName: eksClusterName,
    tags,
});

const cluster = new Cluster(config.namePrefix, {
    ...config.cluster,
    clusterName: eksClusterName,
    region: config.region,
    vpcId: network.vpcId,
    subnetIds: network.publicSubnetIds,
    tags,
});

// The deployed mode is read from AWS before the database or the service's URL is declared, so a refused switch or
// downgrade stops the preview before anything changes (docs/operating.md#switch-the-database-mode).
const databaseIdentifier = `${config.namePrefix}-db`;
const databaseChecked = pulumi.output(deployedDatabase(databaseIdentifier, eksClusterName)).apply((deployed) => {
    const warnings = checkDatabaseMode({
        requested: config.database.mode,
        confirmed: config.database.modeSwitch,
        deployed,
        instanceIdentifier: databaseIdentifier,
        postgresVersion: plan.postgresVersion,
    });
    for (const warning of warnings) {
        void pulumi.log.warn(warning);
    }
    return true;
});
const afterCheck = <T>(value: pulumi.Input<T>): pulumi.Output<T> =>
    pulumi.all([databaseChecked, value]).apply(([, inner]) => inner as T);

const { url: databaseUrl, migrationUrl, database } = plan.connect(network, cluster, afterCheck);

const registry = new Registry(config.namePrefix, {
    repositoryName: config.namePrefix,
    // Relative: Pulumi runs the program from the project directory, and the state must not hold a checkout's path.
    appDirectory: "app",
    platform: "linux/amd64",
    existingImage: config.registry.existingImage,
    keepImages: 10,
    tags,
});

// The LoadBalancer Service depends on the whole Cluster, so destroy deletes it (and Kubernetes its load balancer)
// before the node group, the cluster and the VPC.
const workload = new Workload(
    "fastapi",
    {
        namespace: "fastapi-app",
        image: registry.image,
        databaseUrl,
        migrationDatabaseUrl: migrationUrl,
        ...config.workload,
        loadBalancerDependsOn: [cluster],
        metricsScrape: {
            apiEndpoint: cluster.apiEndpoint,
            environment: pulumi.getStack(),
            sourceCidrs: [config.network.cidrBlock],
        },
        databaseEgress: plan.egress,
    },
    { providers: [cluster.provider], dependsOn: [cluster] },
);

export const url = workload.url;
export const loadBalancerHostname = workload.loadBalancerHostname;
export const clusterName = cluster.clusterName;
export const kubeconfig = cluster.kubeconfig;
export const repositoryUrl = registry.repositoryUrl;
export const image = registry.image;
export const vpcId = network.vpcId;
export const publicSubnetIds = network.publicSubnetIds;
export const namespace = workload.namespace;
export const apiTokens = workload.apiTokens;
export const metricsTokens = workload.metricsTokens;
// What `npm run monitoring:targets` needs to scrape every pod through the API server (docs/monitoring.md).
export const kubernetesApiEndpoint = cluster.apiEndpoint;
export const kubernetesCaCertificate = cluster.certificateAuthority;
export const metricsScraperToken = workload.metricsScraperToken;
export const databaseMode = config.database.mode;
export const databaseEndpoint = database?.endpoint;
