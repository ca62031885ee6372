import * as pulumi from "@pulumi/pulumi";
import { MIN_NODES_WITH_PODS, NodeCapacityType, spotInstanceFamilies, spotInstanceTypes } from "./capacity";
import { contains, overlaps, parseCidr } from "./cidr";
import { connectionBudget, managedMaxConnections, maxReplicasWithin, BUDGET_SHARE } from "./connection-budget";
import { ConfigError } from "./config-error";
// The service checks DATABASE_URL against the same file (app/src/fastapi_app/db.py).
import databaseUrlRules from "./app/src/fastapi_app/database_url_rules.json";
import { DeclaredType, DeclaredValue, asConfigText, declaration, declarations } from "./project-config";
import type { ClusterArgs } from "./cluster";
import type { DatabaseArgs } from "./database";
import type { NetworkArgs } from "./network";
import type { RegistryArgs } from "./registry";
import type { TokenArgs } from "./service-tokens";
import type { LoadBalancerArgs, WorkloadArgs } from "./workload";
import {
    KUBERNETES_RELEASES,
    KubernetesSupportType,
    KubernetesVersion,
    POSTGRES_RELEASES,
    PostgresVersion,
} from "./versions";

export { ConfigError } from "./config-error";

/** Every setting of the stack, validated, each section typed from the Args of the component it configures. */
export interface StackConfig {
    /** Prefix of the AWS names that must be unique per account (cluster, roles, ECR repository). */
    namePrefix: string;
    region: string;
    network: Pick<NetworkArgs, "cidrBlock" | "availabilityZones" | "publicSubnetCidrs">;
    cluster: Pick<
        ClusterArgs,
        | "kubernetesVersion"
        | "supportType"
        | "logRetentionDays"
        | "nodeInstanceType"
        | "nodeCapacityType"
        | "nodeGroupSize"
        | "nodeDiskSizeGb"
        | "clusterAdmins"
    >;
    registry: Pick<RegistryArgs, "existingImage">;
    workload: Pick<WorkloadArgs, "minReplicas" | "maxReplicas" | "targetCpuPercent"> & {
        loadBalancer: LoadBalancerConfig;
        /** Each list a secret, undefined when the stack generates one token. */
        tokens: TokenArgs & { apiTokens?: pulumi.Output<string>; metricsTokens?: pulumi.Output<string> };
    };
    database: DatabaseConfig;
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

export interface ManagedDatabaseConfig
    extends
        Pick<
            DatabaseArgs,
            | "instanceClass"
            | "storageGb"
            | "maxStorageGb"
            | "deletionProtection"
            | "finalSnapshot"
            | "applyImmediately"
            | "passwordRotation"
        >,
        Required<Pick<NetworkArgs, "isolatedSubnetCidrs">> {
    mode: "managed";
    modeSwitch: DatabaseModeSwitch | undefined;
    postgresVersion: PostgresVersion;
}

export type LoadBalancerConfig = LoadBalancerArgs &
    Required<Pick<LoadBalancerArgs, "keepHttpPort" | "allowedSourceRanges">>;

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

interface Range {
    min: number;
    max: number;
    /** A good value for the messages; the declared default unless given. */
    example?: number;
}

interface Format {
    pattern: RegExp;
    /** What `pattern` accepts, in words. */
    rule: string;
    example: string;
}

function sameAsDefault(raw: string, fallback: DeclaredValue | undefined): boolean {
    if (Array.isArray(fallback)) {
        try {
            return JSON.stringify(JSON.parse(raw)) === JSON.stringify(fallback);
        } catch {
            return false;
        }
    }
    return fallback !== undefined && raw === asConfigText(fallback);
}

/**
 * The stack's settings as Pulumi.yaml declares them. The CLI merges every default into the stack's configuration,
 * so a value equal to its default reads as unset and the program applies the same declared default.
 */
class Settings {
    constructor(
        readonly config: pulumi.Config,
        /** Prefixes every message: the database mode a setting belongs to. */
        readonly context = "",
    ) {}

    within(context: string): Settings {
        return new Settings(this.config, context);
    }

    fail(key: string, problem: string): never {
        throw new ConfigError(key, `${this.context}${problem}`);
    }

    private configured(key: string, type: DeclaredType): string | undefined {
        const raw = this.config.get(key);
        return raw === undefined || sameAsDefault(raw, declaration(key, type).default) ? undefined : raw;
    }

    declaredDefault<T extends DeclaredValue>(key: string): T {
        return declarations()[key].default as T;
    }

    /** Whether the stack sets the key to something other than its default. */
    isSet(key: string): boolean {
        return this.configured(key, declarations()[key]?.type ?? "string") !== undefined;
    }

    text(key: string): string {
        return this.configured(key, "string") ?? this.declaredDefault(key);
    }

    /** A string whose declared default, empty, means unset. */
    optionalText(key: string): string | undefined {
        return this.configured(key, "string");
    }

    matching(key: string, value: string, format: Format): string {
        if (!format.pattern.test(value)) {
            this.fail(key, `'${value}' is not valid: ${format.rule}; expected something like ${format.example}`);
        }
        return value;
    }

    /** Read as text: Config.getNumber would stop the program with Pulumi's type error and a stack trace. */
    number(key: string, rule: string, example = this.declaredDefault<number>(key)): number | undefined {
        const raw = this.configured(key, "integer");
        if (raw === undefined) {
            return undefined;
        }
        const value = raw.trim() === "" ? NaN : Number(raw);
        if (!Number.isFinite(value)) {
            this.fail(
                key,
                `'${raw}' is not a number; ${rule}, such as ${example}: pulumi config set ${key} ${example}`,
            );
        }
        return value;
    }

    integerIn(key: string, value: number, range: Range): number {
        if (!Number.isInteger(value) || value < range.min || value > range.max) {
            const example = range.example ?? this.declaredDefault<number>(key);
            this.fail(
                key,
                `must be a whole number from ${range.min} to ${range.max}, got ${value}; a good value: ${example}`,
            );
        }
        return value;
    }

    integer(key: string, range: Range): number {
        return this.optionalInteger(key, range) ?? this.declaredDefault(key);
    }

    /** An integer whose declared default, 0, means unset. */
    optionalInteger(key: string, range: Range): number | undefined {
        const value = this.number(key, `must be a whole number from ${range.min} to ${range.max}`, range.example);
        return value === undefined ? undefined : this.integerIn(key, value, range);
    }

    boolean(key: string): boolean {
        const value = this.configured(key, "boolean");
        const fallback = this.declaredDefault<boolean>(key);
        if (value !== undefined && value !== "true" && value !== "false") {
            this.fail(key, `must be true or false, got '${value}'; set it with: pulumi config set ${key} ${fallback}`);
        }
        return value === undefined ? fallback : value === "true";
    }

    list(key: string, example: string): string[] {
        return this.optionalList(key, example) ?? this.declaredDefault(key);
    }

    /**
     * A list given as JSON, whose declared default, empty, means unset. Read as text: Config.getObject stops the
     * program with Pulumi's type error and a stack trace on a plain string.
     */
    optionalList(key: string, example: string): string[] | undefined {
        const raw = this.configured(key, "array");
        if (raw === undefined) {
            return undefined;
        }
        const hint = `set an entry with: pulumi config set --path '${key}[0]' <value>`;
        let value: unknown;
        try {
            value = JSON.parse(raw);
        } catch {
            throw new ConfigError(
                key,
                `must be a list of strings such as ${example}, got the plain string '${raw}'; ${hint}`,
            );
        }
        if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
            throw new ConfigError(
                key,
                `must be a list of strings such as ${example}, got ${JSON.stringify(value)}; ${hint}`,
            );
        }
        return value;
    }

    /** The plain text of a secret, read without Config.get's secret warning and never printed. */
    private secretText(key: string): string | undefined {
        declaration(key, undefined);
        const raw = pulumi.runtime.getConfig(`${this.config.name}:${key}`);
        return raw === undefined || sameAsDefault(raw, declarations()[key].default) ? undefined : raw;
    }

    hasSecret(key: string): boolean {
        return this.config.getSecret(key) !== undefined && this.secretText(key) !== undefined;
    }

    /**
     * A secret, checked on its plain value before the program goes on: a check inside apply would surface as
     * Pulumi's "error serializing property". `check` returns the value to keep; its errors never echo the value.
     */
    secret(key: string, check: (value: string) => string): pulumi.Output<string> | undefined {
        const secret = this.config.getSecret(key);
        const plain = this.secretText(key);
        if (secret === undefined || plain === undefined) {
            return undefined;
        }
        const checked = check(plain);
        return secret.apply(() => checked);
    }
}

/** A good value of each subnet list, for the messages: one block per zone, inside the default VPC. */
const SUBNET_EXAMPLES: Record<string, string[]> = {
    publicSubnetCidrs: ["10.0.1.0/24", "10.0.2.0/24"],
    isolatedSubnetCidrs: ["10.0.101.0/24", "10.0.102.0/24"],
};

interface SubnetLayout {
    key: string;
    vpcCidr: string;
    subnetCidrs: string[];
    /** Undefined when the zones come from the region: then at least two blocks. */
    availabilityZones?: string[];
    /** Blocks already laid out, which these must not overlap. */
    laidOut?: string[];
}

function validateVpcCidr(vpcCidr: string): ReturnType<typeof parseCidr> {
    const vpc = parseCidr("vpcCidr", vpcCidr);
    if (vpc.prefix < 16 || vpc.prefix > 28) {
        throw new ConfigError(
            "vpcCidr",
            `AWS VPCs take a prefix between /16 and /28, got /${vpc.prefix}; a good value: 10.0.0.0/16`,
        );
    }
    return vpc;
}

function validateSubnets(settings: Settings, layout: SubnetLayout): void {
    const { key, vpcCidr, subnetCidrs, availabilityZones } = layout;
    const example = JSON.stringify(SUBNET_EXAMPLES[key] ?? []);
    const fail = (problem: string): never => settings.fail(key, `${problem}; a good value: ${example}`);
    const vpc = validateVpcCidr(vpcCidr);
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
    const earlierLists = (layout.laidOut ?? []).map((cidr) => ({ cidr, block: parseCidr(key, cidr) }));
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
function parsePublicHostname(settings: Settings, certificateArn: string | undefined): string | undefined {
    const publicHostname = settings.optionalText("publicHostname");
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

function parseCertificateArn(settings: Settings, region: string): string | undefined {
    const certificateArn = settings.optionalText("certificateArn");
    if (certificateArn === undefined) {
        return undefined;
    }
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
    return certificateArn;
}

function parseLoadBalancer(settings: Settings, region: string): LoadBalancerConfig {
    const certificateArn = parseCertificateArn(settings, region);
    const keepHttpPort = settings.boolean("keepHttpPort");
    if (keepHttpPort && certificateArn === undefined) {
        throw new ConfigError(
            "keepHttpPort",
            "only applies with certificateArn (without one, port 80 is the only port); remove it with: pulumi config rm keepHttpPort",
        );
    }
    const allowedSourceRanges = settings.list("allowedSourceRanges", '["203.0.113.0/24"]');
    validateSourceRanges(allowedSourceRanges);
    const publicHostname = parsePublicHostname(settings, certificateArn);
    return { certificateArn, publicHostname, keepHttpPort, allowedSourceRanges };
}

/** The service's own token rule (app/src/fastapi_app/settings.py): RFC 6750 characters, 16 to 512 of them. */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]{16,512}=*$/;

/** The message names a token's position, never its value. */
function parseTokens(settings: Settings, key: string): pulumi.Output<string> | undefined {
    return settings.secret(key, (value) => {
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

/**
 * Two settings that must be in order. The message blames the one of them the stack sets, when only one is set (the
 * other is its default); otherwise the first.
 */
function validateOrder(settings: Settings, keys: [string, string], values: [number, number]): void {
    if (values[0] > values[1]) {
        const blamed = !settings.isSet(keys[0]) && settings.isSet(keys[1]) ? 1 : 0;
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

/** The versions a refusal offers instead, each with the end of its standard support. */
function supportedReleases(releases: Record<string, { readonly endOfStandardSupport: string }>): string {
    return Object.entries(releases)
        .map(([version, release]) => `${version} (standard support until ${release.endOfStandardSupport})`)
        .join(", ");
}

function parseKubernetesVersion(version: string): KubernetesVersion {
    if (!(version in KUBERNETES_RELEASES)) {
        const supported = supportedReleases(KUBERNETES_RELEASES);
        throw new ConfigError(
            "kubernetesVersion",
            `'${version}' is not supported; use one of ${supported}: the versions in EKS standard support, each with add-ons pinned for it`,
        );
    }
    return version as KubernetesVersion;
}

function parseCapacityType(value: string, instanceType: string): NodeCapacityType {
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

function parseSupportType(value: string): KubernetesSupportType {
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

function parseLogRetentionDays(settings: Settings): number {
    const key = "controlPlaneLogRetentionDays";
    const rule = "must be one of the periods CloudWatch Logs accepts";
    const days = settings.number(key, rule) ?? settings.declaredDefault<number>(key);
    if (!LOG_RETENTION_DAYS.includes(days)) {
        throw new ConfigError(key, `${rule} (${LOG_RETENTION_DAYS.join(", ")}), got ${days}; a good value: 30`);
    }
    return days;
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

function parseDatabaseMode(settings: Settings, hasUrl: boolean): DatabaseMode {
    const mode = settings.optionalText("databaseMode");
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

function parseDatabaseModeSwitch(settings: Settings): DatabaseModeSwitch | undefined {
    const value = settings.optionalText("databaseModeSwitch");
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

function parsePostgresVersion(value: string): PostgresVersion {
    if (!(value in POSTGRES_RELEASES)) {
        const supported = supportedReleases(POSTGRES_RELEASES);
        throw new ConfigError(
            "databasePostgresVersion",
            `${MANAGED_MODE}: '${value}' is not supported; use one of ${supported}`,
        );
    }
    return value as PostgresVersion;
}

function parseExternalDatabase(settings: Settings, hasUrl: boolean): Omit<ExternalDatabaseConfig, "modeSwitch"> {
    if (!hasUrl) {
        throw new ConfigError(
            "databaseUrl",
            `${EXTERNAL_MODE}: the secret databaseUrl is missing (from GitHub Actions: the environment secret DATABASE_URL); the stack never falls back to a database of its own. Set it with: ${DATABASE_URL_HINT}`,
        );
    }
    const misplaced = MANAGED_DATABASE_KEYS.find((key) => settings.isSet(key));
    if (misplaced !== undefined) {
        throw new ConfigError(
            misplaced,
            `${EXTERNAL_MODE}: applies only to the managed database; remove it (pulumi config rm ${misplaced})`,
        );
    }
    const url = settings.secret("databaseUrl", (value) => {
        validateDatabaseUrl(value);
        return value;
    }) as pulumi.Output<string>;
    return { mode: "external", url };
}

/** In the public subnets' zones: one block per public subnet, which were already counted against the zones. */
function parseIsolatedSubnets(settings: Settings, network: StackConfig["network"]): string[] {
    const isolatedSubnetCidrs = settings.list("isolatedSubnetCidrs", '["10.0.101.0/24","10.0.102.0/24"]');
    if (isolatedSubnetCidrs.length !== network.publicSubnetCidrs.length) {
        settings.fail(
            "isolatedSubnetCidrs",
            `needs one block per availability zone (${network.publicSubnetCidrs.length}), got ${isolatedSubnetCidrs.length}`,
        );
    }
    validateSubnets(settings, {
        key: "isolatedSubnetCidrs",
        vpcCidr: network.cidrBlock,
        subnetCidrs: isolatedSubnetCidrs,
        laidOut: network.publicSubnetCidrs,
    });
    return isolatedSubnetCidrs;
}

function parseStorage(settings: Settings): { storageGb: number; maxStorageGb: number } {
    const storageGb = settings.integer("databaseStorageGb", { min: 20, max: 65536 });
    const maxStorageGb = settings.integer("databaseMaxStorageGb", { min: 22, max: 65536 });
    // RDS refuses a MaxAllocatedStorage less than 10 % above the allocated storage, at create and at every change.
    const minimumCeiling = Math.ceil((storageGb * 11) / 10);
    if (maxStorageGb < minimumCeiling) {
        settings.fail(
            "databaseMaxStorageGb",
            `the storage autoscaling ceiling (${maxStorageGb} GB) must be at least 10 % above databaseStorageGb (${storageGb} GB): ${minimumCeiling} GB or more, such as ${Math.max(minimumCeiling, 100)}`,
        );
    }
    return { storageGb, maxStorageGb };
}

function parseManagedDatabase(
    settings: Settings,
    network: StackConfig["network"],
    today: Date,
): Omit<ManagedDatabaseConfig, "modeSwitch"> {
    if (settings.hasSecret("databaseUrl")) {
        settings.fail(
            "databaseUrl",
            "the stack makes its own database and would not use databaseUrl; remove it (pulumi config rm databaseUrl) or set databaseMode external",
        );
    }
    const isolatedSubnetCidrs = parseIsolatedSubnets(settings, network);
    const postgresVersion = parsePostgresVersion(settings.text("databasePostgresVersion"));
    const warning = checkPostgresSupport(postgresVersion, today);
    if (warning !== undefined) {
        void pulumi.log.warn(warning);
    }
    const instanceClass = settings.matching("databaseInstanceClass", settings.text("databaseInstanceClass"), {
        pattern: /^db\.[a-z][a-z0-9-]*\d[a-z0-9-]*\.(micro|small|medium|large|\d*xlarge)$/,
        rule: "an RDS instance class, db. then a family and a size",
        example: "db.t4g.micro",
    });
    return {
        mode: "managed",
        isolatedSubnetCidrs,
        postgresVersion,
        instanceClass,
        ...parseStorage(settings),
        deletionProtection: settings.boolean("databaseDeletionProtection"),
        finalSnapshot: settings.boolean("databaseFinalSnapshot"),
        applyImmediately: settings.boolean("databaseApplyImmediately"),
        passwordRotation: settings.matching("databasePasswordRotation", settings.text("databasePasswordRotation"), {
            pattern: /^[A-Za-z0-9._:-]{0,64}$/,
            rule: "up to 64 letters, digits and . _ : -, any value new to the stack",
            example: "pulumi config set databasePasswordRotation 2026-12-07",
        }),
    };
}

/**
 * databaseMode decides the database, never the presence of a secret: external without databaseUrl is an error, not
 * a database of the stack's own. Each mode refuses the other's settings, so a setting is never silently ignored.
 */
function parseDatabase(settings: Settings, network: StackConfig["network"], today: Date): DatabaseConfig {
    const hasUrl = settings.hasSecret("databaseUrl");
    const mode = parseDatabaseMode(settings, hasUrl);
    const modeSwitch = parseDatabaseModeSwitch(settings);
    return mode === "external"
        ? { ...parseExternalDatabase(settings, hasUrl), modeSwitch }
        : { ...parseManagedDatabase(settings.within(`${MANAGED_MODE}: `), network, today), modeSwitch };
}

/**
 * Every pod at appMaxReplicas, a rollout's surge and the migration must fit BUDGET_SHARE of the database's
 * max_connections: the managed class's, or the one declared for an external database (unchecked when undeclared).
 */
function checkConnectionBudget(settings: Settings, database: DatabaseConfig, appMaxReplicas: number): void {
    const key = "databaseMaxConnections";
    if (database.mode === "managed" && settings.isSet(key)) {
        throw new ConfigError(
            key,
            `${MANAGED_MODE}: applies only to an external database; the managed one's follows databaseInstanceClass; remove it (pulumi config rm databaseMaxConnections)`,
        );
    }
    const maxConnections =
        database.mode === "managed"
            ? managedMaxConnections(database.instanceClass)
            : settings.within(`${EXTERNAL_MODE}: `).optionalInteger(key, { min: 10, max: 262143, example: 100 });
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

/** One source of the region: aws:region, whose project value is in Pulumi.yaml; the program adds none of its own. */
function parseRegion(): string {
    const configured = new pulumi.Config("aws").get("region");
    if (configured === undefined) {
        throw new ConfigError(
            "aws:region",
            "is not set, though Pulumi.yaml gives every stack ap-southeast-1: an AWS region name is required, and AWS_REGION does not set it; set it with: pulumi config set aws:region ap-southeast-1",
        );
    }
    return new Settings(new pulumi.Config("aws")).matching("aws:region", configured, {
        pattern: /^[a-z]{2}(-[a-z]+)+-\d$/,
        rule: "an AWS region name, as the AWS provider spells it",
        example: "ap-southeast-1",
    });
}

function parseNetwork(settings: Settings, region: string): StackConfig["network"] {
    const availabilityZones = settings.optionalList("availabilityZones", `["${region}a","${region}b"]`);
    const cidrBlock = settings.text("vpcCidr");
    const publicSubnetCidrs = settings.list("publicSubnetCidrs", '["10.0.1.0/24","10.0.2.0/24"]');
    validateAvailabilityZones(region, availabilityZones);
    validateSubnets(settings, {
        key: "publicSubnetCidrs",
        vpcCidr: cidrBlock,
        subnetCidrs: publicSubnetCidrs,
        availabilityZones,
    });
    return { cidrBlock, availabilityZones, publicSubnetCidrs };
}

function parseNodeGroupSize(settings: Settings): StackConfig["cluster"]["nodeGroupSize"] {
    const desired = settings.integer("nodeDesiredSize", { min: 0, max: 100 });
    const min = settings.integer("nodeMinSize", { min: 0, max: 100 });
    if (min < MIN_NODES_WITH_PODS) {
        throw new ConfigError(
            "nodeMinSize",
            `must be at least ${MIN_NODES_WITH_PODS}: the service's pods run on two nodes so that losing one never takes every pod, and the autoscaler must not remove the second; a good value: ${MIN_NODES_WITH_PODS}`,
        );
    }
    const max = settings.integer("nodeMaxSize", { min: 1, max: 100 });
    if (max < MIN_NODES_WITH_PODS + 1) {
        throw new ConfigError(
            "nodeMaxSize",
            `must be at least ${MIN_NODES_WITH_PODS + 1}: draining one of two nodes needs a third for its pods, since the pods never all run on one node; a good value: ${MIN_NODES_WITH_PODS + 1}`,
        );
    }
    validateOrder(settings, ["nodeMinSize", "nodeMaxSize"], [min, max]);
    validateOrder(settings, ["nodeMinSize", "nodeDesiredSize"], [min, desired]);
    validateOrder(settings, ["nodeDesiredSize", "nodeMaxSize"], [desired, max]);
    return { desired, min, max };
}

function parseNodeInstanceType(settings: Settings): string {
    const nodeInstanceType = settings.matching("nodeInstanceType", settings.text("nodeInstanceType"), {
        pattern: /^[a-z][a-z0-9-]*\d[a-z0-9-]*\.(nano|micro|small|medium|large|metal|\d*xlarge)$/,
        rule: "an EC2 instance type, a family and a size joined by a dot",
        example: "t3.medium",
    });
    if (GRAVITON_INSTANCE_TYPE.test(nodeInstanceType)) {
        throw new ConfigError(
            "nodeInstanceType",
            `'${nodeInstanceType}' is an AWS Graviton (arm64) type; the nodes run the AL2023 x86_64 AMI and the image is built for linux/amd64, so the type must be x86_64, such as t3.medium, m6i.large or c6i.xlarge`,
        );
    }
    return nodeInstanceType;
}

function parseClusterAdmins(settings: Settings): string[] {
    const example = "arn:aws:iam::123456789012:role/github-deploy";
    const clusterAdmins = settings.list("clusterAdmins", `["${example}"]`);
    clusterAdmins.forEach((arn) =>
        settings.matching("clusterAdmins", arn, {
            pattern: IAM_PRINCIPAL_ARN,
            rule: "each entry an IAM role or user ARN, arn:aws:iam::<12 digits>:role/NAME or …:user/NAME",
            example,
        }),
    );
    const repeated = clusterAdmins.filter((arn, index) => clusterAdmins.indexOf(arn) !== index);
    if (repeated.length > 0) {
        throw new ConfigError(
            "clusterAdmins",
            `${repeated.join(", ")} is listed twice; EKS takes one access entry per principal, remove the repetition, such as ["${example}"]`,
        );
    }
    return clusterAdmins;
}

function parseCluster(settings: Settings): StackConfig["cluster"] {
    const nodeGroupSize = parseNodeGroupSize(settings);
    const nodeInstanceType = parseNodeInstanceType(settings);
    return {
        kubernetesVersion: parseKubernetesVersion(settings.text("kubernetesVersion")),
        supportType: parseSupportType(settings.text("kubernetesSupportType")),
        logRetentionDays: parseLogRetentionDays(settings),
        nodeInstanceType,
        nodeCapacityType: parseCapacityType(settings.text("nodeCapacityType"), nodeInstanceType),
        nodeGroupSize,
        nodeDiskSizeGb: settings.integer("nodeDiskSizeGb", { min: 20, max: 16384 }),
        clusterAdmins: parseClusterAdmins(settings),
    };
}

function parseImage(settings: Settings): string | undefined {
    const image = settings.optionalText("image");
    return (
        image &&
        settings.matching("image", image, {
            pattern: IMAGE_BY_DIGEST,
            rule: "an image by digest, <registry>/<repository>@sha256:<64 hex digits>",
            example: "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/fastapi-app@sha256:<64 hex digits>",
        })
    );
}

function parseReplicas(settings: Settings): { minReplicas: number; maxReplicas: number } {
    const minReplicas = settings.integer("appMinReplicas", { min: 1, max: 100 });
    if (minReplicas < 2) {
        throw new ConfigError(
            "appMinReplicas",
            "must be at least 2: with one pod, every node drain, upgrade, scale-down or node loss takes the service down; a good value: 2",
        );
    }
    const maxReplicas = settings.integer("appMaxReplicas", { min: 1, max: 100 });
    validateOrder(settings, ["appMinReplicas", "appMaxReplicas"], [minReplicas, maxReplicas]);
    return { minReplicas, maxReplicas };
}

/** Reads and validates the stack configuration. Throws ConfigError naming the offending key. */
export function loadConfig(today: Date = new Date()): StackConfig {
    const settings = new Settings(new pulumi.Config());
    const region = parseRegion();
    const network = parseNetwork(settings, region);
    const cluster = parseCluster(settings);
    const replicas = parseReplicas(settings);
    const registry = { existingImage: parseImage(settings) };
    const database = parseDatabase(settings, network, today);
    checkConnectionBudget(settings, database, replicas.maxReplicas);
    return {
        namePrefix: settings.matching("namePrefix", settings.text("namePrefix"), {
            pattern: /^[a-z][a-z0-9-]{1,22}[a-z0-9]$/,
            rule: "3-24 characters: lower-case letters, digits and -, starting with a letter, not ending with -",
            example: "fastapi-app",
        }),
        region,
        network,
        cluster,
        registry,
        workload: {
            ...replicas,
            targetCpuPercent: settings.integer("appTargetCpuPercent", { min: 10, max: 100 }),
            loadBalancer: parseLoadBalancer(settings, region),
            tokens: {
                apiTokens: parseTokens(settings, "apiTokens"),
                readsNeedToken: settings.boolean("apiReadsNeedToken"),
                metricsTokens: parseTokens(settings, "metricsTokens"),
            },
        },
        database,
    };
}
