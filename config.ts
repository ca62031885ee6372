import * as pulumi from "@pulumi/pulumi";
import { MIN_NODES_WITH_PODS, NodeCapacityType, spotInstanceFamilies, spotInstanceTypes } from "./capacity";
import { contains, overlaps, parseCidr } from "./cidr";
import { connectionBudget, managedMaxConnections, maxReplicasWithin, BUDGET_SHARE } from "./connection-budget";
import { ConfigError } from "./config-error";
// The service checks DATABASE_URL against the same file (app/src/fastapi_app/db.py).
import databaseUrlRules from "./app/src/fastapi_app/database_url_rules.json";
import type { LoadBalancerArgs } from "./workload";
import {
    DEFAULT_KUBERNETES_VERSION,
    DEFAULT_POSTGRES_VERSION,
    KUBERNETES_RELEASES,
    KubernetesSupportType,
    KubernetesVersion,
    POSTGRES_RELEASES,
    PostgresVersion,
} from "./versions";

export { ConfigError } from "./config-error";

/** Every setting of the stack, validated, with the seed architecture's values as defaults. */
export interface StackConfig {
    /** Prefix of the AWS names that must be unique per account (cluster, roles, ECR repository). */
    namePrefix: string;
    region: string;
    vpcCidr: string;
    /** Undefined: the Network takes the region's first zones that can host EKS, one per public subnet, at deploy time. */
    availabilityZones: string[] | undefined;
    publicSubnetCidrs: string[];
    kubernetesVersion: KubernetesVersion;
    /** What EKS does when the version leaves standard support: STANDARD upgrades it, EXTENDED bills extended support. */
    kubernetesSupportType: KubernetesSupportType;
    /** Days CloudWatch keeps the control-plane logs (api, audit, authenticator). */
    controlPlaneLogRetentionDays: number;
    nodeInstanceType: string;
    nodeCapacityType: NodeCapacityType;
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
    database: DatabaseConfig;
    loadBalancer: LoadBalancerConfig;
    tokens: TokenConfig;
}

/** External: the PostgreSQL named by the secret databaseUrl. Managed: RDS inside the VPC, made by the stack. */
export type DatabaseConfig = ExternalDatabaseConfig | ManagedDatabaseConfig;
export type DatabaseMode = DatabaseConfig["mode"];
/** The one switch of databaseMode a stack's owner confirmed, named by its direction. */
export type DatabaseModeSwitch = "external-to-managed" | "managed-to-external";

export interface ExternalDatabaseConfig {
    mode: "external";
    url: pulumi.Output<string>;
    modeSwitch: DatabaseModeSwitch | undefined;
}

export interface ManagedDatabaseConfig {
    mode: "managed";
    modeSwitch: DatabaseModeSwitch | undefined;
    /** One block per availability zone, in the same order; subnets with no route to the internet. */
    isolatedSubnetCidrs: string[];
    postgresVersion: PostgresVersion;
    instanceClass: string;
    storageGb: number;
    /** Ceiling for RDS storage autoscaling; at least 10 % above storageGb, as RDS requires. */
    maxStorageGb: number;
    /** RDS deletion protection and Pulumi's protect: no delete or replace until released with pulumi up. */
    deletionProtection: boolean;
    /** Keep a named snapshot when the instance is deleted. */
    finalSnapshot: boolean;
    /** Apply a change of class, storage or version during pulumi up instead of in the next maintenance window. */
    applyImmediately: boolean;
    /** A new value generates a new password for the service's database role (docs/operating.md). */
    passwordRotation: string;
}

/** How the load balancer faces the internet: the Workload's settings, each given a value. */
export type LoadBalancerConfig = LoadBalancerArgs &
    Required<Pick<LoadBalancerArgs, "keepHttpPort" | "allowedSourceRanges">>;

/** Bearer tokens of the service; each list is a secret, undefined when the stack generates one token. */
export interface TokenConfig {
    apiTokens: pulumi.Output<string> | undefined;
    readsNeedToken: boolean;
    metricsTokens: pulumi.Output<string> | undefined;
}

const DATABASE_URL_HINT = "pulumi config set --secret databaseUrl postgresql://USER:PASSWORD@HOST:5432/DATABASE";
const EXTERNAL_MODE = "external database mode";
const MANAGED_MODE = "managed database mode";
/** Keys that only the managed database reads; setting one in external mode is a mistake, not a no-op. */
const MANAGED_DATABASE_KEYS = [
    "isolatedSubnetCidrs",
    "databasePostgresVersion",
    "databaseInstanceClass",
    "databaseStorageGb",
    "databaseMaxStorageGb",
    "databaseDeletionProtection",
    "databaseFinalSnapshot",
    "databaseApplyImmediately",
    "databasePasswordRotation",
];
const MODE_SWITCHES: readonly DatabaseModeSwitch[] = ["external-to-managed", "managed-to-external"];
/** Days before the end of RDS standard support from which a deploy warns that the major must move. */
export const POSTGRES_SUPPORT_WARNING_DAYS = 180;

/** A good value of each subnet list, for the messages: one block per zone, inside the default VPC. */
const SUBNET_EXAMPLES: Record<string, string[]> = {
    publicSubnetCidrs: ["10.0.1.0/24", "10.0.2.0/24"],
    isolatedSubnetCidrs: ["10.0.101.0/24", "10.0.102.0/24"],
};

/**
 * Checks one list of subnet blocks (one per zone; at least two when the zones come from the region) against the
 * VPC and against the blocks already laid out; `context` (the database mode) prefixes the problem when the list
 * belongs to one mode only.
 */
function validateSubnets(
    key: string,
    vpcCidr: string,
    subnetCidrs: string[],
    availabilityZones: string[] | undefined,
    laidOut: string[] = [],
    context = "",
): void {
    const example = JSON.stringify(SUBNET_EXAMPLES[key] ?? []);
    const fail = (problem: string): never => {
        throw new ConfigError(key, `${context}${problem}; a good value: ${example}`);
    };
    const vpc = parseCidr("vpcCidr", vpcCidr);
    if (vpc.prefix < 16 || vpc.prefix > 28) {
        throw new ConfigError(
            "vpcCidr",
            `AWS VPCs take a prefix between /16 and /28, got /${vpc.prefix}; a good value: 10.0.0.0/16`,
        );
    }
    const subnets = subnetCidrs.map((cidr) => parseCidr(key, cidr));
    subnets.forEach((subnet, index) => {
        if (subnet.prefix < 16 || subnet.prefix > 28) {
            fail(`${subnetCidrs[index]}: AWS subnets take a prefix between /16 and /28`);
        }
    });
    if (availabilityZones === undefined && subnets.length < 2) {
        fail(`needs at least two blocks, one per availability zone (EKS needs two zones), got ${subnets.length}`);
    }
    if (availabilityZones !== undefined && subnets.length !== availabilityZones.length) {
        fail(`needs one block per availability zone (${availabilityZones.length}), got ${subnets.length}`);
    }
    const earlierLists = laidOut.map((cidr) => ({ cidr, block: parseCidr(key, cidr) }));
    subnets.forEach((subnet, index) => {
        if (!contains(vpc, subnet)) {
            fail(`${subnetCidrs[index]} is not inside vpcCidr ${vpcCidr}`);
        }
        if (subnets.slice(0, index).some((earlier) => overlaps(earlier, subnet))) {
            fail(`${subnetCidrs[index]} overlaps another subnet`);
        }
        const clash = earlierLists.find((earlier) => overlaps(earlier.block, subnet));
        if (clash !== undefined) {
            fail(`${subnetCidrs[index]} overlaps public subnet ${clash.cidr}`);
        }
    });
}

function validateSourceRanges(ranges: string[]): void {
    ranges.forEach((range) => parseCidr("allowedSourceRanges", range));
    if (new Set(ranges).size !== ranges.length) {
        throw new ConfigError(
            "allowedSourceRanges",
            'lists a range twice; each range once, such as ["203.0.113.0/24","198.51.100.0/24"]',
        );
    }
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A name of the user's own DNS: an ACM certificate can never name the load balancer's AWS-owned host. */
function parsePublicHostname(config: pulumi.Config, certificateArn: string | undefined): string | undefined {
    const publicHostname = config.get("publicHostname");
    if (publicHostname === undefined) {
        if (certificateArn !== undefined) {
            throw new ConfigError(
                "publicHostname",
                "is required with certificateArn: the certificate cannot name the load balancer's own host, so the url must be the name it was issued for; set it with: pulumi config set publicHostname api.example.com",
            );
        }
        return undefined;
    }
    if (!HOSTNAME.test(publicHostname)) {
        throw new ConfigError(
            "publicHostname",
            `'${publicHostname}' is not a lower-case DNS name such as api.example.com (no scheme, port or path)`,
        );
    }
    if (publicHostname.endsWith(".amazonaws.com")) {
        throw new ConfigError(
            "publicHostname",
            `'${publicHostname}' is an AWS-owned name; set the name of your own DNS that points at the load balancer, such as api.example.com`,
        );
    }
    return publicHostname;
}

const ACM_CERTIFICATE_ARN = /^arn:aws(-[a-z]+)*:acm:([a-z0-9-]+):\d{12}:certificate\/[0-9a-f-]{36}$/;

function parseLoadBalancer(config: pulumi.Config, region: string): LoadBalancerConfig {
    const certificateArn = config.get("certificateArn");
    if (certificateArn !== undefined) {
        const match = ACM_CERTIFICATE_ARN.exec(certificateArn);
        if (!match) {
            throw new ConfigError(
                "certificateArn",
                `'${certificateArn}' is not an ACM certificate ARN such as arn:aws:acm:${region}:123456789012:certificate/<uuid>`,
            );
        }
        if (match[2] !== region) {
            throw new ConfigError(
                "certificateArn",
                `the certificate is in ${match[2]}, but the load balancer is in ${region}: request or import it in ${region}`,
            );
        }
    }
    const keepHttpPort = booleanSetting(config, "keepHttpPort", false, "");
    if (keepHttpPort && certificateArn === undefined) {
        throw new ConfigError(
            "keepHttpPort",
            "only applies with certificateArn (without one, port 80 is the only port); remove it with: pulumi config rm keepHttpPort",
        );
    }
    const allowedSourceRanges = stringList(config, "allowedSourceRanges", [], '["203.0.113.0/24"]');
    validateSourceRanges(allowedSourceRanges);
    const publicHostname = parsePublicHostname(config, certificateArn);
    return { certificateArn, publicHostname, keepHttpPort, allowedSourceRanges };
}

/** The service's own token rule (app/src/fastapi_app/settings.py): RFC 6750 characters, 16 to 512 of them. */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]{16,512}=*$/;

/**
 * A secret setting, checked on its plain value before the program goes on: a check inside apply would surface as
 * Pulumi's "error serializing property". `check` returns the value to keep and its errors never echo the value.
 */
function secretSetting(
    config: pulumi.Config,
    key: string,
    check: (value: string) => string,
): pulumi.Output<string> | undefined {
    const secret = config.getSecret(key);
    if (secret === undefined) {
        return undefined;
    }
    // The runtime's store of the decrypted configuration: read without Config.get's secret warning, never printed.
    const checked = check(pulumi.runtime.getConfig(`${config.name}:${key}`) ?? "");
    return secret.apply(() => checked);
}

function readTokens(config: pulumi.Config, key: string): pulumi.Output<string> | undefined {
    // The message names a position, never a value.
    return secretSetting(config, key, (value) => {
        const tokens = value.split(",").map((token) => token.trim());
        tokens.forEach((token, index) => {
            if (!BEARER_TOKEN.test(token)) {
                throw new ConfigError(
                    key,
                    `token ${index + 1} of ${tokens.length} is not 16-512 characters of A-Z a-z 0-9 - . _ ~ + /; set a comma-separated list of such tokens, for example: pulumi config set --secret ${key} "$(openssl rand -hex 24)"`,
                );
            }
        });
        return tokens.join(",");
    });
}

function validateAvailabilityZones(region: string, zones: string[] | undefined): void {
    if (zones === undefined) {
        return;
    }
    const example = `["${region}a","${region}b"]`;
    if (zones.length < 2) {
        throw new ConfigError(
            "availabilityZones",
            `lists ${zones.length}: EKS needs subnets in at least two availability zones, such as ${example}`,
        );
    }
    if (new Set(zones).size !== zones.length) {
        throw new ConfigError("availabilityZones", `zones must be distinct, such as ${example}`);
    }
    const outside = zones.filter((zone) => !new RegExp(`^${region}[a-z]$`).test(zone));
    if (outside.length > 0) {
        throw new ConfigError(
            "availabilityZones",
            `${outside.join(", ")} not in region ${region} (expected e.g. ${region}a): each zone is the region's name and one letter, such as ${example}`,
        );
    }
}

/** `rule` says in words what `pattern` accepts; `example` is a value it accepts. */
function requireMatch(
    key: string,
    value: string,
    pattern: RegExp,
    rule: string,
    example: string,
    context = "",
): string {
    if (!pattern.test(value)) {
        throw new ConfigError(key, `${context}'${value}' is not valid: ${rule}; expected something like ${example}`);
    }
    return value;
}

function integerIn(key: string, value: number, min: number, max: number, example: number, context = ""): number {
    if (!Number.isInteger(value) || value < min || value > max) {
        throw new ConfigError(
            key,
            `${context}must be a whole number from ${min} to ${max}, got ${value}; a good value: ${example}`,
        );
    }
    return value;
}

/**
 * A number setting, read as text: Config.getNumber would stop the program with Pulumi's type error and a stack
 * trace instead of naming the rule.
 */
function numberSetting(config: pulumi.Config, key: string, fallback: number, rule: string, context = ""): number {
    const raw = config.get(key);
    if (raw === undefined) {
        return fallback;
    }
    const value = raw.trim() === "" ? NaN : Number(raw);
    if (!Number.isFinite(value)) {
        throw new ConfigError(
            key,
            `${context}'${raw}' is not a number; ${rule}, such as ${fallback}: pulumi config set ${key} ${fallback}`,
        );
    }
    return value;
}

function integerSetting(
    config: pulumi.Config,
    key: string,
    fallback: number,
    min: number,
    max: number,
    context = "",
): number {
    const rule = `must be a whole number from ${min} to ${max}`;
    return integerIn(key, numberSetting(config, key, fallback, rule, context), min, max, fallback, context);
}

/**
 * Two settings that must be in order. The message blames the one of them the stack sets, when only one is set (the
 * other is its default); otherwise the first.
 */
function validateOrder(config: pulumi.Config, keys: [string, string], values: [number, number]): void {
    if (values[0] > values[1]) {
        const blamed = config.get(keys[0]) === undefined && config.get(keys[1]) !== undefined ? 1 : 0;
        const problem =
            blamed === 0
                ? `${keys[0]} (${values[0]}) must not exceed ${keys[1]} (${values[1]}); a good value: ${values[1]}`
                : `${keys[1]} (${values[1]}) must be at least ${keys[0]} (${values[0]}); a good value: ${values[0]}`;
        throw new ConfigError(keys[blamed], problem);
    }
}

/** AWS Graviton families: a1, and a family whose generation digit is followed by g (t4g, m7g, c6gn, x2gd, is4gen). */
const GRAVITON_INSTANCE_TYPE = /^(a1|[a-z]+\d+g[a-z]*)\./;
const IAM_PRINCIPAL_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/;
const IMAGE_BY_DIGEST = /^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+(:[\w.-]+)?@sha256:[a-f0-9]{64}$/;

function supportedKubernetesVersion(version: string): KubernetesVersion {
    if (!(version in KUBERNETES_RELEASES)) {
        const supported = Object.entries(KUBERNETES_RELEASES)
            .map(([minor, release]) => `${minor} (standard support until ${release.endOfStandardSupport})`)
            .join(", ");
        throw new ConfigError(
            "kubernetesVersion",
            `'${version}' is not supported; use one of ${supported}: the versions in EKS standard support, each with add-ons pinned for it`,
        );
    }
    return version as KubernetesVersion;
}

function capacityType(value: string, instanceType: string): NodeCapacityType {
    if (value !== "ON_DEMAND" && value !== "SPOT") {
        throw new ConfigError(
            "nodeCapacityType",
            `'${value}' is not valid, expected ON_DEMAND or SPOT: pulumi config set nodeCapacityType ON_DEMAND`,
        );
    }
    if (value === "SPOT" && spotInstanceTypes(instanceType) === undefined) {
        throw new ConfigError(
            "nodeCapacityType",
            `SPOT needs instance types of the same shape as nodeInstanceType to choose from, and none are known for ${instanceType}; use a type from ${spotInstanceFamilies()}, or ON_DEMAND`,
        );
    }
    return value;
}

const SUPPORT_TYPES: readonly KubernetesSupportType[] = ["STANDARD", "EXTENDED"];

function supportType(value: string): KubernetesSupportType {
    if (!SUPPORT_TYPES.includes(value as KubernetesSupportType)) {
        throw new ConfigError(
            "kubernetesSupportType",
            `must be STANDARD (EKS upgrades the cluster when its version leaves standard support) or EXTENDED (it stays, billed $0.60 instead of $0.10 per hour), got '${value}'`,
        );
    }
    return value as KubernetesSupportType;
}

/** The retention periods CloudWatch Logs accepts (PutRetentionPolicy). */
const LOG_RETENTION_DAYS = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

function logRetentionDays(config: pulumi.Config): number {
    const rule = "must be one of the periods CloudWatch Logs accepts";
    const days = numberSetting(config, "controlPlaneLogRetentionDays", 30, rule);
    if (!LOG_RETENTION_DAYS.includes(days)) {
        throw new ConfigError(
            "controlPlaneLogRetentionDays",
            `${rule} (${LOG_RETENTION_DAYS.join(", ")}), got ${days}; a good value: 30`,
        );
    }
    return days;
}

/** A list setting: JSON in the stack configuration, so anything but an array of strings is refused by name. */
function stringList(config: pulumi.Config, key: string, fallback: string[], example: string): string[];
function stringList(config: pulumi.Config, key: string, fallback: undefined, example: string): string[] | undefined;
function stringList(
    config: pulumi.Config,
    key: string,
    fallback: string[] | undefined,
    example: string,
): string[] | undefined {
    // Read as text: Config.getObject stops the program with Pulumi's type error and a stack trace on a plain string.
    const raw = config.get(key);
    if (raw === undefined) {
        return fallback;
    }
    let value: unknown;
    try {
        value = JSON.parse(raw);
    } catch {
        throw new ConfigError(
            key,
            `must be a list of strings such as ${example}, got the plain string '${raw}'; set an entry with: pulumi config set --path '${key}[0]' <value>`,
        );
    }
    if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
        throw new ConfigError(
            key,
            `must be a list of strings such as ${example}, got ${JSON.stringify(value)}; set an entry with: pulumi config set --path '${key}[0]' <value>`,
        );
    }
    return value;
}

export function validateDatabaseUrl(url: string): void {
    let parsed: URL;
    try {
        parsed = new URL(url);
    } catch {
        throw new ConfigError(
            "databaseUrl",
            `${EXTERNAL_MODE}: is not a URL; it must look like postgresql://USER:PASSWORD@HOST:5432/DATABASE; set it with: ${DATABASE_URL_HINT}`,
        );
    }
    if (!databaseUrlRules.schemes.includes(parsed.protocol.slice(0, -1)) || parsed.hostname === "") {
        throw new ConfigError(
            "databaseUrl",
            `${EXTERNAL_MODE}: must look like postgresql://USER:PASSWORD@HOST:5432/DATABASE; set it with: ${DATABASE_URL_HINT}`,
        );
    }
    const unsupported = [...new Set(parsed.searchParams.keys())].filter(
        (name) => !databaseUrlRules.queryParameters.includes(name),
    );
    if (unsupported.length > 0) {
        throw new ConfigError(
            "databaseUrl",
            `${EXTERNAL_MODE}: has query parameter(s) ${unsupported.sort().join(", ")}, which the service refuses at start: only ${databaseUrlRules.queryParameters.join(" and ")} are understood (e.g. postgresql://USER:PASSWORD@HOST:5432/DATABASE?sslmode=verify-full&sslrootcert=/path/ca.pem); timeouts and pool sizes are the service's DB_* settings`,
        );
    }
}

function booleanSetting(config: pulumi.Config, key: string, fallback: boolean, context: string): boolean {
    const value = config.get(key);
    if (value === undefined) {
        return fallback;
    }
    if (value !== "true" && value !== "false") {
        throw new ConfigError(
            key,
            `${context}must be true or false, got '${value}'; set it with: pulumi config set ${key} ${fallback}`,
        );
    }
    return value === "true";
}

function databaseMode(config: pulumi.Config, hasUrl: boolean): DatabaseMode {
    const mode = config.get("databaseMode");
    if (mode === undefined) {
        const today = hasUrl
            ? "this stack has databaseUrl set, so it runs an external database today: pulumi config set databaseMode external"
            : "this stack has no databaseUrl, so it runs (or, deployed now, would create) the managed database: pulumi config set databaseMode managed";
        throw new ConfigError(
            "databaseMode",
            `is required: managed (the stack creates Amazon RDS for PostgreSQL) or external (the PostgreSQL named by the secret databaseUrl); ${today} (see docs/operating.md#what-an-existing-stack-does-on-its-first-update)`,
        );
    }
    if (mode !== "managed" && mode !== "external") {
        throw new ConfigError(
            "databaseMode",
            `must be managed or external, got '${mode}'; set it with: pulumi config set databaseMode managed`,
        );
    }
    return mode;
}

function databaseModeSwitch(config: pulumi.Config): DatabaseModeSwitch | undefined {
    const value = config.get("databaseModeSwitch");
    if (value !== undefined && !MODE_SWITCHES.includes(value as DatabaseModeSwitch)) {
        throw new ConfigError(
            "databaseModeSwitch",
            `must be ${MODE_SWITCHES.join(" or ")}, got '${value}'; for example: pulumi config set databaseModeSwitch external-to-managed`,
        );
    }
    return value as DatabaseModeSwitch | undefined;
}

/**
 * The major's standard support must not have ended on `today`: RDS then upgrades an instance whose extended support
 * is disabled, and the stack would ask it to go back. Returns a warning when the end is near.
 */
export function checkPostgresSupport(version: PostgresVersion, today: Date): string | undefined {
    const end = new Date(`${POSTGRES_RELEASES[version].endOfStandardSupport}T00:00:00Z`);
    const daysLeft = Math.floor((end.getTime() - today.getTime()) / 86_400_000);
    const newer = Object.keys(POSTGRES_RELEASES).filter((major) => Number(major) > Number(version));
    const next = newer.length > 0 ? `set databasePostgresVersion ${newer[0]}` : "add the next major to versions.ts";
    if (daysLeft <= 0) {
        throw new ConfigError(
            "databasePostgresVersion",
            `${MANAGED_MODE}: PostgreSQL ${version} left RDS standard support on ${POSTGRES_RELEASES[version].endOfStandardSupport}, when RDS upgrades it itself; ${next} and upgrade (see docs/operating.md#upgrade-postgresql-one-major)`,
        );
    }
    if (daysLeft <= POSTGRES_SUPPORT_WARNING_DAYS) {
        return `PostgreSQL ${version} leaves RDS standard support on ${POSTGRES_RELEASES[version].endOfStandardSupport} (${daysLeft} days); RDS will then upgrade it in a maintenance window of its choosing: ${next} before (docs/operating.md#upgrade-postgresql-one-major)`;
    }
    return undefined;
}

function postgresVersion(value: string): PostgresVersion {
    if (!(value in POSTGRES_RELEASES)) {
        const supported = Object.entries(POSTGRES_RELEASES)
            .map(([major, release]) => `${major} (standard support until ${release.endOfStandardSupport})`)
            .join(", ");
        throw new ConfigError(
            "databasePostgresVersion",
            `${MANAGED_MODE}: '${value}' is not supported; use one of ${supported}`,
        );
    }
    return value as PostgresVersion;
}

/**
 * databaseMode decides the database, never the presence of a secret: external without databaseUrl is an error, not
 * a database of the stack's own. Each mode refuses the other's settings, so a setting is never silently ignored.
 */
function readDatabase(
    config: pulumi.Config,
    vpcCidr: string,
    publicSubnetCidrs: string[],
    today: Date,
): DatabaseConfig {
    const hasUrl = config.getSecret("databaseUrl") !== undefined;
    const mode = databaseMode(config, hasUrl);
    const modeSwitch = databaseModeSwitch(config);
    if (mode === "external") {
        if (!hasUrl) {
            throw new ConfigError(
                "databaseUrl",
                `${EXTERNAL_MODE}: the secret databaseUrl is missing (from GitHub Actions: the environment secret DATABASE_URL); the stack never falls back to a database of its own. Set it with: ${DATABASE_URL_HINT}`,
            );
        }
        const misplaced = MANAGED_DATABASE_KEYS.find((key) => config.get(key) !== undefined);
        if (misplaced !== undefined) {
            throw new ConfigError(
                misplaced,
                `${EXTERNAL_MODE}: applies only to the managed database; remove it (pulumi config rm ${misplaced})`,
            );
        }
        const url = secretSetting(config, "databaseUrl", (value) => {
            validateDatabaseUrl(value);
            return value;
        }) as pulumi.Output<string>;
        return { mode: "external", modeSwitch, url };
    }

    const context = `${MANAGED_MODE}: `;
    if (hasUrl) {
        throw new ConfigError(
            "databaseUrl",
            `${context}the stack makes its own database and would not use databaseUrl; remove it (pulumi config rm databaseUrl) or set databaseMode external`,
        );
    }
    const isolatedSubnetCidrs = stringList(
        config,
        "isolatedSubnetCidrs",
        ["10.0.101.0/24", "10.0.102.0/24"],
        '["10.0.101.0/24","10.0.102.0/24"]',
    );
    // In the public subnets' zones: as many blocks as there are public subnets, whether the zones are configured or not.
    // The public subnets were already counted against the zones, so this count is the zone check for these blocks too.
    if (isolatedSubnetCidrs.length !== publicSubnetCidrs.length) {
        throw new ConfigError(
            "isolatedSubnetCidrs",
            `${context}needs one block per availability zone (${publicSubnetCidrs.length}), got ${isolatedSubnetCidrs.length}`,
        );
    }
    validateSubnets("isolatedSubnetCidrs", vpcCidr, isolatedSubnetCidrs, undefined, publicSubnetCidrs, context);
    const version = postgresVersion(config.get("databasePostgresVersion") ?? DEFAULT_POSTGRES_VERSION);
    const warning = checkPostgresSupport(version, today);
    if (warning !== undefined) {
        void pulumi.log.warn(warning);
    }
    const instanceClass = requireMatch(
        "databaseInstanceClass",
        config.get("databaseInstanceClass") ?? "db.t4g.micro",
        /^db\.[a-z][a-z0-9-]*\d[a-z0-9-]*\.(micro|small|medium|large|\d*xlarge)$/,
        "an RDS instance class, db. then a family and a size",
        "db.t4g.micro",
        context,
    );
    const storageGb = integerSetting(config, "databaseStorageGb", 20, 20, 65536, context);
    const maxStorageGb = integerSetting(config, "databaseMaxStorageGb", 100, 22, 65536, context);
    // RDS refuses a MaxAllocatedStorage less than 10 % above the allocated storage, at create and at every change.
    const minimumCeiling = Math.ceil((storageGb * 11) / 10);
    if (maxStorageGb < minimumCeiling) {
        throw new ConfigError(
            "databaseMaxStorageGb",
            `${context}the storage autoscaling ceiling (${maxStorageGb} GB) must be at least 10 % above databaseStorageGb (${storageGb} GB): ${minimumCeiling} GB or more, such as ${Math.max(minimumCeiling, 100)}`,
        );
    }
    return {
        mode: "managed",
        modeSwitch,
        isolatedSubnetCidrs,
        postgresVersion: version,
        instanceClass,
        storageGb,
        maxStorageGb,
        deletionProtection: booleanSetting(config, "databaseDeletionProtection", true, context),
        finalSnapshot: booleanSetting(config, "databaseFinalSnapshot", true, context),
        applyImmediately: booleanSetting(config, "databaseApplyImmediately", true, context),
        passwordRotation: requireMatch(
            "databasePasswordRotation",
            config.get("databasePasswordRotation") ?? "",
            /^[A-Za-z0-9._:-]{0,64}$/,
            "up to 64 letters, digits and . _ : -, any value new to the stack",
            "pulumi config set databasePasswordRotation 2026-12-07",
            context,
        ),
    };
}

/**
 * Every pod at appMaxReplicas, a rollout's surge and the migration must fit BUDGET_SHARE of the database's
 * max_connections: the managed class's, or the one declared for an external database (unchecked when undeclared).
 */
function checkConnectionBudget(config: pulumi.Config, database: DatabaseConfig, appMaxReplicas: number): void {
    const declared = config.get("databaseMaxConnections");
    if (database.mode === "managed" && declared !== undefined) {
        throw new ConfigError(
            "databaseMaxConnections",
            `${MANAGED_MODE}: applies only to an external database; the managed one's follows databaseInstanceClass; remove it (pulumi config rm databaseMaxConnections)`,
        );
    }
    const maxConnections =
        database.mode === "managed"
            ? managedMaxConnections(database.instanceClass)
            : declared === undefined
              ? undefined
              : integerSetting(config, "databaseMaxConnections", 100, 10, 262143, `${EXTERNAL_MODE}: `);
    if (maxConnections === undefined || connectionBudget(appMaxReplicas) <= BUDGET_SHARE * maxConnections) {
        return;
    }
    const source =
        database.mode === "managed"
            ? `max_connections ${maxConnections} of databaseInstanceClass ${database.instanceClass}; or a larger class`
            : `databaseMaxConnections ${maxConnections}`;
    throw new ConfigError(
        "appMaxReplicas",
        `${appMaxReplicas} pods need ${connectionBudget(appMaxReplicas)} database connections (a rollout's extra pod and the migration included), more than ${BUDGET_SHARE * 100} % of ${source} (docs/deploying.md#connection-budget); a good value: ${maxReplicasWithin(maxConnections)}`,
    );
}

/** Reads and validates the stack configuration. Throws ConfigError naming the offending key. */
export function loadConfig(today: Date = new Date()): StackConfig {
    const config = new pulumi.Config();
    // One source of the region: aws:region, whose project default is in Pulumi.yaml; the program adds none of its own.
    const configuredRegion = new pulumi.Config("aws").get("region");
    if (configuredRegion === undefined) {
        throw new ConfigError(
            "aws:region",
            "is not set, though Pulumi.yaml gives every stack ap-southeast-1: an AWS region name is required, and AWS_REGION does not set it; set it with: pulumi config set aws:region ap-southeast-1",
        );
    }
    const region = requireMatch(
        "aws:region",
        configuredRegion,
        /^[a-z]{2}(-[a-z]+)+-\d$/,
        "an AWS region name, as the AWS provider spells it",
        "ap-southeast-1",
    );
    const availabilityZones = stringList(config, "availabilityZones", undefined, `["${region}a","${region}b"]`);
    const vpcCidr = config.get("vpcCidr") ?? "10.0.0.0/16";
    const publicSubnetCidrs = stringList(
        config,
        "publicSubnetCidrs",
        ["10.0.1.0/24", "10.0.2.0/24"],
        '["10.0.1.0/24","10.0.2.0/24"]',
    );
    validateAvailabilityZones(region, availabilityZones);
    validateSubnets("publicSubnetCidrs", vpcCidr, publicSubnetCidrs, availabilityZones);

    const nodeDesiredSize = integerSetting(config, "nodeDesiredSize", 2, 0, 100);
    const nodeMinSize = integerSetting(config, "nodeMinSize", MIN_NODES_WITH_PODS, 0, 100);
    if (nodeMinSize < MIN_NODES_WITH_PODS) {
        throw new ConfigError(
            "nodeMinSize",
            `must be at least ${MIN_NODES_WITH_PODS}: the service's pods run on two nodes so that losing one never takes every pod, and the autoscaler must not remove the second; a good value: ${MIN_NODES_WITH_PODS}`,
        );
    }
    const nodeMaxSize = integerSetting(config, "nodeMaxSize", 3, 1, 100);
    if (nodeMaxSize < MIN_NODES_WITH_PODS + 1) {
        throw new ConfigError(
            "nodeMaxSize",
            `must be at least ${MIN_NODES_WITH_PODS + 1}: draining one of two nodes needs a third for its pods, since the pods never all run on one node; a good value: ${MIN_NODES_WITH_PODS + 1}`,
        );
    }
    validateOrder(config, ["nodeMinSize", "nodeMaxSize"], [nodeMinSize, nodeMaxSize]);
    validateOrder(config, ["nodeMinSize", "nodeDesiredSize"], [nodeMinSize, nodeDesiredSize]);
    validateOrder(config, ["nodeDesiredSize", "nodeMaxSize"], [nodeDesiredSize, nodeMaxSize]);

    const appMinReplicas = integerSetting(config, "appMinReplicas", 2, 1, 100);
    if (appMinReplicas < 2) {
        throw new ConfigError(
            "appMinReplicas",
            "must be at least 2: with one pod, every node drain, upgrade, scale-down or node loss takes the service down; a good value: 2",
        );
    }
    const appMaxReplicas = integerSetting(config, "appMaxReplicas", 10, 1, 100);
    validateOrder(config, ["appMinReplicas", "appMaxReplicas"], [appMinReplicas, appMaxReplicas]);

    const nodeInstanceType = requireMatch(
        "nodeInstanceType",
        config.get("nodeInstanceType") ?? "t3.medium",
        /^[a-z][a-z0-9-]*\d[a-z0-9-]*\.(nano|micro|small|medium|large|metal|\d*xlarge)$/,
        "an EC2 instance type, a family and a size joined by a dot",
        "t3.medium",
    );
    if (GRAVITON_INSTANCE_TYPE.test(nodeInstanceType)) {
        throw new ConfigError(
            "nodeInstanceType",
            `'${nodeInstanceType}' is an AWS Graviton (arm64) type; the nodes run the AL2023 x86_64 AMI and the image is built for linux/amd64, so the type must be x86_64, such as t3.medium, m6i.large or c6i.xlarge`,
        );
    }
    const nodeCapacityType = capacityType(config.get("nodeCapacityType") ?? "ON_DEMAND", nodeInstanceType);

    const clusterAdmins = stringList(config, "clusterAdmins", [], '["arn:aws:iam::123456789012:role/github-deploy"]');
    clusterAdmins.forEach((arn) =>
        requireMatch(
            "clusterAdmins",
            arn,
            IAM_PRINCIPAL_ARN,
            "each entry an IAM role or user ARN, arn:aws:iam::<12 digits>:role/NAME or …:user/NAME",
            "arn:aws:iam::123456789012:role/github-deploy",
        ),
    );
    const repeated = clusterAdmins.filter((arn, index) => clusterAdmins.indexOf(arn) !== index);
    if (repeated.length > 0) {
        throw new ConfigError(
            "clusterAdmins",
            `${repeated.join(", ")} is listed twice; EKS takes one access entry per principal, remove the repetition, such as ["arn:aws:iam::123456789012:role/github-deploy"]`,
        );
    }
    const image = config.get("image");
    if (image !== undefined) {
        requireMatch(
            "image",
            image,
            IMAGE_BY_DIGEST,
            "an image by digest, <registry>/<repository>@sha256:<64 hex digits>",
            "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/fastapi-app@sha256:<64 hex digits>",
        );
    }

    const database = readDatabase(config, vpcCidr, publicSubnetCidrs, today);
    checkConnectionBudget(config, database, appMaxReplicas);

    return {
        namePrefix: requireMatch(
            "namePrefix",
            config.get("namePrefix") ?? "fastapi-app",
            /^[a-z][a-z0-9-]{1,22}[a-z0-9]$/,
            "3-24 characters: lower-case letters, digits and -, starting with a letter, not ending with -",
            "fastapi-app",
        ),
        region,
        vpcCidr,
        availabilityZones,
        publicSubnetCidrs,
        kubernetesVersion: supportedKubernetesVersion(config.get("kubernetesVersion") ?? DEFAULT_KUBERNETES_VERSION),
        kubernetesSupportType: supportType(config.get("kubernetesSupportType") ?? "STANDARD"),
        controlPlaneLogRetentionDays: logRetentionDays(config),
        nodeInstanceType,
        nodeCapacityType,
        nodeDesiredSize,
        nodeMinSize,
        nodeMaxSize,
        nodeDiskSizeGb: integerSetting(config, "nodeDiskSizeGb", 20, 20, 16384),
        clusterAdmins,
        image,
        appMinReplicas,
        appMaxReplicas,
        appTargetCpuPercent: integerSetting(config, "appTargetCpuPercent", 70, 10, 100),
        database,
        loadBalancer: parseLoadBalancer(config, region),
        tokens: {
            apiTokens: readTokens(config, "apiTokens"),
            readsNeedToken: booleanSetting(config, "apiReadsNeedToken", false, ""),
            metricsTokens: readTokens(config, "metricsTokens"),
        },
    };
}
