// No behaviour change across a refactor: for each profile, the program declares the same resources (by URN, a moved
// resource matched through its aliases), with the same types, inputs and dependencies, as in snapshots/<profile>.json.
// A deliberate change is recorded again with:
//   UPDATE_SNAPSHOTS=1 node --import tsx --test tests/stack/snapshot.test.ts
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { promisify } from "util";
import type { World } from "./render";
import type { SnapshotResource } from "./rendering";

const PROJECT_DIRECTORY = path.join(__dirname, "..", "..");
const SNAPSHOTS = path.join(__dirname, "snapshots");
const CERTIFICATE_ARN = "arn:aws:acm:ap-southeast-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";

const PROFILES: Record<string, World> = {
    external: {},
    managed: { managedDatabase: true },
    https: { managedDatabase: true, config: { certificateArn: CERTIFICATE_ARN, publicHostname: "api.example.com" } },
    spot: { config: { nodeCapacityType: "SPOT" } },
};

async function render(world: World): Promise<SnapshotResource[]> {
    const { stdout } = await promisify(execFile)(
        process.execPath,
        ["--import", "tsx", "tests/stack/render.ts", JSON.stringify({ ...world, snapshot: true })],
        { cwd: PROJECT_DIRECTORY, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
    );
    return JSON.parse(stdout) as SnapshotResource[];
}

/**
 * Every URN a resource answers to: its own, its aliases, and those the engine derives for a child from its parent's
 * aliases (a child keeps its name and type under each URN its parent was known by).
 */
function knownUrns(resources: SnapshotResource[]): Map<string, string[]> {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const known = new Map<string, string[]>();
    const urnsOf = (resource: SnapshotResource): string[] => {
        const cached = known.get(resource.urn);
        if (cached !== undefined) {
            return cached;
        }
        const parent = byUrn.get(resource.parent ?? "");
        const name = resource.urn.split("::")[3];
        const inherited =
            parent === undefined
                ? []
                : urnsOf(parent)
                      .slice(1)
                      .map((urn) => childUrn(urn, resource, name));
        const urns = [resource.urn, ...(resource.aliases ?? []), ...inherited];
        known.set(resource.urn, urns);
        return urns;
    };
    for (const resource of resources) {
        urnsOf(resource);
    }
    return known;
}

function childUrn(parentUrn: string, child: SnapshotResource, name: string): string {
    const [prefix, project, parentQualifiedType] = parentUrn.split("::");
    const parentType = parentQualifiedType.split("$").pop() ?? "";
    return [prefix, project, `${parentType}$${child.type}`, name].join("::");
}

/** The current render with each resource under the snapshot URN it answers to, dependencies translated too. */
function underSnapshotUrns(current: SnapshotResource[], expected: SnapshotResource[]): SnapshotResource[] {
    const expectedUrns = new Set(expected.map((r) => r.urn));
    const known = knownUrns(current);
    const renamed = new Map<string, string>();
    for (const resource of current) {
        const matches = (known.get(resource.urn) ?? []).filter((urn) => expectedUrns.has(urn));
        assert.ok(matches.length <= 1, `${resource.urn} answers to several snapshot URNs: ${matches.join(", ")}`);
        renamed.set(resource.urn, matches[0] ?? resource.urn);
    }
    return current
        .map((resource) => ({
            urn: renamed.get(resource.urn) ?? resource.urn,
            type: resource.type,
            inputs: resource.inputs,
            dependencies: resource.dependencies.map((urn) => renamed.get(urn) ?? urn).sort(),
        }))
        .sort((a, b) => a.urn.localeCompare(b.urn));
}

describe("every profile declares what the snapshot holds, a moved resource found through its aliases", () => {
    for (const [profile, world] of Object.entries(PROFILES)) {
        test(profile, async () => {
            const file = path.join(SNAPSHOTS, `${profile}.json`);
            const current = await render(world);
            if (process.env.UPDATE_SNAPSHOTS === "1") {
                fs.mkdirSync(SNAPSHOTS, { recursive: true });
                const stored = current.map(({ urn, type, inputs, dependencies }) => ({
                    urn,
                    type,
                    inputs,
                    dependencies,
                }));
                fs.writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`);
            }
            const expected = JSON.parse(fs.readFileSync(file, "utf8")) as SnapshotResource[];
            assert.deepEqual(underSnapshotUrns(current, expected), expected);
        });
    }
});
