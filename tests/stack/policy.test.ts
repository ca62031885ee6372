// The policy pack's rules (policy/policies.ts), each validate function called on passing and failing resources as
// the engine hands them over: type, input properties, resource options, the policy's configuration.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import type { ResourceValidationArgs } from "@pulumi/policy";
import { EXTENDED_SUPPORT_DISABLED, MIGRATOR_SECRET as POLICY_MIGRATOR_SECRET, policies } from "../../policy/policies";
import { MIGRATOR_SECRET } from "../../workload";
import type { RecordedResource } from "./mocks";
import { renderInOwnProcess } from "./render-process";

interface Resource {
    type: string;
    props: Record<string, unknown>;
    protect?: boolean;
    config?: Record<string, unknown>;
}

/** The violations one policy reports for one resource. */
async function violations(policyName: string, resource: Resource): Promise<string[]> {
    const policy = policies.find((candidate) => candidate.name === policyName);
    assert.ok(policy, policyName);
    const validate = policy.validateResource;
    assert.ok(typeof validate === "function", `${policyName} validates resources`);
    const reported: string[] = [];
    const args = {
        type: resource.type,
        props: resource.props,
        urn: `urn:pulumi:dev::fastapi-app::${resource.type}::subject`,
        name: "subject",
        opts: {
            protect: resource.protect ?? false,
            ignoreChanges: [],
            aliases: [],
            additionalSecretOutputs: [],
            customTimeouts: {},
        },
        stackTags: new Map<string, string>(),
        getConfig: () => resource.config ?? {},
        notApplicable: () => {
            throw new Error("not applicable");
        },
    } as unknown as ResourceValidationArgs;
    await validate(args, (message) => reported.push(message));
    return reported;
}

const RDS = "aws:rds/instance:Instance";
const goodInstance: Resource = {
    type: RDS,
    props: { storageEncrypted: true, deletionProtection: true, engineLifecycleSupport: EXTENDED_SUPPORT_DISABLED },
    protect: true,
};

describe("the RDS instance", () => {
    test("encrypted: passes, and an unencrypted one is reported", async () => {
        assert.deepEqual(await violations("rds-instance-encrypted", goodInstance), []);
        assert.match(
            (await violations("rds-instance-encrypted", { ...goodInstance, props: { storageEncrypted: false } }))[0],
            /storageEncrypted must be true/,
        );
    });
    test("deletion-protected twice: RDS deletion protection and Pulumi's protect", async () => {
        assert.deepEqual(await violations("rds-instance-deletion-protected", goodInstance), []);
        const unprotected = await violations("rds-instance-deletion-protected", {
            type: RDS,
            props: { deletionProtection: false },
            protect: false,
        });
        assert.equal(unprotected.length, 2);
        assert.match(unprotected[0], /deletionProtection must be true/);
        assert.match(unprotected[1], /protect must be set/);
    });
    test("the teardown configuration lets step 1 release the protection", async () => {
        const released: Resource = { type: RDS, props: { deletionProtection: false }, protect: false };
        assert.deepEqual(
            await violations("rds-instance-deletion-protected", { ...released, config: { teardown: true } }),
            [],
        );
        const file = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "policy", "teardown.json"), "utf8"));
        assert.deepEqual(file, { "rds-instance-deletion-protected": { teardown: true } });
    });
    test("extended support off: passes, and the default (extended support) is reported", async () => {
        assert.deepEqual(await violations("rds-instance-extended-support-off", goodInstance), []);
        assert.match(
            (
                await violations("rds-instance-extended-support-off", {
                    type: RDS,
                    props: { engineLifecycleSupport: "open-source-rds-extended-support" },
                })
            )[0],
            /must be open-source-rds-extended-support-disabled/,
        );
        assert.equal((await violations("rds-instance-extended-support-off", { type: RDS, props: {} })).length, 1);
    });
    test("other types are left alone", async () =>
        assert.deepEqual(await violations("rds-instance-encrypted", { type: "aws:s3/bucket:Bucket", props: {} }), []));
});

describe("the Kubernetes provider", () => {
    const provider = "pulumi:providers:kubernetes";
    test("without deleteUnreachable passes; with it (as a boolean or as the string the SDK sends) is reported", async () => {
        assert.deepEqual(
            await violations("kubernetes-provider-without-delete-unreachable", {
                type: provider,
                props: { kubeconfig: "{}" },
            }),
            [],
        );
        for (const value of [true, "true"]) {
            assert.match(
                (
                    await violations("kubernetes-provider-without-delete-unreachable", {
                        type: provider,
                        props: { deleteUnreachable: value },
                    })
                )[0],
                /deleteUnreachable belongs to the recovery procedure/,
            );
        }
    });
});

describe("the service's Deployment", () => {
    const deployment = (pod: Record<string, unknown>): Resource => ({
        type: "kubernetes:apps/v1:Deployment",
        props: { spec: { template: { spec: pod } } },
    });
    const fromSecret = (name: string): Record<string, unknown> => ({
        containers: [{ env: [{ name: "DATABASE_URL", valueFrom: { secretKeyRef: { name, key: "DATABASE_URL" } } }] }],
    });
    test("reading the service's Secret passes; the migrator's, by env, envFrom or a volume, is reported", async () => {
        const policy = "service-without-master-credentials";
        assert.deepEqual(await violations(policy, deployment(fromSecret("fastapi-database"))), []);
        for (const pod of [
            fromSecret(MIGRATOR_SECRET),
            { containers: [{ envFrom: [{ secretRef: { name: MIGRATOR_SECRET } }] }] },
            { volumes: [{ name: "db", secret: { secretName: MIGRATOR_SECRET } }] },
        ]) {
            assert.match((await violations(policy, deployment(pod)))[0], /only the migration Job may/);
        }
    });
    test("names the Secret the stack declares", () => assert.equal(POLICY_MIGRATOR_SECRET, MIGRATOR_SECRET));
});

describe("log groups", () => {
    const group = "aws:cloudwatch/logGroup:LogGroup";
    test("with a retention passes; without one, or with 0 (never expire), is reported", async () => {
        assert.deepEqual(await violations("log-group-retention", { type: group, props: { retentionInDays: 30 } }), []);
        assert.equal((await violations("log-group-retention", { type: group, props: {} })).length, 1);
        assert.equal(
            (await violations("log-group-retention", { type: group, props: { retentionInDays: 0 } })).length,
            1,
        );
    });
});

describe("the pack", () => {
    test("only its entry file constructs the PolicyPack (its constructor starts serving)", () => {
        const directory = path.join(__dirname, "..", "..", "policy");
        const constructing = fs
            .readdirSync(directory)
            .filter((file) => file.endsWith(".ts"))
            .filter((file) => /new PolicyPack\(/.test(fs.readFileSync(path.join(directory, file), "utf8")));
        assert.deepEqual(constructing, ["index.ts"]);
    });
    test("every policy is mandatory and named once", () => {
        assert.equal(new Set(policies.map((p) => p.name)).size, policies.length);
        assert.ok(policies.every((p) => p.enforcementLevel === "mandatory"));
    });
});

describe("the stack as rendered passes every policy", () => {
    for (const withDatabaseUrl of [false, true]) {
        test(`${withDatabaseUrl ? "external" : "managed"} mode`, async () => {
            const resources = await renderInOwnProcess<RecordedResource[]>({ managedDatabase: !withDatabaseUrl });
            const found: string[] = [];
            for (const resource of resources) {
                const props = JSON.parse(JSON.stringify(resource.inputs)) as Record<string, unknown>;
                for (const policy of policies) {
                    const reported = await violations(policy.name, {
                        type: resource.type,
                        props,
                        protect: resource.options.protect,
                    });
                    found.push(...reported.map((message) => `${policy.name}: ${resource.type} ${message}`));
                }
            }
            assert.deepEqual(found, []);
            assert.ok(resources.some((r) => r.type === "aws:cloudwatch/logGroup:LogGroup"));
        });
    }
});
