import * as pulumi from "@pulumi/pulumi";

/**
 * Offline stand-ins for the providers (tests, synth, cost): every declared resource is recorded with its inputs and
 * gets back the outputs its real provider would report.
 */
export interface RecordedResource {
    type: string;
    name: string;
    /** Other resources refer to it by this id (a node group to its launch template). */
    id: string;
    inputs: Record<string, unknown>;
    /** Explicit dependsOn and inputs. */
    dependencies: string[];
    /** The URN the engine gives it (its parent's type qualifies its own). */
    urn: string;
    /** The parent's URN; empty for a resource declared at the top level. */
    parent: string;
    /** The URNs the program declares it was known by before (`aliases` option), resolved as the engine does. */
    aliases: string[];
    /** The resource options the engine was told that decide how it is replaced or deleted. */
    options: ResourceLifecycle;
}

export interface ResourceLifecycle {
    protect: boolean;
    ignoreChanges: string[];
    deleteBeforeReplace: boolean;
    retainOnDelete: boolean;
}

const ACCOUNT_ID = "123456789012";
const REGION = "ap-southeast-1";
export const FAKE_DIGEST = `sha256:${"ab".repeat(32)}`;
export const LOAD_BALANCER_HOSTNAME = "a1b2c3d4e5f6-1234567890.ap-southeast-1.elb.amazonaws.com";
export const FAKE_DATABASE_URL = "postgresql://app:not-a-real-password@db.example.internal:5432/app";
export const ISOLATED_SUBNET_IDS = ["subnet-0ccccccccccccccc3", "subnet-0ddddddddddddddd4"];
export const CLUSTER_SECURITY_GROUP_ID = "sg-0e1k5c1u5t3r00001";
export const DATABASE_HOST_SUFFIX = "c9akciq32.ap-southeast-1.rds.amazonaws.com";

/** What the fake RandomPassword of that name and length generates: its name's letters and digits, padded with 0. */
export function generatedPassword(name: string, length: number, keepers?: unknown): string {
    // New keepers, a new password, as the provider replaces the resource and generates another.
    return `${name}${keepers === undefined ? "" : JSON.stringify(keepers)}`
        .replace(/[^A-Za-z0-9]/g, "")
        .padEnd(length, "0")
        .slice(0, length);
}
const OIDC_ISSUER = `oidc.eks.${REGION}.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE`;

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Whether a recorded input value was sent to the engine marked secret (encrypted in state). */
export function isSecretInput(value: unknown): boolean {
    return (
        typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG
    );
}

/** The plain value of a recorded input, whether or not it was marked secret. */
export function plain<T>(value: unknown): T {
    return (isSecretInput(value) ? (value as { value: unknown }).value : value) as T;
}

export const API_ENDPOINT = "https://EXAMPLE.gr7.ap-southeast-1.eks.amazonaws.com";
/** What the token controller writes into the scraper's token Secret: a service-account JWT. */
export const SCRAPER_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl";
export const CLUSTER_CA_PEM = "-----BEGIN CERTIFICATE-----\nZmFrZSBjbHVzdGVyIENB\n-----END CERTIFICATE-----\n";

function kubeconfigFor(clusterName: string): string {
    return JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
            {
                name: clusterName,
                cluster: {
                    server: API_ENDPOINT,
                    "certificate-authority-data": Buffer.from(CLUSTER_CA_PEM).toString("base64"),
                },
            },
        ],
        contexts: [{ name: clusterName, context: { cluster: clusterName, user: clusterName } }],
        "current-context": clusterName,
        users: [
            {
                name: clusterName,
                user: {
                    exec: {
                        apiVersion: "client.authentication.k8s.io/v1beta1",
                        command: "aws",
                        args: ["eks", "get-token", "--cluster-name", clusterName],
                    },
                },
            },
        ],
    });
}

/** The name the provider gives a resource declared with a namePrefix: the prefix and 26 characters of its own. */
export function prefixedName(namePrefix: string): string {
    return `${namePrefix}20261206000000000000000001`;
}

function outputsOf(type: string, name: string, declared: Record<string, unknown>): Record<string, unknown> {
    const inputs =
        typeof declared.namePrefix === "string" && declared.name === undefined
            ? { ...declared, name: prefixedName(declared.namePrefix) }
            : declared;
    switch (type) {
        case "awsx:ec2:Vpc":
            return {
                ...inputs,
                vpcId: "vpc-0a1b2c3d4e5f60718",
                publicSubnetIds: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
                isolatedSubnetIds: ISOLATED_SUBNET_IDS,
            };
        case "eks:index:Cluster": {
            const clusterName = typeof inputs.name === "string" ? inputs.name : name;
            return {
                ...inputs,
                kubeconfigJson: kubeconfigFor(clusterName),
                eksCluster: {
                    name: clusterName,
                    arn: `arn:aws:eks:${REGION}:${ACCOUNT_ID}:cluster/${clusterName}`,
                    version: inputs.version,
                    endpoint: API_ENDPOINT,
                    certificateAuthority: { data: Buffer.from(CLUSTER_CA_PEM).toString("base64") },
                },
                oidcIssuer: OIDC_ISSUER,
                oidcProviderArn: `arn:aws:iam::${ACCOUNT_ID}:oidc-provider/${OIDC_ISSUER}`,
                clusterSecurityGroupId: CLUSTER_SECURITY_GROUP_ID,
            };
        }
        case "aws:ecr/repository:Repository":
            return {
                ...inputs,
                registryId: ACCOUNT_ID,
                repositoryUrl: `${ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com/${String(inputs.name)}`,
            };
        case "docker-build:index:Image": {
            const tags = inputs.tags as string[];
            return { ...inputs, digest: FAKE_DIGEST, ref: `${tags[0]}@${FAKE_DIGEST}`, contextHash: "0".repeat(64) };
        }
        case "aws:ec2/launchTemplate:LaunchTemplate":
            return { ...inputs, latestVersion: 1 };
        case "aws:iam/role:Role":
            return {
                ...inputs,
                arn: `arn:aws:iam::${ACCOUNT_ID}:role/${typeof inputs.name === "string" ? inputs.name : name}`,
            };
        case "aws:ec2/securityGroup:SecurityGroup":
            return { ...inputs, arn: `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:security-group/${name}-id` };
        case "aws:rds/instance:Instance":
            return {
                ...inputs,
                address: `${String(inputs.identifier)}.${DATABASE_HOST_SUFFIX}`,
                port: inputs.port ?? 5432,
            };
        case "random:index/randomPassword:RandomPassword":
            return { ...inputs, result: generatedPassword(name, Number(inputs.length), inputs.keepers) };
        case "random:index/randomId:RandomId":
            return { ...inputs, hex: "0a1b2c3d" };
        case "kubernetes:core/v1:Secret":
            // The token controller fills a service-account token Secret, and the provider waits for it to.
            return inputs.type === "kubernetes.io/service-account-token"
                ? {
                      ...inputs,
                      data: {
                          token: Buffer.from(SCRAPER_TOKEN).toString("base64"),
                          "ca.crt": Buffer.from(CLUSTER_CA_PEM).toString("base64"),
                      },
                  }
                : inputs;
        case "kubernetes:core/v1:Service":
            return { ...inputs, status: { loadBalancer: { ingress: [{ hostname: LOAD_BALANCER_HOSTNAME }] } } };
        default:
            return inputs;
    }
}

interface Zone {
    name: string;
    zoneId: string;
    optInStatus: "opt-in-not-required" | "opted-in";
}

/**
 * The zones one account sees, per region. In this us-east-1 the name us-east-1b is the zone EKS refuses (use1-az3)
 * and a Local Zone is opted in: a lookup that ignored either would pick the wrong zones.
 */
const ZONES: Record<string, Zone[]> = {
    "us-east-1": [
        { name: "us-east-1-bos-1a", zoneId: "use1-bos1-az1", optInStatus: "opted-in" },
        ...["use1-az4", "use1-az3", "use1-az6", "use1-az1", "use1-az2", "use1-az5"].map((zoneId, index) => ({
            name: `us-east-1${"abcdef"[index]}`,
            zoneId,
            optInStatus: "opt-in-not-required" as const,
        })),
    ],
};

function zonesOf(region: string): Zone[] {
    return (
        ZONES[region] ??
        ["az2", "az1", "az3"].map((suffix, index) => ({
            name: `${region}${"abc"[index]}`,
            zoneId: `${region.replace(/-/g, "")}-${suffix}`,
            optInStatus: "opt-in-not-required",
        }))
    );
}

/** DescribeAvailabilityZones as the provider's region answers it, with the two selectors the program uses. */
function availabilityZones(args: Record<string, unknown>): Record<string, unknown> {
    const region = new pulumi.Config("aws").get("region") ?? REGION;
    const excluded = (args.excludeZoneIds as string[] | undefined) ?? [];
    const filters = (args.filters as { name: string; values: string[] }[] | undefined) ?? [];
    const unsupported = filters.filter((filter) => filter.name !== "opt-in-status");
    if (unsupported.length > 0) {
        throw new Error(`mock getAvailabilityZones: unsupported filter ${unsupported[0].name}`);
    }
    const zones = zonesOf(region)
        .filter((zone) => !excluded.includes(zone.zoneId))
        .filter((zone) => filters.every((filter) => filter.values.includes(zone.optInStatus)))
        .sort((a, b) => a.name.localeCompare(b.name));
    return {
        id: region,
        names: zones.map((zone) => zone.name),
        zoneIds: zones.map((zone) => zone.zoneId),
        groupNames: [region],
    };
}

/** Clusters already running in the fake EKS, name -> Kubernetes version; empty unless a test deploys one. */
export const eksClusters = new Map<string, string>();
/** Instances already running in the fake RDS, identifier -> engine version ("15.8"); empty unless a test deploys one. */
export const rdsInstances = new Map<string, string>();
/** The digests ECR holds, as getImages lists them: the image the provider pushes, unless a test removes it. */
export const ecrImageDigests = new Set<string>([FAKE_DIGEST]);
export const ECR_PASSWORD = "ecr-token-of-this-run";

function rdsInstancesMatching(args: Record<string, unknown>): Record<string, unknown> {
    const filters = (args.filters as { name: string; values: string[] }[] | undefined) ?? [];
    const unsupported = filters.filter((filter) => filter.name !== "db-instance-id");
    if (unsupported.length > 0) {
        throw new Error(`mock getInstances: unsupported filter ${unsupported[0].name}`);
    }
    const identifiers = [...rdsInstances.keys()].filter((id) => filters.every((filter) => filter.values.includes(id)));
    return {
        instanceIdentifiers: identifiers,
        instanceArns: identifiers.map((id) => `arn:aws:rds:${REGION}:${ACCOUNT_ID}:db:${id}`),
    };
}

function callResult(token: string, args: Record<string, unknown>): Record<string, unknown> {
    switch (token) {
        case "aws:index/getAvailabilityZones:getAvailabilityZones":
            return availabilityZones(args);
        case "aws:eks/getClusters:getClusters":
            return { names: [...eksClusters.keys()] };
        case "aws:eks/getCluster:getCluster":
            return { name: args.name, version: eksClusters.get(String(args.name)) };
        case "aws:rds/getInstances:getInstances":
            return rdsInstancesMatching(args);
        case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                userName: "AWS",
                password: ECR_PASSWORD,
                proxyEndpoint: `https://${String(args.registryId)}.dkr.ecr.${REGION}.amazonaws.com`,
            };
        case "aws:ecr/getImages:getImages":
            return {
                repositoryName: args.repositoryName,
                imageIds: [...ecrImageDigests].map((imageDigest) => ({ imageDigest })),
            };
        case "aws:rds/getInstance:getInstance": {
            const engineVersion = rdsInstances.get(String(args.dbInstanceIdentifier));
            if (engineVersion === undefined) {
                throw new Error(`DBInstanceNotFound: ${String(args.dbInstanceIdentifier)}`);
            }
            return { dbInstanceIdentifier: args.dbInstanceIdentifier, engine: "postgres", engineVersion };
        }
        default:
            return args;
    }
}

export const recorded: RecordedResource[] = [];

export function installMocks(): void {
    // setMocks is async only in its signature: it installs the mocks before it returns.
    void pulumi.runtime.setMocks(
        {
            newResource: (args: pulumi.runtime.MockResourceArgs) => {
                const inputs = args.inputs as Record<string, unknown>;
                const sent = registrationsSent.get(`${args.type}::${args.name}`);
                const id = `${args.name}-id`;
                recorded.push({
                    type: args.type,
                    name: args.name,
                    id,
                    inputs,
                    dependencies: sent?.dependencies ?? [],
                    urn: sent?.urn ?? urnOf("", args.type, args.name),
                    parent: sent?.parent ?? "",
                    aliases: sent?.aliases ?? [],
                    options: sent?.options ?? NO_OPTIONS,
                });
                return { id, state: outputsOf(args.type, args.name, inputs) };
            },
            call: (args: pulumi.runtime.MockCallArgs) => callResult(args.token, args.inputs as Record<string, unknown>),
        },
        "fastapi-app",
        "dev",
        false,
    );
    recordDependencies();
}

interface Registration {
    urn: string;
    parent: string;
    dependencies: string[];
    aliases: string[];
    options: ResourceLifecycle;
}

const NO_OPTIONS: ResourceLifecycle = {
    protect: false,
    ignoreChanges: [],
    deleteBeforeReplace: false,
    retainOnDelete: false,
};

/** What the program tells the engine about each resource, keyed by `type::name`; the engine orders deletes by it. */
const registrationsSent = new Map<string, Registration>();

interface AliasSpec {
    getName(): string;
    getType(): string;
    getStack(): string;
    getProject(): string;
    getParenturn(): string;
    getNoparent(): boolean;
}
interface AliasMessage {
    getUrn(): string;
    getSpec(): AliasSpec | undefined;
}
interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getDependenciesList(): string[];
    getAliasesList(): AliasMessage[];
    getProtect(): boolean | undefined;
    getIgnorechangesList(): string[];
    getDeletebeforereplace(): boolean;
    getRetainondelete(): boolean | undefined;
}
type RegisterResource = (request: RegisterRequest, callback: unknown) => unknown;

/** A URN as the engine builds it: the parent's own type qualifies the child's. */
export function urnOf(parent: string, type: string, name: string, stack?: string, project?: string): string {
    const qualifiedType = parent === "" ? type : `${parent.split("::")[2].split("$").pop()}$${type}`;
    return `urn:pulumi:${stack || pulumi.getStack()}::${project || pulumi.getProject()}::${qualifiedType}::${name}`;
}

/** An alias the SDK sent as a URN or as a spec, resolved to a URN with the engine's defaults. */
function aliasUrn(alias: AliasMessage, request: RegisterRequest): string {
    const spec = alias.getSpec();
    if (spec === undefined) {
        return alias.getUrn();
    }
    const parent = spec.getNoparent() ? "" : spec.getParenturn() || request.getParent();
    return urnOf(
        parent,
        spec.getType() || request.getType(),
        spec.getName() || request.getName(),
        spec.getStack(),
        spec.getProject(),
    );
}

function recordDependencies(): void {
    // The mock monitor hands only inputs to newResource; the register request also carries the parent, the
    // dependency URNs and the aliases.
    const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource: RegisterResource };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (request, callback) => {
        registrationsSent.set(`${request.getType()}::${request.getName()}`, {
            urn: urnOf(request.getParent(), request.getType(), request.getName()),
            parent: request.getParent(),
            dependencies: request.getDependenciesList(),
            aliases: request.getAliasesList().map((alias) => aliasUrn(alias, request)),
            options: {
                protect: request.getProtect() ?? false,
                ignoreChanges: request.getIgnorechangesList(),
                deleteBeforeReplace: request.getDeletebeforereplace(),
                retainOnDelete: request.getRetainondelete() ?? false,
            },
        });
        return register(request, callback);
    };
}

/**
 * Only the required settings, unless given: the program applies Pulumi.yaml's defaults, which the CLI would merge.
 * databaseMode is external with databaseUrl, managed without; keys as `pulumi config set` spells them; "" unsets.
 */
export function setStackConfig(values: Record<string, string> = {}, withDatabaseUrl = true): void {
    const config: Record<string, string> = { "aws:region": REGION };
    if (withDatabaseUrl) {
        config["fastapi-app:databaseUrl"] = FAKE_DATABASE_URL;
    }
    for (const [key, value] of Object.entries(values)) {
        const name = key.includes(":") ? key : `fastapi-app:${key}`;
        if (value !== "") {
            config[name] = value;
        }
    }
    if (!("databaseMode" in values) && !("fastapi-app:databaseMode" in values)) {
        config["fastapi-app:databaseMode"] = "fastapi-app:databaseUrl" in config ? "external" : "managed";
    }
    pulumi.runtime.setAllConfig(config, "fastapi-app:databaseUrl" in config ? ["fastapi-app:databaseUrl"] : []);
}

/** Waits until no new resource has been registered for a while: the program has finished declaring. */
export async function settled(): Promise<void> {
    let count = -1;
    let quietTicks = 0;
    while (quietTicks < 20) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        quietTicks = recorded.length === count ? quietTicks + 1 : 0;
        count = recorded.length;
    }
}
