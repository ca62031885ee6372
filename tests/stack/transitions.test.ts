// Transitions between two states of a stack: the program rendered in state A and in state B, each in a process of
// its own (tests/stack/render.ts), compared by URN with the providers' replace-forcing properties (tests/stack/plan.ts):
// what `pulumi up` would create, update, replace (delete-first or not) and delete. The RDS instance is never replaced
// or deleted except by the two-step teardown.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { RecordedResource } from "./mocks";
import { renderInOwnProcess } from "./render-process";
import type { World } from "./render";
import { Plan, PlannedResource, REPLACE_RULES, STATEFUL_TYPES, destroyOrder, plan, stateful } from "./plan";

const CLUSTER = "fastapi-app-cluster";
const INSTANCE = "fastapi-app-db";
const RDS_INSTANCE = "aws:rds/instance:Instance::fastapi-app";
const PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup::fastapi-app";
const SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup::fastapi-app";
const CERTIFICATE = "arn:aws:acm:ap-southeast-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment::fastapi-deployment";
const JOB = "kubernetes:batch/v1:Job::fastapi-migrate";
const SERVICE_SECRET = "kubernetes:core/v1:Secret::fastapi-database";
const MIGRATOR_SECRET = "kubernetes:core/v1:Secret::fastapi-database-migrator";
const SERVICE_PASSWORD = "random:index/randomPassword:RandomPassword::fastapi-app-service";
const FINGERPRINT_KEY = "random:index/randomPassword:RandomPassword::fastapi-database-fingerprint-key";
const ALICE = "arn:aws:iam::123456789012:user/alice";
const BOB = "arn:aws:iam::123456789012:role/ops/bob";

async function render(world: World): Promise<RecordedResource[]> {
    return renderInOwnProcess<RecordedResource[]>(world);
}

/** The program's error when a render stops (stderr of its process). */
async function refusal(world: World): Promise<string> {
    try {
        await render(world);
    } catch (error) {
        return (error as { stderr?: string }).stderr ?? String(error);
    }
    assert.fail("the render went through; expected the program to stop");
}

const deployed = { eksClusters: { [CLUSTER]: "1.36" } };
const managed = (config: Record<string, string> = {}, running = "15.8"): World => ({
    config,
    managedDatabase: true,
    ...deployed,
    rdsInstances: { [INSTANCE]: running },
});
const external = (config: Record<string, string> = {}): World => ({ config, ...deployed });

/** Nothing replaced delete-first, nothing deleted, among the stateful resources. */
function assertNoStatefulLoss(result: Plan): void {
    assert.deepEqual(
        stateful(result.replace.filter((r) => r.deleteFirst).map((r) => r.key)),
        [],
        "no stateful resource replaced delete-first",
    );
    assert.deepEqual(stateful(result.delete), [], "no stateful resource deleted");
}

describe("the replace-forcing table", () => {
    test("covers every stateful type, each entry citing its source in the provider", () => {
        for (const type of STATEFUL_TYPES) {
            assert.ok(REPLACE_RULES[type], type);
        }
        for (const [type, rule] of Object.entries(REPLACE_RULES)) {
            assert.match(rule.source, /(terraform-provider-|pulumi-)[\w-]+ \S+\.(go|ts)/, type);
            assert.ok(rule.replaceOn.length > 0, type);
        }
    });
    test("the classifier sees a replacement, delete-first with an explicit name, and a protected delete", () => {
        const instance = (identifier: string, protect: boolean): PlannedResource => ({
            type: "aws:rds/instance:Instance",
            name: "db",
            inputs: { identifier, instanceClass: "db.t4g.micro" },
            options: { protect },
        });
        const replaced = plan([instance("a", true)], [instance("b", true)]);
        assert.deepEqual(replaced.replace, [{ key: "aws:rds/instance:Instance::db", deleteFirst: true }]);
        assert.deepEqual(replaced.refusedByProtect, ["aws:rds/instance:Instance::db"]);
        const deleted = plan([instance("a", false)], []);
        assert.deepEqual([deleted.delete, deleted.refusedByProtect], [["aws:rds/instance:Instance::db"], []]);
    });
});

describe("an unchanged commit is a no-op", () => {
    let fresh: RecordedResource[];
    let again: RecordedResource[];
    let externalFresh: RecordedResource[];
    let externalAgain: RecordedResource[];
    before(async () => {
        [fresh, again, externalFresh, externalAgain] = await Promise.all([
            render({ managedDatabase: true }),
            render(managed()),
            render({}),
            render(external()),
        ]);
    });
    test("managed: the second run, with the cluster and the instance running, changes nothing", () =>
        assert.deepEqual(plan(fresh, again), {
            create: [],
            update: [],
            replace: [],
            delete: [],
            refusedByProtect: [],
        }));
    test("external: the same", () =>
        assert.deepEqual(plan(externalFresh, externalAgain), {
            create: [],
            update: [],
            replace: [],
            delete: [],
            refusedByProtect: [],
        }));
});

describe("external → managed", () => {
    test("refused without confirmation, saying what would be created", async () =>
        assert.match(
            await refusal({ managedDatabase: true, ...deployed }),
            /config 'databaseMode': the deployed stack runs the external database and this update asks for managed: it would create an empty RDS instance fastapi-app-db/,
        ));
    test("confirmed: creates the database, replaces and deletes nothing stateful", async () => {
        const [before, after] = await Promise.all([
            render(external()),
            render({ config: { databaseModeSwitch: "external-to-managed" }, managedDatabase: true, ...deployed }),
        ]);
        const result = plan(before, after);
        assert.ok(result.create.includes(RDS_INSTANCE));
        assertNoStatefulLoss(result);
        assert.deepEqual(stateful(result.replace.map((r) => r.key)), []);
    });
});

describe("managed → external", () => {
    test("refused without confirmation, saying the instance would be deleted", async () =>
        assert.match(
            await refusal({ ...external(), rdsInstances: { [INSTANCE]: "15.8" } }),
            /the deployed stack runs the managed database and this update asks for external: it would delete the RDS instance fastapi-app-db/,
        ));
    test("confirmed but still protected: the engine refuses to delete the instance", async () => {
        const [before, after] = await Promise.all([
            render(managed()),
            render({
                ...external({ databaseModeSwitch: "managed-to-external" }),
                rdsInstances: { [INSTANCE]: "15.8" },
            }),
        ]);
        const result = plan(before, after);
        assert.ok(result.delete.includes(RDS_INSTANCE));
        assert.deepEqual(stateful(result.refusedByProtect), [RDS_INSTANCE]);
    });
    test("after the protection is released with pulumi up, the switch deletes it (the two steps)", async () => {
        const [protectedRun, released, switched] = await Promise.all([
            render(managed()),
            render(managed({ databaseDeletionProtection: "false" })),
            render({
                ...external({ databaseModeSwitch: "managed-to-external" }),
                rdsInstances: { [INSTANCE]: "15.8" },
            }),
        ]);
        const release = plan(protectedRun, released);
        assert.deepEqual([release.update, release.replace, release.delete], [[RDS_INSTANCE], [], []]);
        const result = plan(released, switched);
        assert.ok(result.delete.includes(RDS_INSTANCE));
        assert.deepEqual(result.refusedByProtect, []);
    });
});

describe("PostgreSQL one major up", () => {
    let result: Plan;
    before(async () => {
        const [current, upgraded] = await Promise.all([
            render(managed()),
            render(managed({ databasePostgresVersion: "16" })),
        ]);
        result = plan(current, upgraded);
    });
    test("the instance is updated in place, never replaced", () => {
        assert.ok(result.update.includes(RDS_INSTANCE));
        assert.ok(!result.replace.some((r) => r.key === RDS_INSTANCE));
    });
    test("the parameter group is replaced create-first: the new family's group exists before the old one goes", () =>
        assert.deepEqual(
            result.replace.filter((r) => r.key === PARAMETER_GROUP),
            [{ key: PARAMETER_GROUP, deleteFirst: false }],
        ));
    test("nothing in use is replaced delete-first or deleted", () => assertNoStatefulLoss(result));
    test("a downgrade is refused, naming the running major", async () =>
        assert.match(
            await refusal(managed({}, "16.4")),
            /config 'databasePostgresVersion': the instance fastapi-app-db runs PostgreSQL 16\.4; RDS cannot downgrade to 15/,
        ));
});

describe("the first update of a stack deployed before this change (managed)", () => {
    test("the groups move to prefixed names create-first; the instance is updated, not replaced", async () => {
        const recorded = JSON.parse(
            fs.readFileSync(path.join(__dirname, "managed-before-lifecycle.rendering.json"), "utf8"),
        ) as PlannedResource[];
        const now = (await render(managed())).filter((r) => recorded.some((old) => old.type === r.type));
        const result = plan(recorded, now);
        assert.deepEqual(
            result.replace.filter((r) => stateful([r.key]).length > 0),
            [
                { key: SECURITY_GROUP, deleteFirst: false },
                { key: PARAMETER_GROUP, deleteFirst: false },
            ].sort((a, b) => a.key.localeCompare(b.key)),
        );
        assert.ok(result.update.includes(RDS_INSTANCE));
        assertNoStatefulLoss(result);
    });
});

describe("everyday changes replace nothing stateful", () => {
    const cases: [string, World, World, string[]][] = [
        [
            "Kubernetes one minor up: the cluster and the node group are updated",
            { config: { kubernetesVersion: "1.35" }, eksClusters: { [CLUSTER]: "1.35" } },
            { config: { kubernetesVersion: "1.36" }, eksClusters: { [CLUSTER]: "1.35" } },
            ["eks:index:Cluster::fastapi-app", "eks:index:ManagedNodeGroup::fastapi-app-nodes"],
        ],
        [
            "instance class: the instance is updated (applied now)",
            managed(),
            managed({ databaseInstanceClass: "db.t4g.small" }),
            [RDS_INSTANCE],
        ],
        [
            "certificate added: no stateful resource changes",
            external(),
            external({ certificateArn: CERTIFICATE, publicHostname: "api.example.com" }),
            [],
        ],
        [
            "admin added: the cluster's access entries only",
            external({ clusterAdmins: JSON.stringify([ALICE]) }),
            external({ clusterAdmins: JSON.stringify([ALICE, BOB]) }),
            ["eks:index:Cluster::fastapi-app"],
        ],
        [
            "admin removed: the cluster's access entries only",
            external({ clusterAdmins: JSON.stringify([ALICE, BOB]) }),
            external({ clusterAdmins: JSON.stringify([ALICE]) }),
            ["eks:index:Cluster::fastapi-app"],
        ],
    ];
    for (const [name, from, to, updated] of cases) {
        test(name, async () => {
            const [a, b] = await Promise.all([render(from), render(to)]);
            const result = plan(a, b);
            assert.deepEqual(result.replace, [], "nothing replaced");
            assertNoStatefulLoss(result);
            assert.deepEqual(stateful(result.update), updated);
            assert.deepEqual(stateful(result.create), []);
        });
    }
});

describe("database password rotation (managed): the pods roll to the new password, nothing else changes", () => {
    let result: Plan;
    let after: RecordedResource[];
    before(async () => {
        let current: RecordedResource[];
        [current, after] = await Promise.all([
            render(managed()),
            render(managed({ databasePasswordRotation: "2026-12-07" })),
        ]);
        result = plan(current, after);
    });
    test("a new service password; the Job that sets it runs again (replaced); the pods roll (Deployment updated)", () => {
        assert.deepEqual(result.replace, [
            { key: JOB, deleteFirst: true },
            { key: SERVICE_SECRET, deleteFirst: true },
            { key: SERVICE_PASSWORD, deleteFirst: false },
        ]);
        assert.deepEqual(result.update, [DEPLOYMENT]);
        assert.deepEqual([result.create, result.delete, result.refusedByProtect], [[], [], []]);
    });
    test("the RDS instance, the master password and the migrator's Secret are untouched", () => {
        const touched = [...result.update, ...result.replace.map((r) => r.key)];
        for (const key of [RDS_INSTANCE, MIGRATOR_SECRET, "random:index/randomPassword:RandomPassword::fastapi-app"]) {
            assert.ok(!touched.includes(key), key);
        }
    });
    test("the pods roll only after the Job has set the password: the Deployment depends on the Job", () => {
        const deployment = after.find((r) => `${r.type}::${r.name}` === DEPLOYMENT);
        const job = after.find((r) => `${r.type}::${r.name}` === JOB);
        assert.ok(deployment && job);
        assert.ok(deployment.dependencies.includes(job.urn));
    });
});

describe("external database: a new URL rolls the pods", () => {
    test("the Secret, a Job run again and the Deployment; nothing stateful", async () => {
        const moved = "postgresql://app:another-password@db2.example.internal:5432/app";
        const [a, b] = await Promise.all([render(external()), render(external({ databaseUrl: moved }))]);
        const result = plan(a, b);
        assert.deepEqual(result.replace, [
            { key: JOB, deleteFirst: true },
            { key: SERVICE_SECRET, deleteFirst: true },
        ]);
        assert.deepEqual(result.update, [DEPLOYMENT]);
        assertNoStatefulLoss(result);
    });
});

describe("the first update of a managed stack deployed before the service had its own role", () => {
    test("the migrator's Secret and the service's password are created; the Job makes the role; the pods roll", async () => {
        const recorded = JSON.parse(
            fs.readFileSync(path.join(__dirname, "managed-before-credentials.rendering.json"), "utf8"),
        ) as PlannedResource[];
        const kinds = new Set(recorded.map((r) => r.type));
        const now = (await render(managed())).filter(
            (r) => kinds.has(r.type) && r.name !== "fastapi-metrics-scraper-token",
        );
        const result = plan(recorded, now);
        assert.deepEqual(result.create, [MIGRATOR_SECRET, FINGERPRINT_KEY, SERVICE_PASSWORD].sort());
        assert.deepEqual(result.replace, [
            { key: JOB, deleteFirst: true },
            { key: SERVICE_SECRET, deleteFirst: true },
        ]);
        assert.deepEqual(result.update, [DEPLOYMENT]);
        assert.deepEqual(result.delete, []);
        assertNoStatefulLoss(result);
    });
});

describe("pulumi destroy", () => {
    const teardown: RecordedResource[] = [];
    let protectedRun: RecordedResource[];
    before(async () => {
        let released: RecordedResource[];
        [protectedRun, released] = await Promise.all([
            render(managed()),
            render(managed({ databaseDeletionProtection: "false" })),
        ]);
        teardown.push(...released);
    });
    test("of a protected stack stops at the RDS instance alone", () =>
        assert.deepEqual(plan(protectedRun, []).refusedByProtect, [RDS_INSTANCE]));
    test("after the protection is released, deletes everything and the engine refuses nothing", () => {
        const result = plan(teardown, []);
        assert.equal(result.delete.length, teardown.length);
        assert.deepEqual(result.refusedByProtect, []);
    });
    test("leaves nothing behind that blocks the next deploy: each goes before what it needs", () => {
        const order = destroyOrder(teardown);
        const before = (first: string, then: string): void =>
            assert.ok(
                order.indexOf(first) >= 0 && order.indexOf(first) < order.indexOf(then),
                `${first} before ${then}`,
            );
        // The cloud controller deletes the load balancer only while the cluster and its nodes run.
        for (const then of [
            "eks:index:ManagedNodeGroup::fastapi-app-nodes",
            "eks:index:Cluster::fastapi-app",
            "awsx:ec2:Vpc::fastapi-app",
        ]) {
            before("kubernetes:core/v1:Service::fastapi-service", then);
        }
        // AWS refuses to delete a group an instance still uses; left behind, its fixed name would stop the next create.
        for (const then of [
            "aws:rds/subnetGroup:SubnetGroup::fastapi-app",
            SECURITY_GROUP,
            PARAMETER_GROUP,
            "aws:cloudwatch/logGroup:LogGroup::fastapi-app-postgresql",
        ]) {
            before(RDS_INSTANCE, then);
        }
        // A Job still running would hold the credentials it reads.
        before(JOB, MIGRATOR_SECRET);
        before(JOB, SERVICE_SECRET);
    });
});
