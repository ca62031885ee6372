import * as pulumi from "@pulumi/pulumi";
import { CLUSTER_AUTOSCALER_IMAGE_TAGS, KubernetesVersion } from "./cluster";
import { MIN_NODES_WITH_PODS } from "./workload";

/** Every setting of the stack, validated, with the seed architecture's values as defaults. */
export interface StackConfig {
    /** Prefix of the AWS names that must be unique per account (cluster, roles, ECR repository). */
    namePrefix: string;
    region: string;
    vpcCidr: string;
    availabilityZones: string[];
    publicSubnetCidrs: string[];
    kubernetesVersion: KubernetesVersion;
    nodeInstanceType: string;
    nodeDesiredSize: number;
    nodeMinSize: number;
    nodeMaxSize: number;
    nodeDiskSizeGb: number;
    /** IAM roles/users that get cluster-admin through EKS access entries (besides the cluster creator). */
    clusterAdmins: string[];
    /** An image already in a registry, by digest; when set the stack deploys it instead of building app/. */
    image: string | undefined;
    appMinReplicas: number;
    appMaxReplicas: number;
    appTargetCpuPercent: number;
    databaseUrl: pulumi.Output<string>;
}

const DATABASE_URL_HINT = "pulumi config set --secret databaseUrl postgresql://USER:PASSWORD@HOST:5432/DATABASE";

export class ConfigError extends Error {
    constructor(key: string, problem: string) {
        super(`config '${key}': ${problem}`);
        this.name = "ConfigError";
    }
}

const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

interface Cidr {
    network: number;
    prefix: number;
}

function parseCidr(key: string, value: string): Cidr {
    const match = IPV4_CIDR.exec(value);
    const octets = match ? match.slice(1, 5).map(Number) : [];
    const prefix = match ? Number(match[5]) : -1;
    if (!match || octets.some((octet) => octet > 255) || prefix > 32) {
        throw new ConfigError(key, `'${value}' is not an IPv4 CIDR block such as 10.0.0.0/16`);
    }
    const address = octets.reduce((acc, octet) => acc * 256 + octet, 0);
    const size = 2 ** (32 - prefix);
    if (address % size !== 0) {
        throw new ConfigError(key, `'${value}' has host bits set; the network address is ${formatAddress(address - (address % size))}/${prefix}`);
    }
    return { network: address, prefix };
}

function formatAddress(address: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join(".");
}

function contains(outer: Cidr, inner: Cidr): boolean {
    const outerSize = 2 ** (32 - outer.prefix);
    const innerSize = 2 ** (32 - inner.prefix);
    return inner.prefix >= outer.prefix && inner.network >= outer.network && inner.network + innerSize <= outer.network + outerSize;
}

function overlaps(a: Cidr, b: Cidr): boolean {
    return contains(a, b) || contains(b, a);
}

function validateSubnets(vpcCidr: string, subnetCidrs: string[], availabilityZones: string[]): void {
    const vpc = parseCidr("vpcCidr", vpcCidr);
    if (vpc.prefix < 16 || vpc.prefix > 28) {
        throw new ConfigError("vpcCidr", `AWS VPCs take a prefix between /16 and /28, got /${vpc.prefix}`);
    }
    const subnets = subnetCidrs.map((cidr) => parseCidr("publicSubnetCidrs", cidr));
    subnets.forEach((subnet, index) => {
        if (subnet.prefix < 16 || subnet.prefix > 28) {
            throw new ConfigError("publicSubnetCidrs", `${subnetCidrs[index]}: AWS subnets take a prefix between /16 and /28`);
        }
    });
    if (subnets.length !== availabilityZones.length) {
        throw new ConfigError("publicSubnetCidrs", `needs one block per availability zone (${availabilityZones.length}), got ${subnets.length}`);
    }
    subnets.forEach((subnet, index) => {
        if (!contains(vpc, subnet)) {
            throw new ConfigError("publicSubnetCidrs", `${subnetCidrs[index]} is not inside vpcCidr ${vpcCidr}`);
        }
        if (subnets.slice(0, index).some((earlier) => overlaps(earlier, subnet))) {
            throw new ConfigError("publicSubnetCidrs", `${subnetCidrs[index]} overlaps another subnet`);
        }
    });
}

function validateAvailabilityZones(region: string, zones: string[]): void {
    if (zones.length < 2) {
        throw new ConfigError("availabilityZones", "EKS needs subnets in at least two availability zones");
    }
    if (new Set(zones).size !== zones.length) {
        throw new ConfigError("availabilityZones", "zones must be distinct");
    }
    const outside = zones.filter((zone) => !new RegExp(`^${region}[a-z]$`).test(zone));
    if (outside.length > 0) {
        throw new ConfigError("availabilityZones", `${outside.join(", ")} not in region ${region} (expected e.g. ${region}a)`);
    }
}

function requireMatch(key: string, value: string, pattern: RegExp, example: string): string {
    if (!pattern.test(value)) {
        throw new ConfigError(key, `'${value}' is not valid, expected something like ${example}`);
    }
    return value;
}

function integerIn(key: string, value: number, min: number, max: number): number {
    if (!Number.isInteger(value) || value < min || value > max) {
        throw new ConfigError(key, `must be a whole number from ${min} to ${max}, got ${value}`);
    }
    return value;
}

function validateOrder(keys: [string, string], values: [number, number]): void {
    if (values[0] > values[1]) {
        throw new ConfigError(keys[0], `${keys[0]} (${values[0]}) must not exceed ${keys[1]} (${values[1]})`);
    }
}

const IAM_PRINCIPAL_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:(role|user)\/[\w+=,.@\/-]+$/;
const IMAGE_BY_DIGEST = /^[a-z0-9.-]+(:\d+)?\/[a-z0-9._\/-]+(:[\w.-]+)?@sha256:[a-f0-9]{64}$/;

function supportedKubernetesVersion(version: string): KubernetesVersion {
    const supported = Object.keys(CLUSTER_AUTOSCALER_IMAGE_TAGS);
    if (!(version in CLUSTER_AUTOSCALER_IMAGE_TAGS)) {
        throw new ConfigError("kubernetesVersion", `'${version}' is not supported; use one of ${supported.join(", ")} (each has a matching cluster-autoscaler release)`);
    }
    return version as KubernetesVersion;
}

/** A list setting: JSON in the stack configuration, so anything but an array of strings is refused by name. */
function stringList(config: pulumi.Config, key: string, fallback: string[], example: string): string[] {
    const value: unknown = config.getObject<unknown>(key);
    if (value === undefined) {
        return fallback;
    }
    if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
        throw new ConfigError(key, `must be a list of strings such as ${example}, got ${JSON.stringify(value)}; set an entry with: pulumi config set --path '${key}[0]' <value>`);
    }
    return value;
}

export function validateDatabaseUrl(url: string): void {
    let parsed: URL;
    try {
        parsed = new URL(url);
    } catch {
        throw new ConfigError("databaseUrl", `is not a URL; set it with: ${DATABASE_URL_HINT}`);
    }
    if (parsed.protocol !== "postgresql:" || parsed.hostname === "") {
        throw new ConfigError("databaseUrl", `must look like postgresql://USER:PASSWORD@HOST:5432/DATABASE; set it with: ${DATABASE_URL_HINT}`);
    }
}

function readDatabaseUrl(config: pulumi.Config): pulumi.Output<string> {
    const databaseUrl = config.getSecret("databaseUrl");
    if (databaseUrl === undefined) {
        throw new ConfigError("databaseUrl", `is required (the external PostgreSQL URL). Set it with: ${DATABASE_URL_HINT}`);
    }
    // The check runs inside apply so the secret never leaves its Output; the message never echoes it.
    return databaseUrl.apply((url) => {
        validateDatabaseUrl(url);
        return url;
    });
}

/** Reads and validates the stack configuration. Throws ConfigError naming the offending key. */
export function loadConfig(): StackConfig {
    const config = new pulumi.Config();
    const region = new pulumi.Config("aws").get("region") ?? "ap-southeast-1";
    const availabilityZones = stringList(config, "availabilityZones", [`${region}a`, `${region}b`], `["${region}a","${region}b"]`);
    const vpcCidr = config.get("vpcCidr") ?? "10.0.0.0/16";
    const publicSubnetCidrs = stringList(config, "publicSubnetCidrs", ["10.0.1.0/24", "10.0.2.0/24"], '["10.0.1.0/24","10.0.2.0/24"]');
    validateAvailabilityZones(region, availabilityZones);
    validateSubnets(vpcCidr, publicSubnetCidrs, availabilityZones);

    const nodeDesiredSize = integerIn("nodeDesiredSize", config.getNumber("nodeDesiredSize") ?? 2, 0, 100);
    const nodeMinSize = integerIn("nodeMinSize", config.getNumber("nodeMinSize") ?? MIN_NODES_WITH_PODS, 0, 100);
    if (nodeMinSize < MIN_NODES_WITH_PODS) {
        throw new ConfigError("nodeMinSize", `must be at least ${MIN_NODES_WITH_PODS}: the service's pods run on two nodes so that losing one never takes every pod, and the autoscaler must not remove the second`);
    }
    const nodeMaxSize = integerIn("nodeMaxSize", config.getNumber("nodeMaxSize") ?? 3, 1, 100);
    if (nodeMaxSize < MIN_NODES_WITH_PODS + 1) {
        throw new ConfigError("nodeMaxSize", `must be at least ${MIN_NODES_WITH_PODS + 1}: draining one of two nodes needs a third for its pods, since the pods never all run on one node`);
    }
    validateOrder(["nodeMinSize", "nodeMaxSize"], [nodeMinSize, nodeMaxSize]);
    validateOrder(["nodeMinSize", "nodeDesiredSize"], [nodeMinSize, nodeDesiredSize]);
    validateOrder(["nodeDesiredSize", "nodeMaxSize"], [nodeDesiredSize, nodeMaxSize]);

    const appMinReplicas = integerIn("appMinReplicas", config.getNumber("appMinReplicas") ?? 2, 1, 100);
    if (appMinReplicas < 2) {
        throw new ConfigError("appMinReplicas", "must be at least 2: with one pod, every node drain, upgrade, scale-down or node loss takes the service down");
    }
    const appMaxReplicas = integerIn("appMaxReplicas", config.getNumber("appMaxReplicas") ?? 10, 1, 100);
    validateOrder(["appMinReplicas", "appMaxReplicas"], [appMinReplicas, appMaxReplicas]);

    const clusterAdmins = stringList(config, "clusterAdmins", [], '["arn:aws:iam::123456789012:role/github-deploy"]');
    clusterAdmins.forEach((arn) => requireMatch("clusterAdmins", arn, IAM_PRINCIPAL_ARN, "arn:aws:iam::123456789012:role/github-deploy"));
    const image = config.get("image");
    if (image !== undefined) {
        requireMatch("image", image, IMAGE_BY_DIGEST, "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/fastapi-app@sha256:<64 hex digits>");
    }

    return {
        namePrefix: requireMatch("namePrefix", config.get("namePrefix") ?? "fastapi-app", /^[a-z][a-z0-9-]{1,22}[a-z0-9]$/, "fastapi-app"),
        region,
        vpcCidr,
        availabilityZones,
        publicSubnetCidrs,
        kubernetesVersion: supportedKubernetesVersion(config.get("kubernetesVersion") ?? "1.36"),
        nodeInstanceType: requireMatch("nodeInstanceType", config.get("nodeInstanceType") ?? "t3.medium", /^[a-z][a-z0-9-]*\d[a-z0-9-]*\.(nano|micro|small|medium|large|metal|\d*xlarge)$/, "t3.medium"),
        nodeDesiredSize,
        nodeMinSize,
        nodeMaxSize,
        nodeDiskSizeGb: integerIn("nodeDiskSizeGb", config.getNumber("nodeDiskSizeGb") ?? 20, 20, 16384),
        clusterAdmins,
        image,
        appMinReplicas,
        appMaxReplicas,
        appTargetCpuPercent: integerIn("appTargetCpuPercent", config.getNumber("appTargetCpuPercent") ?? 70, 10, 100),
        databaseUrl: readDatabaseUrl(config),
    };
}
