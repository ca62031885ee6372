import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./config";
import { Network } from "./network";
import { Cluster } from "./cluster";
import { Registry } from "./registry";
import { Workload } from "./workload";
import { DATABASE_PORT, Database } from "./database";
import { checkDatabaseMode, deployedDatabase } from "./database-mode";

const config = loadConfig();
const eksClusterName = `${config.namePrefix}-cluster`;
const tags = { project: "fastapi-app", stack: pulumi.getStack(), "managed-by": "pulumi" };

const network = new Network(config.namePrefix, {
    cidrBlock: config.vpcCidr,
    availabilityZones: config.availabilityZones,
    publicSubnetCidrs: config.publicSubnetCidrs,
    isolatedSubnetCidrs: config.database.mode === "managed" ? config.database.isolatedSubnetCidrs : undefined,
    clusterName: eksClusterName,
    tags,
});

const cluster = new Cluster(config.namePrefix, {
    clusterName: eksClusterName,
    kubernetesVersion: config.kubernetesVersion,
    region: config.region,
    vpcId: network.vpcId,
    subnetIds: network.publicSubnetIds,
    nodeInstanceType: config.nodeInstanceType,
    nodeCapacityType: config.nodeCapacityType,
    nodeGroupSize: { desired: config.nodeDesiredSize, min: config.nodeMinSize, max: config.nodeMaxSize },
    nodeDiskSizeGb: config.nodeDiskSizeGb,
    clusterAdmins: config.clusterAdmins,
    supportType: config.kubernetesSupportType,
    logRetentionDays: config.controlPlaneLogRetentionDays,
    tags,
});

// The deployed database mode, read from AWS before the database or the service's URL is declared: a change of mode
// (or a PostgreSQL downgrade) stops the program in the preview, before anything is created or deleted.
const databaseIdentifier = `${config.namePrefix}-db`;
const databaseChecked = pulumi.output(deployedDatabase(databaseIdentifier, eksClusterName)).apply((deployed) => {
    const warnings = checkDatabaseMode({
        requested: config.database.mode,
        confirmed: config.database.modeSwitch,
        deployed,
        instanceIdentifier: databaseIdentifier,
        postgresVersion: config.database.mode === "managed" ? config.database.postgresVersion : undefined,
    });
    for (const warning of warnings) {
        void pulumi.log.warn(warning);
    }
    return true;
});
const afterCheck = <T>(value: pulumi.Input<T>): pulumi.Output<T> =>
    pulumi.all([databaseChecked, value]).apply(([, inner]) => inner as T);

const database =
    config.database.mode === "managed"
        ? new Database(config.namePrefix, {
              namePrefix: config.namePrefix,
              vpcId: afterCheck(network.vpcId),
              subnetIds: afterCheck(network.isolatedSubnetIds),
              clientSecurityGroupId: cluster.podSecurityGroupId,
              postgresVersion: afterCheck(config.database.postgresVersion),
              instanceClass: config.database.instanceClass,
              storageGb: config.database.storageGb,
              maxStorageGb: config.database.maxStorageGb,
              deletionProtection: config.database.deletionProtection,
              finalSnapshot: config.database.finalSnapshot,
              applyImmediately: config.database.applyImmediately,
              passwordRotation: config.database.passwordRotation,
              tags,
          })
        : undefined;

const registry = new Registry(config.namePrefix, {
    repositoryName: config.namePrefix,
    // Relative: Pulumi runs the program from the project directory, and the state must not hold a checkout's path.
    appDirectory: "app",
    platform: "linux/amd64",
    existingImage: config.image,
    keepImages: 10,
    tags,
});

// Destroy order: the LoadBalancer Service itself depends on the whole Cluster (control plane, node group,
// add-ons), which depends on the Network's subnets. Pulumi deletes dependents first, so the Service goes before
// the node group, the cluster and the VPC; Kubernetes keeps the Service (finalizer) until the cloud controller
// has deleted its load balancer.
const workload = new Workload(
    "fastapi",
    {
        namespace: "fastapi-app",
        image: registry.image,
        databaseUrl: config.database.mode === "external" ? afterCheck(config.database.url) : database!.url,
        migrationDatabaseUrl: database?.migrationUrl,
        minReplicas: config.appMinReplicas,
        maxReplicas: config.appMaxReplicas,
        targetCpuPercent: config.appTargetCpuPercent,
        loadBalancer: config.loadBalancer,
        tokens: config.tokens,
        loadBalancerDependsOn: [cluster],
        metricsScrape: {
            apiEndpoint: cluster.apiEndpoint,
            environment: pulumi.getStack(),
            sourceCidrs: [config.vpcCidr],
        },
        databaseEgress:
            config.database.mode === "managed"
                ? { cidrs: config.database.isolatedSubnetCidrs, port: DATABASE_PORT }
                : undefined,
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
