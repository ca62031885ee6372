// The program as a second `pulumi up` sees it: each render runs in a process of its own (tests/stack/render.ts), and
// two renders are compared as the engine compares a run with the state, by resource and inputs, in any order.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as path from "path";
import { Json, RecordedResource, canonicalJson } from "./mocks";
import { renderInOwnProcess } from "./render-process";
import type { World } from "./render";
import { contentHash } from "../../build-context";
import { DATABASE_FINGERPRINT_ANNOTATION } from "../../workload";

const PROJECT_DIRECTORY = path.join(__dirname, "..", "..");
const ALICE = "arn:aws:iam::123456789012:user/alice";
const DEPLOY = "arn:aws:iam::123456789012:role/github-deploy";
const BOB = "arn:aws:iam::123456789012:role/ops/bob";

async function render(world: World): Promise<RecordedResource[]> {
    return renderInOwnProcess<RecordedResource[]>(world);
}

/** Each resource by `type::name`, with its inputs in canonical form. */
function byResource(resources: RecordedResource[]): Map<string, string> {
    const entries = resources.map((r): [string, string] => [`${r.type}::${r.name}`, canonicalJson(r.inputs, "marked")]);
    assert.equal(new Set(entries.map(([key]) => key)).size, entries.length, "every resource declared once");
    return new Map(entries);
}

/** The resources whose inputs differ between two renders, and those only one of them declares. */
function changes(before: RecordedResource[], after: RecordedResource[]): string[] {
    const [a, b] = [byResource(before), byResource(after)];
    return [...new Set([...a.keys(), ...b.keys()])].filter((key) => a.get(key) !== b.get(key)).sort();
}

function accessEntries(resources: RecordedResource[]): Json {
    const cluster = resources.find((r) => r.type === "eks:index:Cluster");
    assert.ok(cluster, "the EKS cluster is declared");
    return (cluster.inputs as Json).accessEntries as Json;
}

const admins = (list: string[]): World => ({ config: { clusterAdmins: JSON.stringify(list) } });

describe("a second pulumi up of an unchanged commit changes nothing", () => {
    let first: RecordedResource[];
    let second: RecordedResource[];
    before(async () => {
        // The first run finds nothing; the second finds what the first created that the program looks up: the cluster in EKS.
        [first, second] = await Promise.all([render({}), render({ eksClusters: { "fastapi-app-cluster": "1.36" } })]);
    });
    test("the same resources with the same inputs, the image included", () =>
        assert.deepEqual(changes(first, second), []));
    test("the image is declared in both runs, by its content tag", () => {
        for (const run of [first, second]) {
            const image = run.filter((r) => r.type === "docker-build:index:Image");
            assert.equal(image.length, 1);
            const tag = contentHash(path.join(PROJECT_DIRECTORY, "app"), "linux/amd64");
            assert.match((image[0].inputs as Json).tags[0], new RegExp(`:${tag}$`));
        }
    });
});

describe("editing clusterAdmins touches only the edited admin's access entry", () => {
    let original: RecordedResource[];
    let reordered: RecordedResource[];
    let removed: RecordedResource[];
    before(async () => {
        [original, reordered, removed] = await Promise.all([
            render(admins([ALICE, DEPLOY, BOB])),
            render(admins([BOB, ALICE, DEPLOY])),
            render(admins([ALICE, BOB])),
        ]);
    });
    test("reordering the list changes nothing at all", () => assert.deepEqual(changes(original, reordered), []));
    test("removing one admin removes exactly its entry; every other entry keeps its key and principal", () => {
        assert.deepEqual(
            changes(original, removed),
            ["eks:index:Cluster::fastapi-app"],
            "only the cluster's access entries change",
        );
        const [before, after] = [accessEntries(original), accessEntries(removed)];
        const gone = Object.keys(before).filter((key) => !(key in after));
        assert.deepEqual(
            gone.map((key) => before[key].principalArn),
            [DEPLOY],
        );
        assert.deepEqual(
            Object.keys(after).filter((key) => !(key in before)),
            [],
            "no entry is added or renamed",
        );
        for (const key of Object.keys(after)) {
            assert.equal(canonicalJson(after[key], "marked"), canonicalJson(before[key], "marked"), key);
        }
    });
});

describe("a Kubernetes upgrade of more than one minor is refused before EKS is asked for anything", () => {
    test("the program stops with the way to upgrade, naming the running and the next version", async () => {
        await assert.rejects(
            render({ config: { kubernetesVersion: "1.36" }, eksClusters: { "fastapi-app-cluster": "1.34" } }),
            (error: Error & { stderr?: string }) => {
                assert.match(
                    error.stderr ?? "",
                    /config 'kubernetesVersion': the cluster runs 1\.34; EKS upgrades one minor version at a time\. Set 1\.35, run pulumi up, then set 1\.36/,
                );
                return true;
            },
        );
    });
    test("one minor up from the running version renders, cluster and nodes at the new version", async () => {
        const upgrade = await render({
            config: { kubernetesVersion: "1.36" },
            eksClusters: { "fastapi-app-cluster": "1.35" },
        });
        const inputs = (type: string): Json => upgrade.find((r) => r.type === type)?.inputs ?? {};
        assert.equal(inputs("eks:index:Cluster").version, "1.36");
        assert.equal(inputs("eks:index:ManagedNodeGroup").version, "1.36");
    });
});

describe("the database URL's fingerprint changes with the URL, and only with it", () => {
    const fingerprints = (run: RecordedResource[]): string[] =>
        run
            .filter((r) => r.type === "kubernetes:apps/v1:Deployment" || r.type === "kubernetes:batch/v1:Job")
            .map(
                (r) => (r.inputs as Json).spec.template.metadata.annotations[DATABASE_FINGERPRINT_ANNOTATION] as string,
            );
    const managed = (config: Record<string, string> = {}): World => ({
        config,
        managedDatabase: true,
        eksClusters: { "fastapi-app-cluster": "1.36" },
        rdsInstances: { "fastapi-app-db": "15.8" },
    });
    let runs: Record<
        "external" | "externalAgain" | "moved" | "managed" | "managedAgain" | "rotated",
        RecordedResource[]
    >;
    before(async () => {
        const moved = "postgresql://app:another-password@db2.example.internal:5432/app";
        const [external, externalAgain, movedRun, managedRun, managedAgain, rotated] = await Promise.all([
            render({}),
            render({ eksClusters: { "fastapi-app-cluster": "1.36" } }),
            render({ config: { databaseUrl: moved } }),
            render(managed()),
            render(managed()),
            render(managed({ databasePasswordRotation: "2026-12-07" })),
        ]);
        runs = { external, externalAgain, moved: movedRun, managed: managedRun, managedAgain, rotated };
    });
    test("the Deployment's and the Job's pod templates carry the same fingerprint, not the URL", () => {
        for (const run of Object.values(runs)) {
            const [first, second] = fingerprints(run);
            assert.match(first, /^[0-9a-f]{64}$/);
            assert.equal(second, first);
        }
    });
    test("an unchanged commit keeps it, in either mode", () => {
        assert.deepEqual(fingerprints(runs.externalAgain), fingerprints(runs.external));
        assert.deepEqual(fingerprints(runs.managedAgain), fingerprints(runs.managed));
    });
    test("a new external URL changes it: the Secret, the Job and the pods, nothing else", () => {
        assert.notDeepEqual(fingerprints(runs.moved), fingerprints(runs.external));
        assert.deepEqual(changes(runs.external, runs.moved), [
            "kubernetes:apps/v1:Deployment::fastapi-deployment",
            "kubernetes:batch/v1:Job::fastapi-migrate",
            "kubernetes:core/v1:Secret::fastapi-database",
        ]);
    });
    test("a rotated managed password changes it: the password, the Secret, the Job and the pods, nothing else", () => {
        assert.notDeepEqual(fingerprints(runs.rotated), fingerprints(runs.managed));
        assert.deepEqual(changes(runs.managed, runs.rotated), [
            "kubernetes:apps/v1:Deployment::fastapi-deployment",
            "kubernetes:batch/v1:Job::fastapi-migrate",
            "kubernetes:core/v1:Secret::fastapi-database",
            "random:index/randomPassword:RandomPassword::fastapi-app-service",
        ]);
    });
});
