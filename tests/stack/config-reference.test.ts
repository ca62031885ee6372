// Pulumi.yaml declares, docs/configuration.md documents and loadConfig reads exactly the same keys, and the program
// applies the defaults Pulumi.yaml declares: the CLI merges them into a stack's configuration, the mocks do not.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { FAKE_DATABASE_URL, installMocks, setStackConfig } from "./mocks";
import { ConfigError, StackConfig, loadConfig } from "../../config";
import { Declaration, DeclaredValue, asConfigText, declarations, projectName } from "../../project-config";

installMocks();

const REFERENCE = path.resolve(__dirname, "../../docs/configuration.md");
const HEADER = "| Key | Type | Default | Validation | Effect |";
const PROJECT = "fastapi-app";

interface Row {
    key: string;
    type: string;
    default: string;
}

/** The rows of the reference table, keyed as `pulumi config set` spells them. */
function documentedRows(): Row[] {
    const lines = fs.readFileSync(REFERENCE, "utf8").split("\n");
    const start = lines.indexOf(HEADER);
    assert.ok(start >= 0, `docs/configuration.md has no table headed ${HEADER}`);
    const rows = lines.slice(start + 2);
    const end = rows.findIndex((line) => !line.startsWith("|"));
    return rows.slice(0, end === -1 ? rows.length : end).map((row) => {
        const key = /^\|\s*`([^`]+)`/.exec(row);
        assert.ok(key, `a row whose first cell is not a key in backticks: ${row}`);
        const cells = row.split(" | ");
        return { key: key[1], type: cells[1], default: cells[2] };
    });
}

function documentedKeys(): string[] {
    return documentedRows().map((row) => row.key);
}

type Getter = (this: pulumi.Config, key: string, ...rest: unknown[]) => unknown;

/** Every key loadConfig asks pulumi.Config for, under each of the given stack configurations. */
function keysRead(configurations: { values: Record<string, string>; withDatabaseUrl: boolean }[]): Set<string> {
    const read = new Set<string>();
    const prototype = pulumi.Config.prototype as unknown as Record<string, Getter>;
    const getters = Object.getOwnPropertyNames(pulumi.Config.prototype).filter((name) => /^(get|require)/.test(name));
    const originals = new Map(getters.map((name) => [name, prototype[name]]));
    for (const name of getters) {
        const original = originals.get(name) as Getter;
        prototype[name] = function (this: pulumi.Config, key: string, ...rest: unknown[]) {
            read.add(this.name === PROJECT ? key : `${this.name}:${key}`);
            return original.call(this, key, ...rest);
        };
    }
    try {
        for (const { values, withDatabaseUrl } of configurations) {
            setStackConfig(values, withDatabaseUrl);
            try {
                loadConfig();
            } catch {
                // A configuration that stops the program still tells which keys it read first.
            }
        }
    } finally {
        for (const [name, original] of originals) {
            prototype[name] = original;
        }
    }
    return read;
}

const READ = () =>
    keysRead([
        { values: {}, withDatabaseUrl: true },
        { values: {}, withDatabaseUrl: false },
        {
            values: { image: "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/fastapi-app@sha256:" + "a".repeat(64) },
            withDatabaseUrl: true,
        },
    ]);

test("the configuration reference documents exactly the keys loadConfig reads", () => {
    const documented = documentedKeys();
    assert.equal(new Set(documented).size, documented.length, "a key is documented twice");
    const read = READ();
    assert.ok(read.size > 10, `only ${read.size} keys recorded: the recorder misses reads`);
    const undocumented = [...read].filter((key) => !documented.includes(key));
    const unread = documented.filter((key) => !read.has(key));
    assert.deepEqual(undocumented, [], "keys loadConfig reads that docs/configuration.md does not document");
    assert.deepEqual(unread, [], "keys docs/configuration.md documents that loadConfig never reads");
});

test("Pulumi.yaml declares exactly the keys loadConfig reads", () => {
    const declared = Object.keys(declarations());
    const read = READ();
    assert.deepEqual(
        [...read].filter((key) => !declared.includes(key)),
        [],
        "keys loadConfig reads that Pulumi.yaml does not declare",
    );
    assert.deepEqual(
        declared.filter((key) => !read.has(key)),
        [],
        "keys Pulumi.yaml declares that loadConfig never reads",
    );
});

/** What pulumi/pulumi's ValidateConfigValue (sdk/go/common/workspace/project.go) accepts for a declared type. */
function ofType(value: unknown, declared: Declaration): boolean {
    switch (declared.type) {
        case "string":
            return typeof value === "string";
        case "integer":
            return Number.isInteger(value);
        case "boolean":
            return typeof value === "boolean";
        case "array":
            return Array.isArray(value) && value.every((item) => ofType(item, { type: declared.items?.type }));
        default:
            return false;
    }
}

const SECRETS = ["databaseUrl", "apiTokens", "metricsTokens"];

test("each declaration is one the CLI accepts: a type and description, a default of that type, secrets untyped", () => {
    assert.equal(projectName(), PROJECT);
    for (const [key, declared] of Object.entries(declarations())) {
        const allowed = ["type", "items", "description", "secret", "default", "value"];
        assert.deepEqual(
            Object.keys(declared).filter((field) => !allowed.includes(field)),
            [],
            key,
        );
        if (key.includes(":")) {
            // Another package's key (project.go, Validate): a value, never a type or a default.
            assert.ok(
                declared.value !== undefined && declared.type === undefined && declared.default === undefined,
                key,
            );
            continue;
        }
        assert.ok((declared.description ?? "").length > 20, `${key}: a description`);
        // Without a default the CLI requires the key (pkg/workspace/config.go); each key has one, required or not.
        assert.notEqual(declared.default, undefined, `${key}: a default`);
        if (SECRETS.includes(key)) {
            // A typed secret with a default fails every stack that leaves it unset (pulumi/pulumi#21865).
            assert.deepEqual(declared, { ...declared, secret: true, default: "" }, key);
            assert.equal(declared.type, undefined, `${key}: a secret is untyped`);
            continue;
        }
        assert.ok(["string", "integer", "boolean", "array"].includes(declared.type ?? ""), `${key}: a type`);
        assert.ok(declared.type !== "array" || declared.items?.type === "string", `${key}: a list of strings`);
        assert.ok(ofType(declared.default, declared), `${key}: the default ${JSON.stringify(declared.default)}`);
        assert.notEqual(declared.secret, true, `${key} is declared secret; add it to SECRETS`);
    }
});

/** How the reference table's Default cell starts: the declared default as the CLI passes it, in backticks. */
function documentedDefault(value: DeclaredValue): string {
    return `\`${value === "" ? '""' : asConfigText(value)}\``;
}

test("the reference table gives each key its declared default, and says which are secret", () => {
    for (const row of documentedRows()) {
        const declared = declarations()[row.key];
        assert.ok(declared, `${row.key} is documented but not declared in Pulumi.yaml`);
        const fallback = declared.default ?? declared.value;
        assert.ok(fallback !== undefined, row.key);
        assert.ok(
            row.default.startsWith(documentedDefault(fallback)),
            `${row.key}: the Default cell '${row.default}' must start with ${documentedDefault(fallback)}`,
        );
        assert.equal(/secret/.test(row.type), declared.secret === true, `${row.key}: the Type cell '${row.type}'`);
    }
});

/** The stack's configuration as the CLI hands it to the program: every declared default merged in. */
function asTheCliPassesIt(values: Record<string, string>): Record<string, string> {
    const merged = { ...values };
    for (const [key, declared] of Object.entries(declarations())) {
        const name = key.includes(":") ? key : `${PROJECT}:${key}`;
        const fallback = declared.default ?? declared.value;
        if (!(name in merged) && fallback !== undefined) {
            merged[name] = asConfigText(fallback);
        }
    }
    return merged;
}

/** A loaded configuration with each Output named by what it is, so two loads compare by value. */
function comparable(config: StackConfig): string {
    return JSON.stringify(config, (_key, value: unknown) => (pulumi.Output.isInstance(value) ? "<output>" : value));
}

for (const mode of ["external", "managed"]) {
    test(`${mode} mode: the defaults the program applies are the ones Pulumi.yaml declares`, () => {
        const required: Record<string, string> = { "aws:region": "ap-southeast-1", [`${PROJECT}:databaseMode`]: mode };
        if (mode === "external") {
            required[`${PROJECT}:databaseUrl`] = FAKE_DATABASE_URL;
        }
        const secrets = mode === "external" ? [`${PROJECT}:databaseUrl`] : [];
        pulumi.runtime.setAllConfig(required, secrets);
        const bare = comparable(loadConfig());
        pulumi.runtime.setAllConfig(asTheCliPassesIt(required), secrets);
        assert.equal(comparable(loadConfig()), bare);
    });
}

/**
 * One row per documented key: a stack configuration with a good value that loads, one with a bad value, and what
 * the message must carry besides the key: the rule (a pattern) and an example of a good value (verbatim).
 */
interface KeyCase {
    good: Record<string, string>;
    bad: Record<string, string>;
    rule: RegExp;
    example: string;
    /** Managed database mode: the stack configuration carries no databaseUrl. */
    managed?: boolean;
}

const CERTIFICATE = "arn:aws:acm:ap-southeast-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
const TOKEN = "0123456789abcdef-ROTATE.me~";
const BOOLEAN_RULE = /must be true or false, got '(no|yes|1)'/;

const KEY_CASES: Record<string, KeyCase> = {
    databaseMode: {
        good: { databaseMode: "external" },
        bad: { databaseMode: "rds" },
        rule: /must be managed or external/,
        example: "pulumi config set databaseMode managed",
    },
    databaseModeSwitch: {
        good: { databaseModeSwitch: "external-to-managed" },
        bad: { databaseModeSwitch: "swap" },
        rule: /must be external-to-managed or managed-to-external/,
        example: "pulumi config set databaseModeSwitch external-to-managed",
    },
    databaseUrl: {
        good: { databaseUrl: "postgresql://app:pw@db.example.com:5432/app" },
        bad: { databaseUrl: "mysql://app:s3cret@db.example.com/app" },
        rule: /must look like postgresql:\/\//,
        example: "postgresql://USER:PASSWORD@HOST:5432/DATABASE",
    },
    databaseMaxConnections: {
        good: { databaseMaxConnections: "200", appMaxReplicas: "20" },
        bad: { databaseMaxConnections: "many" },
        rule: /'many' is not a number; must be a whole number from 10 to 262143/,
        example: "pulumi config set databaseMaxConnections 100",
    },
    isolatedSubnetCidrs: {
        good: { isolatedSubnetCidrs: '["10.0.201.0/24","10.0.202.0/24"]' },
        bad: { isolatedSubnetCidrs: "10.0.101.0/24" },
        rule: /must be a list of strings such as .*, got the plain string '10\.0\.101\.0\/24'/,
        example: '["10.0.101.0/24","10.0.102.0/24"]',
        managed: true,
    },
    databasePostgresVersion: {
        good: { databasePostgresVersion: "16" },
        bad: { databasePostgresVersion: "14" },
        rule: /'14' is not supported; use one of/,
        example: "15 (standard support until",
        managed: true,
    },
    databaseInstanceClass: {
        good: { databaseInstanceClass: "db.t4g.small" },
        bad: { databaseInstanceClass: "t4g.micro" },
        rule: /an RDS instance class/,
        example: "db.t4g.micro",
        managed: true,
    },
    databaseStorageGb: {
        good: { databaseStorageGb: "50" },
        bad: { databaseStorageGb: "lots" },
        rule: /'lots' is not a number; must be a whole number from 20 to 65536/,
        example: "pulumi config set databaseStorageGb 20",
        managed: true,
    },
    databaseMaxStorageGb: {
        good: { databaseMaxStorageGb: "200" },
        bad: { databaseMaxStorageGb: "21" },
        rule: /must be a whole number from 22 to 65536, got 21/,
        example: "a good value: 100",
        managed: true,
    },
    databaseDeletionProtection: {
        good: { databaseDeletionProtection: "false" },
        bad: { databaseDeletionProtection: "no" },
        rule: BOOLEAN_RULE,
        example: "pulumi config set databaseDeletionProtection true",
        managed: true,
    },
    databaseFinalSnapshot: {
        good: { databaseFinalSnapshot: "false" },
        bad: { databaseFinalSnapshot: "yes" },
        rule: BOOLEAN_RULE,
        example: "pulumi config set databaseFinalSnapshot true",
        managed: true,
    },
    databaseApplyImmediately: {
        good: { databaseApplyImmediately: "false" },
        bad: { databaseApplyImmediately: "1" },
        rule: BOOLEAN_RULE,
        example: "pulumi config set databaseApplyImmediately true",
        managed: true,
    },
    databasePasswordRotation: {
        good: { databasePasswordRotation: "2026-12-07" },
        bad: { databasePasswordRotation: "next week" },
        rule: /up to 64 letters, digits and \. _ : -/,
        example: "pulumi config set databasePasswordRotation 2026-12-07",
        managed: true,
    },
    "aws:region": {
        good: { "aws:region": "eu-west-1" },
        bad: { "aws:region": "Singapore" },
        rule: /an AWS region name/,
        example: "ap-southeast-1",
    },
    namePrefix: {
        good: { namePrefix: "shop-api" },
        bad: { namePrefix: "FastAPI" },
        rule: /3-24 characters: lower-case letters, digits and -, starting with a letter, not ending with -/,
        example: "fastapi-app",
    },
    vpcCidr: {
        good: { vpcCidr: "10.0.0.0/17" },
        bad: { vpcCidr: "10.0.0.0" },
        rule: /is not an IPv4 CIDR block/,
        example: "10.0.0.0/16",
    },
    availabilityZones: {
        good: { availabilityZones: '["ap-southeast-1a","ap-southeast-1c"]' },
        bad: { availabilityZones: "ap-southeast-1a" },
        rule: /must be a list of strings such as .*, got the plain string 'ap-southeast-1a'/,
        example: '["ap-southeast-1a","ap-southeast-1b"]',
    },
    publicSubnetCidrs: {
        good: { publicSubnetCidrs: '["10.0.3.0/24","10.0.4.0/24"]' },
        bad: { publicSubnetCidrs: '["10.0.1.0/24"]' },
        rule: /needs at least two blocks, one per availability zone/,
        example: '["10.0.1.0/24","10.0.2.0/24"]',
    },
    kubernetesVersion: {
        good: { kubernetesVersion: "1.35" },
        bad: { kubernetesVersion: "1.30" },
        rule: /'1\.30' is not supported; use one of/,
        example: "1.36 (standard support until",
    },
    kubernetesSupportType: {
        good: { kubernetesSupportType: "EXTENDED" },
        bad: { kubernetesSupportType: "LONG" },
        rule: /must be STANDARD .* or EXTENDED/,
        example: "STANDARD",
    },
    controlPlaneLogRetentionDays: {
        good: { controlPlaneLogRetentionDays: "90" },
        bad: { controlPlaneLogRetentionDays: "45" },
        rule: /must be one of the periods CloudWatch Logs accepts/,
        example: "a good value: 30",
    },
    nodeInstanceType: {
        good: { nodeInstanceType: "m6i.large" },
        bad: { nodeInstanceType: "t3medium" },
        rule: /an EC2 instance type, a family and a size joined by a dot/,
        example: "t3.medium",
    },
    nodeCapacityType: {
        good: { nodeCapacityType: "SPOT" },
        bad: { nodeCapacityType: "spot" },
        rule: /expected ON_DEMAND or SPOT/,
        example: "pulumi config set nodeCapacityType ON_DEMAND",
    },
    nodeDesiredSize: {
        good: { nodeDesiredSize: "3" },
        bad: { nodeDesiredSize: "abc" },
        rule: /'abc' is not a number; must be a whole number from 0 to 100/,
        example: "pulumi config set nodeDesiredSize 2",
    },
    nodeMinSize: {
        good: { nodeMinSize: "3", nodeDesiredSize: "3" },
        bad: { nodeMinSize: "1" },
        rule: /must be at least 2: the service's pods run on two nodes/,
        example: "a good value: 2",
    },
    nodeMaxSize: {
        good: { nodeMaxSize: "5" },
        bad: { nodeMaxSize: "2" },
        rule: /must be at least 3: draining one of two nodes needs a third/,
        example: "a good value: 3",
    },
    nodeDiskSizeGb: {
        good: { nodeDiskSizeGb: "50" },
        bad: { nodeDiskSizeGb: "8" },
        rule: /must be a whole number from 20 to 16384, got 8/,
        example: "a good value: 20",
    },
    clusterAdmins: {
        good: { clusterAdmins: '["arn:aws:iam::123456789012:role/ops"]' },
        bad: { clusterAdmins: '["alice"]' },
        rule: /each entry an IAM role or user ARN/,
        example: "arn:aws:iam::123456789012:role/github-deploy",
    },
    image: {
        good: { image: `123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/fastapi-app@sha256:${"a".repeat(64)}` },
        bad: { image: "fastapi-app:latest" },
        rule: /an image by digest/,
        example: "fastapi-app@sha256:<64 hex digits>",
    },
    appMinReplicas: {
        good: { appMinReplicas: "3" },
        bad: { appMinReplicas: "1" },
        rule: /must be at least 2: with one pod/,
        example: "a good value: 2",
    },
    appMaxReplicas: {
        good: { appMaxReplicas: "8" },
        bad: { appMaxReplicas: "1" },
        rule: /appMaxReplicas \(1\) must be at least appMinReplicas \(2\)/,
        example: "a good value: 2",
    },
    appTargetCpuPercent: {
        good: { appTargetCpuPercent: "50" },
        bad: { appTargetCpuPercent: "150" },
        rule: /must be a whole number from 10 to 100, got 150/,
        example: "a good value: 70",
    },
    certificateArn: {
        good: { certificateArn: CERTIFICATE, publicHostname: "api.example.com" },
        bad: { certificateArn: "arn:aws:acm:ap-southeast-1:123:certificate", publicHostname: "api.example.com" },
        rule: /is not an ACM certificate ARN/,
        example: "arn:aws:acm:ap-southeast-1:123456789012:certificate/<uuid>",
    },
    publicHostname: {
        good: { publicHostname: "api.example.com" },
        bad: { publicHostname: "https://api.example.com" },
        rule: /is not a lower-case DNS name .*\(no scheme, port or path\)/,
        example: "api.example.com",
    },
    keepHttpPort: {
        good: { certificateArn: CERTIFICATE, publicHostname: "api.example.com", keepHttpPort: "true" },
        bad: { keepHttpPort: "yes" },
        rule: BOOLEAN_RULE,
        example: "pulumi config set keepHttpPort false",
    },
    allowedSourceRanges: {
        good: { allowedSourceRanges: '["203.0.113.0/24"]' },
        bad: { allowedSourceRanges: "203.0.113.0/24" },
        rule: /must be a list of strings such as .*, got the plain string '203\.0\.113\.0\/24'/,
        example: '["203.0.113.0/24"]',
    },
    apiTokens: {
        good: { apiTokens: `${TOKEN}1,${TOKEN}2` },
        bad: { apiTokens: "s3cret" },
        rule: /token 1 of 1 is not 16-512 characters of A-Z a-z 0-9/,
        example: 'pulumi config set --secret apiTokens "$(openssl rand -hex 24)"',
    },
    apiReadsNeedToken: {
        good: { apiReadsNeedToken: "true" },
        bad: { apiReadsNeedToken: "1" },
        rule: BOOLEAN_RULE,
        example: "pulumi config set apiReadsNeedToken false",
    },
    metricsTokens: {
        good: { metricsTokens: TOKEN },
        bad: { metricsTokens: "s3cret" },
        rule: /token 1 of 1 is not 16-512 characters of A-Z a-z 0-9/,
        example: 'pulumi config set --secret metricsTokens "$(openssl rand -hex 24)"',
    },
};

test("the table of good and bad values covers every documented key", () => {
    assert.deepEqual(Object.keys(KEY_CASES).sort(), documentedKeys().sort());
});

for (const [key, { good, bad, rule, example, managed = false }] of Object.entries(KEY_CASES)) {
    test(`${key}: a good value loads; a bad one stops loadConfig naming the key, the rule and a good value`, () => {
        setStackConfig(good, !managed);
        assert.doesNotThrow(() => loadConfig());
        setStackConfig(bad, !managed);
        assert.throws(
            () => loadConfig(),
            (error: Error) => {
                assert.ok(error instanceof ConfigError, `a ConfigError, not ${error.name}: ${error.message}`);
                // The Pulumi runtime prints a RunError's message alone: no stack trace.
                assert.ok(pulumi.RunError.isInstance(error), "a RunError");
                assert.ok(error.message.startsWith(`config '${key}': `), error.message);
                assert.match(error.message, rule);
                assert.ok(error.message.includes(example), `${error.message}\nnames no good value like ${example}`);
                assert.doesNotMatch(error.message, /error serializing|s3cret/);
                return true;
            },
        );
    });
}
