import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { environmentName, githubDir, jobsOf, loadWorkflows } from "./workflows";

const workflows = loadWorkflows();
const docs = readFileSync(join(githubDir, "..", "docs", "ci-cd.md"), "utf8");

/** The rows of the first table under a heading of docs/ci-cd.md, each a list of its cells. */
function table(heading: string): string[][] {
    const start = docs.indexOf(`\n${heading}\n`);
    assert.ok(start >= 0, `docs/ci-cd.md has no heading "${heading}"`);
    const lines = docs.slice(start).split("\n").slice(2);
    const first = lines.findIndex((line) => line.startsWith("|"));
    const rows: string[][] = [];
    for (const line of lines.slice(first + 2)) {
        if (!line.startsWith("|")) break;
        rows.push(
            line
                .slice(1, -1)
                .split("|")
                .map((cell) => cell.trim()),
        );
    }
    return rows;
}

/** The names in a cell such as "`create`" or "environments `dev`, `preview`"; "—" is none. */
const names = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

describe("docs/ci-cd.md agrees with the workflows", () => {
    const rows = table("## Workflows and jobs");
    const documented = new Map(rows.map((row) => [`${names(row[0])[0]}/${names(row[1])[0]}`, row]));

    test("lists every job of every workflow, and no job that does not exist", () => {
        const actual = jobsOf(workflows.values()).map(({ workflow: w, id }) => `${w.file.split("/").pop()}/${id}`);
        assert.deepEqual([...documented.keys()].sort(), actual.sort());
    });

    test("names each job's environment, its workflow's inputs and its timeout as the workflow sets them", () => {
        for (const { workflow: w, id, job } of jobsOf(workflows.values())) {
            const row = documented.get(`${w.file.split("/").pop()}/${id}`);
            assert.ok(row, `${w.file}: ${id}`);
            const [, , , environment, inputs, timeout] = row;
            assert.deepEqual(names(environment), [environmentName(job)].filter(Boolean), `${id}: environment`);
            const dispatch = w.on.workflow_dispatch?.inputs as Record<string, unknown> | undefined;
            assert.deepEqual(names(inputs), Object.keys(dispatch ?? {}), `${id}: inputs`);
            const minutes = job["timeout-minutes"];
            assert.equal(timeout, minutes === undefined ? "—" : String(minutes), `${id}: timeout`);
        }
    });

    test("lists every secret and variable the workflows read, scoped to the environments of the jobs that read them", () => {
        const scopes = new Map(table("## Secrets and variables").map((row) => [names(row[0])[0], row[2]]));
        const readers = new Map<string, { kind: string; environments: Set<string | undefined> }>();
        for (const { job } of jobsOf(workflows.values())) {
            for (const [, kind, name] of JSON.stringify(job).matchAll(/\b(secrets|vars)\.([A-Z_]+)/g)) {
                const entry = readers.get(name) ?? { kind, environments: new Set() };
                entry.environments.add(environmentName(job));
                readers.set(name, entry);
            }
        }
        assert.deepEqual([...scopes.keys()].sort(), [...readers.keys()].sort(), "documented = read");
        for (const [name, { kind, environments }] of readers) {
            const scope = scopes.get(name) ?? "";
            if (kind === "vars" && scope === "repository") continue;
            assert.deepEqual(names(scope).sort(), [...environments].sort(), `${name}: ${scope}`);
        }
    });

    test("says no secret is a repository secret, and no workflow reads one outside an environment", () => {
        for (const row of table("## Secrets and variables").filter((r) => /secret/.test(r[1]))) {
            assert.match(row[2], /^environments? /, `${row[0]} is scoped to environments`);
        }
    });

    test("documents the deploy role's MaxSessionDuration and the deploy's timeout with the figures the workflows use", () => {
        assert.match(docs, /--role-name fastapi-app-github-deploy --max-session-duration 10800\b/);
        assert.equal(workflows.get("deploy")?.jobs.deploy["timeout-minutes"], 180);
        assert.match(docs, /timeout is \*\*180 minutes\*\*/);
    });

    test("never advises switching the database mode to make a preview or a deploy run", () => {
        assert.doesNotMatch(docs, /previews? (are|is) (then )?skipped[^.]*databaseUrl/i);
        assert.doesNotMatch(docs, /keep `?databaseUrl`? in `?Pulumi\.dev\.yaml`?[^.]*preview/i);
        assert.doesNotMatch(docs, /With neither, the deploy stops/);
        assert.doesNotMatch(docs, /vars\.AWS_REGION|`AWS_REGION` \| variable/);
    });
});
