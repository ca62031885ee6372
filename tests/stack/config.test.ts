// Configuration: seed defaults, and every bad value rejected with a message naming the key.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { FAKE_DATABASE_URL, installMocks, setStackConfig, valueOf } from "./mocks";
import {
    ConfigError,
    DatabaseConfig,
    ExternalDatabaseConfig,
    ManagedDatabaseConfig,
    checkPostgresSupport,
    loadConfig,
    validateDatabaseUrl,
} from "../../config";
import { declarations } from "../../project-config";
import { KUBERNETES_RELEASES, POSTGRES_RELEASES, PostgresVersion, checkUpgradeStep, minorOf } from "../../versions";

installMocks();

function loadWith(values: Record<string, string>) {
    setStackConfig(values);
    return loadConfig();
}

function external(database: DatabaseConfig): ExternalDatabaseConfig {
    assert.equal(database.mode, "external");
    return database;
}

function managed(values: Record<string, string>): ManagedDatabaseConfig {
    setStackConfig(values, false);
    const database = loadConfig().database;
    assert.equal(database.mode, "managed");
    return database;
}

function assertRejected(values: Record<string, string>, key: string, detail: RegExp, withDatabaseUrl = true): void {
    setStackConfig(values, withDatabaseUrl);
    assert.throws(
        () => loadConfig(),
        (error: Error) => {
            assert.ok(error instanceof ConfigError, `a ConfigError, not ${error.name}`);
            assert.match(error.message, new RegExp(`^config '${key}'`));
            assert.match(error.message, detail);
            return true;
        },
    );
}

describe("defaults are the seed's values", () => {
    test("network: 10.0.0.0/16 in ap-southeast-1, 10.0.1.0/24 + 10.0.2.0/24; zones left to the deploy-time lookup", () => {
        const config = loadWith({});
        assert.equal(config.region, "ap-southeast-1");
        assert.equal(config.network.cidrBlock, "10.0.0.0/16");
        assert.equal(config.network.availabilityZones, undefined);
        assert.deepEqual(config.network.publicSubnetCidrs, ["10.0.1.0/24", "10.0.2.0/24"]);
    });
    test("nodes: t3.medium on-demand, desired 2, min 2 (the seed's 1 would let the autoscaler pack every pod onto one node), max 3, 20 GB; Kubernetes 1.36", () => {
        const config = loadWith({});
        assert.deepEqual(
            [
                config.cluster.nodeInstanceType,
                config.cluster.nodeCapacityType,
                config.cluster.nodeGroupSize.desired,
                config.cluster.nodeGroupSize.min,
                config.cluster.nodeGroupSize.max,
                config.cluster.nodeDiskSizeGb,
                config.cluster.kubernetesVersion,
            ],
            ["t3.medium", "ON_DEMAND", 2, 2, 3, 20, "1.36"],
        );
    });
    test("standard support only, control-plane logs kept 30 days", () => {
        const config = loadWith({});
        assert.equal(config.cluster.supportType, "STANDARD");
        assert.equal(config.cluster.logRetentionDays, 30);
    });
    test("app: HPA 2..10 at 70 % CPU; name prefix fastapi-app; builds the image; no extra admins", () => {
        const config = loadWith({});
        assert.deepEqual(
            [config.workload.minReplicas, config.workload.maxReplicas, config.workload.targetCpuPercent],
            [2, 10, 70],
        );
        assert.equal(config.namePrefix, "fastapi-app");
        assert.equal(config.registry.existingImage, undefined);
        assert.deepEqual(config.cluster.clusterAdmins, []);
    });
    test("databaseUrl is read as a secret", async () => {
        const database = external(loadWith({}).database);
        assert.equal(await pulumi.isSecret(database.url), true);
        assert.equal(await valueOf(database.url), FAKE_DATABASE_URL);
    });
    test("managed database: isolated subnets 10.0.101.0/24 + 10.0.102.0/24, PostgreSQL 15, db.t4g.micro, 20 GB up to 100 GB, protected, final snapshot, changes applied at once", () => {
        assert.deepEqual(managed({}), {
            mode: "managed",
            modeSwitch: undefined,
            isolatedSubnetCidrs: ["10.0.101.0/24", "10.0.102.0/24"],
            postgresVersion: "15",
            instanceClass: "db.t4g.micro",
            storageGb: 20,
            maxStorageGb: 100,
            deletionProtection: true,
            finalSnapshot: true,
            applyImmediately: true,
            passwordRotation: "",
        });
    });
});

describe("overrides are honoured", () => {
    test("node sizes, instance type and Kubernetes version", () => {
        const config = loadWith({
            nodeInstanceType: "m6i.large",
            nodeMinSize: "2",
            nodeDesiredSize: "3",
            nodeMaxSize: "5",
            kubernetesVersion: "1.35",
        });
        assert.deepEqual(
            [
                config.cluster.nodeInstanceType,
                config.cluster.nodeGroupSize.min,
                config.cluster.nodeGroupSize.desired,
                config.cluster.nodeGroupSize.max,
                config.cluster.kubernetesVersion,
            ],
            ["m6i.large", 2, 3, 5, "1.35"],
        );
    });
    test("only aws:region set to another region: accepted, zones chosen at deploy time", () => {
        const config = loadWith({ "aws:region": "us-east-1" });
        assert.equal(config.region, "us-east-1");
        assert.equal(config.network.availabilityZones, undefined);
    });
    test("availability zones named explicitly", () =>
        assert.deepEqual(
            loadWith({ availabilityZones: '["ap-southeast-1b","ap-southeast-1c"]' }).network.availabilityZones,
            ["ap-southeast-1b", "ap-southeast-1c"],
        ));
    test("spot capacity", () => assert.equal(loadWith({ nodeCapacityType: "SPOT" }).cluster.nodeCapacityType, "SPOT"));
    test("cluster admins: a laptop user and the GitHub deploy role", () => {
        const admins = ["arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:role/github-deploy"];
        assert.deepEqual(loadWith({ clusterAdmins: JSON.stringify(admins) }).cluster.clusterAdmins, admins);
    });
    test("managed database: subnets, class, storage and destroy-time settings", () => {
        const database = managed({
            isolatedSubnetCidrs: '["10.0.201.0/24","10.0.202.0/24"]',
            databaseInstanceClass: "db.m7g.large",
            databaseStorageGb: "50",
            databaseMaxStorageGb: "500",
            databaseDeletionProtection: "false",
            databaseFinalSnapshot: "false",
            databaseApplyImmediately: "false",
            databasePostgresVersion: "16",
            databasePasswordRotation: "2026-12-07",
        });
        assert.deepEqual(database.isolatedSubnetCidrs, ["10.0.201.0/24", "10.0.202.0/24"]);
        assert.deepEqual(
            [
                database.postgresVersion,
                database.instanceClass,
                database.storageGb,
                database.maxStorageGb,
                database.deletionProtection,
                database.finalSnapshot,
                database.applyImmediately,
                database.passwordRotation,
            ],
            ["16", "db.m7g.large", 50, 500, false, false, false, "2026-12-07"],
        );
    });
    test("extended support and a longer log retention, when chosen", () => {
        const config = loadWith({ kubernetesSupportType: "EXTENDED", controlPlaneLogRetentionDays: "365" });
        assert.deepEqual([config.cluster.supportType, config.cluster.logRetentionDays], ["EXTENDED", 365]);
    });
    test("image: an existing image by digest (rollback)", () => {
        const image = `123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/fastapi-app@sha256:${"0".repeat(64)}`;
        assert.equal(loadWith({ image }).registry.existingImage, image);
    });
});

describe("bad values fail with a message naming the key", () => {
    test("vpcCidr not a CIDR", () => assertRejected({ vpcCidr: "10.0.0.0" }, "vpcCidr", /not an IPv4 CIDR/));
    test("vpcCidr with an octet above 255", () =>
        assertRejected({ vpcCidr: "10.300.0.0/16" }, "vpcCidr", /not an IPv4 CIDR/));
    test("vpcCidr with host bits set names the network address", () =>
        assertRejected({ vpcCidr: "10.0.0.1/16" }, "vpcCidr", /host bits set; the network address is 10\.0\.0\.0\/16/));
    test("vpcCidr in a short, octal or hexadecimal spelling", () => {
        for (const vpcCidr of ["10.1/16", "010.0.0.0/16", "0xa.0.0.0/16", "10.0.0.0/16/16"]) {
            assertRejected({ vpcCidr }, "vpcCidr", /not an IPv4 CIDR/);
        }
    });
    test("vpcCidr with a prefix beyond /32", () =>
        assertRejected({ vpcCidr: "10.0.0.0/33" }, "vpcCidr", /not an IPv4 CIDR/));
    test("vpcCidr larger than AWS allows", () => assertRejected({ vpcCidr: "10.0.0.0/8" }, "vpcCidr", /\/16 and \/28/));
    test("subnet outside the VPC", () =>
        assertRejected(
            { publicSubnetCidrs: '["10.0.1.0/24","10.1.2.0/24"]' },
            "publicSubnetCidrs",
            /not inside vpcCidr/,
        ));
    test("overlapping subnets", () =>
        assertRejected({ publicSubnetCidrs: '["10.0.0.0/23","10.0.1.0/24"]' }, "publicSubnetCidrs", /overlaps/));
    test("subnet smaller than AWS allows", () =>
        assertRejected(
            { publicSubnetCidrs: '["10.0.1.0/24","10.0.2.0/30"]' },
            "publicSubnetCidrs",
            /10\.0\.2\.0\/30: AWS subnets take a prefix between \/16 and \/28/,
        ));
    test("subnet larger than AWS allows", () =>
        assertRejected(
            { vpcCidr: "10.0.0.0/16", publicSubnetCidrs: '["10.0.0.0/15","10.2.0.0/24"]' },
            "publicSubnetCidrs",
            /\/16 and \/28/,
        ));
    test("subnet count differs from the AZ count", () =>
        assertRejected(
            { availabilityZones: '["ap-southeast-1a","ap-southeast-1b"]', publicSubnetCidrs: '["10.0.1.0/24"]' },
            "publicSubnetCidrs",
            /one block per availability zone \(2\), got 1/,
        ));
    test("fewer than two availability zones", () =>
        assertRejected(
            { availabilityZones: '["ap-southeast-1a"]', publicSubnetCidrs: '["10.0.1.0/24"]' },
            "availabilityZones",
            /at least two/,
        ));
    test("availability zone from another region", () =>
        assertRejected(
            { availabilityZones: '["ap-southeast-1a","us-east-1b"]' },
            "availabilityZones",
            /us-east-1b not in region ap-southeast-1/,
        ));
    test("a single public subnet when zones are looked up", () =>
        assertRejected({ publicSubnetCidrs: '["10.0.1.0/24"]' }, "publicSubnetCidrs", /at least two blocks/));
    test("nodeCapacityType not ON_DEMAND or SPOT", () =>
        assertRejected(
            { nodeCapacityType: "spot" },
            "nodeCapacityType",
            /'spot' is not valid, expected ON_DEMAND or SPOT/,
        ));
    test("spot with an instance type that has no interchangeable types", () =>
        assertRejected(
            { nodeCapacityType: "SPOT", nodeInstanceType: "m5zn.large" },
            "nodeCapacityType",
            /none are known for m5zn\.large; use a type from t3\/t3a micro\|small/,
        ));
    test("Graviton (arm64) node types are refused: the nodes' AMI is x86_64 and the image linux/amd64", () => {
        for (const nodeInstanceType of [
            "m7g.large",
            "t4g.medium",
            "c6gn.xlarge",
            "r8g.2xlarge",
            "x2gd.large",
            "a1.large",
        ]) {
            assertRejected(
                { nodeInstanceType },
                "nodeInstanceType",
                /is an AWS Graviton \(arm64\) type; the nodes run the AL2023 x86_64 AMI and the image is built for linux\/amd64, so the type must be x86_64, such as t3\.medium/,
            );
        }
    });
    test("x86_64 node types whose names hold a g are accepted", () => {
        for (const nodeInstanceType of ["g4dn.xlarge", "g5.xlarge", "m5dn.large", "c5n.large", "t3a.medium"]) {
            assert.equal(loadWith({ nodeInstanceType }).cluster.nodeInstanceType, nodeInstanceType);
        }
    });
    test("nodeMinSize greater than nodeMaxSize", () =>
        assertRejected(
            { nodeMinSize: "4", nodeMaxSize: "3", nodeDesiredSize: "3" },
            "nodeMinSize",
            /must not exceed nodeMaxSize/,
        ));
    test("nodeDesiredSize above nodeMaxSize", () =>
        assertRejected({ nodeDesiredSize: "4" }, "nodeDesiredSize", /must not exceed nodeMaxSize/));
    test("nodeDesiredSize below nodeMinSize: the message blames nodeDesiredSize, the value set below the floor", () =>
        assertRejected(
            { nodeDesiredSize: "0" },
            "nodeDesiredSize",
            /nodeDesiredSize \(0\) must be at least nodeMinSize \(2\); a good value: 2/,
        ));
    test("fractional node count", () => assertRejected({ nodeMaxSize: "2.5" }, "nodeMaxSize", /whole number/));
    test("a single node: losing it, or draining it, would take every pod", () =>
        assertRejected(
            { nodeMinSize: "1", nodeDesiredSize: "1" },
            "nodeMinSize",
            /at least 2: the service's pods run on two nodes/,
        ));
    test("at most two nodes: a drain of one of them would have nowhere to put its pods", () =>
        assertRejected(
            { nodeMaxSize: "2", nodeDesiredSize: "2" },
            "nodeMaxSize",
            /at least 3: draining one of two nodes needs a third/,
        ));
    test("root volume below 20 GB", () => assertRejected({ nodeDiskSizeGb: "8" }, "nodeDiskSizeGb", /from 20/));
    test("instance type format", () =>
        assertRejected({ nodeInstanceType: "t3medium" }, "nodeInstanceType", /expected something like t3.medium/));
    test("instance type with unknown size", () =>
        assertRejected({ nodeInstanceType: "t3.huge" }, "nodeInstanceType", /not valid/));
    test("unsupported Kubernetes version: the message lists the versions and their end of standard support", () =>
        assertRejected(
            { kubernetesVersion: "1.29" },
            "kubernetesVersion",
            /not supported; use one of 1\.35 \(standard support until 2027-03-27\), 1\.36 \(standard support until 2027-08-02\)/,
        ));
    test("1.34 is refused: its standard support ends on 2026-12-02, then EKS bills extended support", () =>
        assertRejected({ kubernetesVersion: "1.34" }, "kubernetesVersion", /not supported/));
    test("support type other than STANDARD or EXTENDED", () =>
        assertRejected(
            { kubernetesSupportType: "standard" },
            "kubernetesSupportType",
            /must be STANDARD .* or EXTENDED/,
        ));
    test("log retention CloudWatch does not accept", () =>
        assertRejected(
            { controlPlaneLogRetentionDays: "31" },
            "controlPlaneLogRetentionDays",
            /one of the periods CloudWatch Logs accepts .*30, 60/,
        ));
    test("the same admin twice (EKS takes one access entry per principal)", () =>
        assertRejected(
            { clusterAdmins: '["arn:aws:iam::123456789012:user/alice","arn:aws:iam::123456789012:user/alice"]' },
            "clusterAdmins",
            /user\/alice is listed twice/,
        ));
    test("Kubernetes version with a patch number", () =>
        assertRejected({ kubernetesVersion: "1.36.2" }, "kubernetesVersion", /not supported/));
    test("appMinReplicas greater than appMaxReplicas", () =>
        assertRejected(
            { appMinReplicas: "5", appMaxReplicas: "3" },
            "appMinReplicas",
            /must not exceed appMaxReplicas/,
        ));
    test("a single app replica: every drain or node loss would take the service down", () =>
        assertRejected({ appMinReplicas: "1" }, "appMinReplicas", /at least 2: with one pod, every node drain/));
    test("appTargetCpuPercent out of range", () =>
        assertRejected({ appTargetCpuPercent: "150" }, "appTargetCpuPercent", /10 to 100/));
    test("clusterAdmins entry is not an IAM role or user ARN", () =>
        assertRejected({ clusterAdmins: '["alice"]' }, "clusterAdmins", /arn:aws:iam::123456789012:role/));
    test("image without a digest (tags can be moved; digests cannot)", () =>
        assertRejected(
            { image: "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/fastapi-app:latest" },
            "image",
            /@sha256:/,
        ));
    test("clusterAdmins given as one string instead of a list", () =>
        assertRejected(
            { clusterAdmins: '"arn:aws:iam::123456789012:role/github-deploy"' },
            "clusterAdmins",
            /must be a list of strings/,
        ));
    test("availabilityZones given as one string instead of a list", () =>
        assertRejected(
            { availabilityZones: '"ap-southeast-1a"' },
            "availabilityZones",
            /must be a list of strings such as \["ap-southeast-1a","ap-southeast-1b"\]/,
        ));
    test("publicSubnetCidrs holding a non-string", () =>
        assertRejected({ publicSubnetCidrs: '["10.0.1.0/24", 24]' }, "publicSubnetCidrs", /must be a list of strings/));
    test("namePrefix with upper case", () => assertRejected({ namePrefix: "FastAPI" }, "namePrefix", /not valid/));
});

describe("managed database mode: bad values fail naming the key and the mode", () => {
    const rejected = (values: Record<string, string>, key: string, detail: RegExp): void =>
        assertRejected(values, key, new RegExp(`managed database mode: .*${detail.source}`), false);
    test("isolated subnet outside the VPC", () =>
        rejected(
            { isolatedSubnetCidrs: '["10.0.101.0/24","10.1.102.0/24"]' },
            "isolatedSubnetCidrs",
            /10\.1\.102\.0\/24 is not inside vpcCidr/,
        ));
    test("isolated subnet overlapping a public subnet", () =>
        rejected(
            { isolatedSubnetCidrs: '["10.0.0.0/23","10.0.102.0/24"]' },
            "isolatedSubnetCidrs",
            /10\.0\.0\.0\/23 overlaps public subnet 10\.0\.1\.0\/24/,
        ));
    test("isolated subnets overlapping each other", () =>
        rejected(
            { isolatedSubnetCidrs: '["10.0.100.0/22","10.0.102.0/24"]' },
            "isolatedSubnetCidrs",
            /overlaps another subnet/,
        ));
    test("one isolated subnet for two zones", () =>
        rejected(
            { isolatedSubnetCidrs: '["10.0.101.0/24"]' },
            "isolatedSubnetCidrs",
            /one block per availability zone \(2\), got 1/,
        ));
    test("instance class that is not an RDS class", () =>
        rejected(
            { databaseInstanceClass: "t4g.micro" },
            "databaseInstanceClass",
            /expected something like db\.t4g\.micro/,
        ));
    test("storage ceiling less than 10 % above the storage, which RDS refuses at create", () =>
        rejected(
            { databaseStorageGb: "100", databaseMaxStorageGb: "109" },
            "databaseMaxStorageGb",
            /must be at least 10 % above databaseStorageGb \(100 GB\): 110 GB or more/,
        ));
    test("a storage ceiling exactly 10 % above is accepted", () =>
        assert.equal(managed({ databaseStorageGb: "100", databaseMaxStorageGb: "110" }).maxStorageGb, 110));
    test("a PostgreSQL major the stack does not know", () =>
        rejected({ databasePostgresVersion: "14" }, "databasePostgresVersion", /'14' is not supported; use one of 15/));
    test("apply-immediately setting that is not a boolean", () =>
        rejected({ databaseApplyImmediately: "now" }, "databaseApplyImmediately", /must be true or false/));
    test("databaseUrl next to databaseMode managed is refused: the URL would be ignored", () =>
        assertRejected(
            { databaseMode: "managed" },
            "databaseUrl",
            /managed database mode: the stack makes its own database and would not use databaseUrl; remove it/,
        ));
    test("final snapshot setting that is not a boolean", () =>
        rejected({ databaseFinalSnapshot: "yes" }, "databaseFinalSnapshot", /must be true or false/));
    test("storage below the 20 GB gp3 minimum", () =>
        assertRejected({ databaseStorageGb: "10" }, "databaseStorageGb", /from 20 to 65536/, false));
});

describe("databaseMode decides the database, never the presence of a secret", () => {
    test("unset on a stack with databaseUrl: required, and the line that keeps it external", () =>
        assertRejected(
            { databaseMode: "" },
            "databaseMode",
            /is required: managed .* or external .*; this stack has databaseUrl set, so it runs an external database today: pulumi config set databaseMode external/,
        ));
    test("unset on a stack without databaseUrl: required, and the line that keeps it managed", () =>
        assertRejected(
            { databaseMode: "" },
            "databaseMode",
            /is required: .*this stack has no databaseUrl, .*: pulumi config set databaseMode managed/,
            false,
        ));
    test("external without databaseUrl stops, naming the missing secret, instead of creating a database", () =>
        assertRejected(
            { databaseMode: "external" },
            "databaseUrl",
            /^config 'databaseUrl': external database mode: the secret databaseUrl is missing \(from GitHub Actions: the environment secret DATABASE_URL\); the stack never falls back to a database of its own/,
            false,
        ));
    test("a mode that is neither", () =>
        assertRejected({ databaseMode: "rds" }, "databaseMode", /must be managed or external, got 'rds'/));
    test("a confirmation that names no switch", () =>
        assertRejected(
            { databaseModeSwitch: "yes" },
            "databaseModeSwitch",
            /must be external-to-managed or managed-to-external/,
        ));
    test("a confirmation is read with the mode", () =>
        assert.equal(managed({ databaseModeSwitch: "external-to-managed" }).modeSwitch, "external-to-managed"));
});

describe("the PostgreSQL major against RDS standard support", () => {
    test("every major is accepted until its end of standard support, with a warning in the last 180 days", () => {
        for (const [major, release] of Object.entries(POSTGRES_RELEASES)) {
            const end = new Date(`${release.endOfStandardSupport}T00:00:00Z`);
            const day = 86_400_000;
            assert.equal(
                checkPostgresSupport(major as PostgresVersion, new Date(end.getTime() - 200 * day)),
                undefined,
            );
            assert.match(
                checkPostgresSupport(major as PostgresVersion, new Date(end.getTime() - 10 * day)) ?? "",
                new RegExp(
                    `PostgreSQL ${major} leaves RDS standard support on ${release.endOfStandardSupport} \\(10 days\\)`,
                ),
            );
            assert.throws(
                () => checkPostgresSupport(major as PostgresVersion, end),
                new RegExp(
                    `config 'databasePostgresVersion': managed database mode: PostgreSQL ${major} left RDS standard support`,
                ),
            );
        }
    });
    test("the default major is more than 180 days from the end of its standard support today", () => {
        setStackConfig({}, false);
        assert.equal(checkPostgresSupport(managed({}).postgresVersion, new Date()), undefined);
    });
    test("past the end, the deploy stops and names the next major", () => {
        setStackConfig({}, false);
        assert.throws(
            () => loadConfig(new Date("2028-03-01T00:00:00Z")),
            /config 'databasePostgresVersion': .*PostgreSQL 15 left RDS standard support on 2028-02-29, when RDS upgrades it itself; set databasePostgresVersion 16/,
        );
    });
});

describe("external database mode", () => {
    test("a managed-database setting in external mode is refused, not silently ignored", () =>
        assertRejected(
            { databaseInstanceClass: "db.t4g.small" },
            "databaseInstanceClass",
            /^config 'databaseInstanceClass': external database mode: applies only to the managed database; remove it \(pulumi config rm databaseInstanceClass\)/,
        ));
    test("loadConfig validates the configured URL before wrapping it as a secret: a mysql:// URL is rejected", () =>
        assertRejected(
            { databaseUrl: "mysql://u:p@h/d" },
            "databaseUrl",
            /^config 'databaseUrl': external database mode: must look like postgresql:\/\//,
        ));
    test("not a postgresql:// URL: rejected without echoing the value", () => {
        assert.throws(
            () => validateDatabaseUrl("mysql://u:s3cret@h/db"),
            (error: Error) => {
                assert.match(
                    error.message,
                    /^config 'databaseUrl': external database mode: must look like postgresql:\/\//,
                );
                assert.doesNotMatch(error.message, /s3cret/);
                return true;
            },
        );
    });
    test("not a URL at all: rejected", () =>
        assert.throws(
            () => validateDatabaseUrl("s3cret"),
            /config 'databaseUrl': external database mode: is not a URL/,
        ));
    test("a postgresql:// URL is accepted", () => assert.doesNotThrow(() => validateDatabaseUrl(FAKE_DATABASE_URL)));
    // The same table app/tests/test_database_url_rules.py runs against the service.
    const cases = JSON.parse(
        fs.readFileSync(path.join(__dirname, "..", "..", "app", "tests", "database_url_cases.json"), "utf8"),
    ) as { accepted: string[]; refused: string[] };
    for (const url of cases.accepted) {
        test(`accepted, as the service accepts it: ${url}`, () => assert.doesNotThrow(() => validateDatabaseUrl(url)));
    }
    for (const url of cases.refused) {
        test(`refused, as the service refuses it: ${url}`, () =>
            assert.throws(
                () => validateDatabaseUrl(url),
                /^ConfigError: config 'databaseUrl': external database mode: /,
            ));
    }
});

describe("loadBalancer: HTTPS and who may connect", () => {
    const certificate = "arn:aws:acm:ap-southeast-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
    test("defaults: plain HTTP, open to every address", () => {
        assert.deepEqual(loadWith({}).workload.loadBalancer, {
            certificateArn: undefined,
            publicHostname: undefined,
            keepHttpPort: false,
            allowedSourceRanges: [],
        });
    });
    test("a certificate in the stack's region, port 80 kept, two source ranges", () => {
        const edge = loadWith({
            certificateArn: certificate,
            publicHostname: "api.example.com",
            keepHttpPort: "true",
            allowedSourceRanges: '["203.0.113.0/24","198.51.100.7/32"]',
        }).workload.loadBalancer;
        assert.deepEqual(edge, {
            certificateArn: certificate,
            publicHostname: "api.example.com",
            keepHttpPort: true,
            allowedSourceRanges: ["203.0.113.0/24", "198.51.100.7/32"],
        });
    });
    test("certificateArn that is not an ACM certificate ARN", () =>
        assertRejected(
            { certificateArn: "arn:aws:iam::123456789012:server-certificate/x" },
            "certificateArn",
            /not an ACM certificate ARN/,
        ));
    test("certificateArn in another region than the load balancer", () =>
        assertRejected(
            { certificateArn: certificate.replace("ap-southeast-1", "us-east-1"), publicHostname: "api.example.com" },
            "certificateArn",
            /in us-east-1, but the load balancer is in ap-southeast-1/,
        ));
    test("certificateArn without publicHostname: the certificate cannot name the load balancer's host", () =>
        assertRejected({ certificateArn: certificate }, "publicHostname", /is required with certificateArn/));
    test("publicHostname without a certificate: plain HTTP on that name", () =>
        assert.equal(
            loadWith({ publicHostname: "api.example.com" }).workload.loadBalancer.publicHostname,
            "api.example.com",
        ));
    test("publicHostname that is not a DNS name, or is the load balancer's AWS-owned name", () => {
        for (const bad of ["https://api.example.com", "api.example.com:443", "API.example.com", "localhost"]) {
            assertRejected({ publicHostname: bad }, "publicHostname", /is not a lower-case DNS name/);
        }
        assertRejected(
            { publicHostname: "a1b2c3-123456789.ap-southeast-1.elb.amazonaws.com" },
            "publicHostname",
            /is an AWS-owned name/,
        );
    });
    test("keepHttpPort without a certificate", () =>
        assertRejected({ keepHttpPort: "true" }, "keepHttpPort", /only applies with certificateArn/));
    test("keepHttpPort and apiReadsNeedToken that are not true or false", () => {
        assertRejected({ keepHttpPort: "yes" }, "keepHttpPort", /must be true or false, got 'yes'/);
        assertRejected({ apiReadsNeedToken: "1" }, "apiReadsNeedToken", /must be true or false, got '1'/);
    });
    test("allowedSourceRanges entry that is not a CIDR, has host bits set, or repeats", () => {
        assertRejected({ allowedSourceRanges: '["203.0.113.7"]' }, "allowedSourceRanges", /not an IPv4 CIDR/);
        assertRejected({ allowedSourceRanges: '["203.0.113.7/24"]' }, "allowedSourceRanges", /host bits set/);
        assertRejected({ allowedSourceRanges: '["203.0.113.0/24","203.0.113.0/24"]' }, "allowedSourceRanges", /twice/);
        assertRejected({ allowedSourceRanges: '"203.0.113.0/24"' }, "allowedSourceRanges", /must be a list of strings/);
    });
});

describe("bearer tokens", () => {
    const token = "0123456789abcdef-ROTATE.me~";
    test("unset: the stack generates them; reads stay public", () => {
        const tokens = loadWith({}).workload.tokens;
        assert.deepEqual(
            [tokens.apiTokens, tokens.metricsTokens, tokens.readsNeedToken],
            [undefined, undefined, false],
        );
    });
    test("configured lists are secrets, spaces around commas dropped", async () => {
        const tokens = loadWith({
            apiTokens: `${token}1 , ${token}2`,
            metricsTokens: `${token}3`,
            apiReadsNeedToken: "true",
        }).workload.tokens;
        assert.ok(tokens.apiTokens && tokens.metricsTokens);
        assert.equal(await pulumi.isSecret(tokens.apiTokens), true);
        assert.equal(await valueOf(tokens.apiTokens), `${token}1,${token}2`);
        assert.equal(await valueOf(tokens.metricsTokens), `${token}3`);
        assert.equal(tokens.readsNeedToken, true);
    });
    test("a short or empty token is refused by position, never echoed, before it is wrapped as a secret", () => {
        for (const apiTokens of [`${token},short`, `${token},`]) {
            setStackConfig({ apiTokens });
            assert.throws(
                () => loadConfig(),
                (error: Error) => {
                    assert.match(error.message, /^config 'apiTokens': token 2 of 2 is not 16-512 characters/);
                    assert.doesNotMatch(error.message, new RegExp(token));
                    return true;
                },
            );
        }
    });
});

describe("kubernetesVersion moves one minor per update", () => {
    test("a new cluster takes any supported version", () =>
        assert.doesNotThrow(() => checkUpgradeStep(undefined, "1.36")));
    test("the running version, or the next minor, is accepted", () => {
        assert.doesNotThrow(() => checkUpgradeStep("1.36", "1.36"));
        assert.doesNotThrow(() => checkUpgradeStep("1.35", "1.36"));
    });
    test("a jump of two minors is refused with the way to upgrade", () =>
        assert.throws(
            () => checkUpgradeStep("1.34", "1.36"),
            (error: Error) => {
                assert.ok(error instanceof ConfigError);
                assert.match(
                    error.message,
                    /^config 'kubernetesVersion': the cluster runs 1\.34; EKS upgrades one minor version at a time\. Set 1\.35, run pulumi up, then set 1\.36/,
                );
                return true;
            },
        ));
    test("a downgrade is refused", () =>
        assert.throws(
            () => checkUpgradeStep("1.36", "1.35"),
            /config 'kubernetesVersion': the cluster runs 1\.36; EKS cannot downgrade to 1\.35/,
        ));
});

describe("pinned versions agree with the Kubernetes minor they are pinned for (versions.ts)", () => {
    const releases = Object.entries(KUBERNETES_RELEASES);
    test("the supported minors are consecutive, so every upgrade goes through listed versions", () => {
        const minors = releases.map(([version]) => minorOf(version));
        assert.deepEqual(
            minors,
            minors.map((_, index) => minors[0] + index),
        );
    });
    for (const [version, release] of releases) {
        test(`${version}: kube-proxy and the cluster autoscaler are releases of ${version}`, () => {
            assert.match(
                release.addons.kubeProxy,
                new RegExp(`^v${version.replace(".", "\\.")}\\.\\d+-eksbuild\\.\\d+$`),
            );
            assert.match(release.clusterAutoscalerImage, new RegExp(`^v${version.replace(".", "\\.")}\\.\\d+$`));
        });
        test(`${version}: every EKS add-on pinned to an exact build, never "latest"`, () => {
            for (const pin of Object.values(release.addons)) {
                assert.match(pin, /^v\d+\.\d+\.\d+-eksbuild\.\d+$/);
            }
        });
        test(`${version}: in EKS standard support when the calendar was checked (2026-11-29)`, () =>
            assert.ok(release.endOfStandardSupport > "2026-11-29", release.endOfStandardSupport));
    }
    test("an add-on never goes back a version when the Kubernetes minor goes up", () => {
        const numbers = (pin: string): number[] =>
            pin
                .replace(/^v/, "")
                .split(/[.-]|eksbuild\./)
                .filter(Boolean)
                .map(Number);
        const newer = (a: number[], b: number[]): boolean => {
            const index = a.findIndex((part, i) => part !== b[i]);
            return index === -1 || a[index] > b[index];
        };
        for (let i = 1; i < releases.length; i++) {
            const [[, older], [version, current]] = [releases[i - 1], releases[i]];
            for (const [addon, pin] of Object.entries(current.addons)) {
                const before = older.addons[addon as keyof typeof older.addons];
                assert.ok(newer(numbers(pin), numbers(before)), `${addon} ${before} -> ${pin} at ${version}`);
            }
        }
    });
});

describe("appMaxReplicas against the database's connection budget (docs/deploying.md#connection-budget)", () => {
    test("managed db.t4g.micro (max_connections 100): 12 pods fit, 13 are refused with the ceiling that fits", () => {
        setStackConfig({ appMaxReplicas: "12" }, false);
        assert.equal(loadConfig().workload.maxReplicas, 12);
        assertRejected(
            { appMaxReplicas: "13" },
            "appMaxReplicas",
            /13 pods need 85 database connections .*more than 80 % of max_connections 100 of databaseInstanceClass db\.t4g\.micro; or a larger class .*; a good value: 12$/,
            false,
        );
    });
    test("a larger managed class allows more pods", () => {
        setStackConfig({ appMaxReplicas: "40", databaseInstanceClass: "db.m7g.large" }, false);
        assert.equal(loadConfig().workload.maxReplicas, 40);
    });
    test("external: checked against the declared databaseMaxConnections", () => {
        assertRejected(
            { databaseMaxConnections: "50" },
            "appMaxReplicas",
            /10 pods need 67 database connections .*more than 80 % of databaseMaxConnections 50 .*; a good value: 5$/,
        );
        assert.equal(loadWith({ databaseMaxConnections: "500", appMaxReplicas: "60" }).workload.maxReplicas, 60);
    });
    test("external without databaseMaxConnections: unchecked, as before the key existed", () =>
        assert.equal(loadWith({ appMaxReplicas: "100" }).workload.maxReplicas, 100));
    test("databaseMaxConnections in managed mode is refused, not silently ignored", () =>
        assertRejected(
            { databaseMaxConnections: "500" },
            "databaseMaxConnections",
            /^config 'databaseMaxConnections': managed database mode: applies only to an external database/,
            false,
        ));
});

describe("one source of the region: aws:region, defaulted in Pulumi.yaml", () => {
    test("Pulumi.yaml gives every stack ap-southeast-1 as the provider key's value", () =>
        assert.deepEqual(declarations()["aws:region"], { value: "ap-southeast-1" }));
    test("unset, the program falls back on nothing of its own: it stops naming aws:region", () => {
        setStackConfig();
        const withoutRegion = Object.fromEntries(
            Object.entries(pulumi.runtime.allConfig()).filter(([key]) => key !== "aws:region"),
        );
        pulumi.runtime.setAllConfig(withoutRegion, ["fastapi-app:databaseUrl"]);
        process.env.AWS_REGION = "eu-west-1";
        try {
            assert.throws(
                () => loadConfig(),
                /config 'aws:region': is not set, .*AWS_REGION does not set it; set it with: pulumi config set aws:region ap-southeast-1$/,
            );
        } finally {
            delete process.env.AWS_REGION;
        }
    });
});
