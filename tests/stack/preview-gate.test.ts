// scripts/preview-gate.ts: what `pulumi preview --json` would do to stateful resources, read from the steps the
// engine prints, and the job's verdict, including the real command reading stdin.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as path from "path";
import { findings, gate, typeOf } from "../../scripts/preview-gate";

const URN = (type: string, name: string, parents = "") => `urn:pulumi:dev::fastapi-app::${parents}${type}::${name}`;
const INSTANCE = URN("aws:rds/instance:Instance", "fastapi-app", "fastapi:index:Database$");
const GROUP = URN("aws:rds/parameterGroup:ParameterGroup", "fastapi-app", "fastapi:index:Database$");
const SERVICE = URN("kubernetes:core/v1:Service", "fastapi-service", "fastapi:index:Workload$");

const preview = (steps: { op: string; urn: string }[]) => JSON.stringify({ steps, changeSummary: {} });

describe("the preview's steps", () => {
    test("the type comes from the URN, after its parents", () => {
        assert.equal(typeOf(INSTANCE), "aws:rds/instance:Instance");
        assert.throws(() => typeOf("nonsense"), /not a Pulumi URN/);
    });
    test("updates, creates and sames of stateful resources pass; other types' replacements too", () =>
        assert.deepEqual(
            findings(
                preview([
                    { op: "update", urn: INSTANCE },
                    { op: "same", urn: GROUP },
                    { op: "create", urn: GROUP },
                    { op: "replace", urn: SERVICE },
                    { op: "delete", urn: SERVICE },
                ]),
            ),
            [],
        ));
    test("a replacement (its three steps) and a delete of stateful resources are found, each once", () =>
        assert.deepEqual(
            findings(
                preview([
                    { op: "create-replacement", urn: GROUP },
                    { op: "replace", urn: GROUP },
                    { op: "delete-replaced", urn: GROUP },
                    { op: "delete", urn: INSTANCE },
                ]),
            ),
            [
                { op: "replace", type: "aws:rds/parameterGroup:ParameterGroup", urn: GROUP },
                { op: "delete", type: "aws:rds/instance:Instance", urn: INSTANCE },
            ],
        ));
    test("input that is not a JSON preview is an error, not a pass", () => {
        assert.throws(() => findings("Previewing update (dev)"), /not the JSON of pulumi preview --json/);
        assert.throws(() => findings("{}"), /the preview has no steps/);
    });
});

describe("the verdict", () => {
    const deleting = preview([{ op: "delete", urn: INSTANCE }]);
    test("a stateful delete fails the job, naming it", () => {
        const verdict = gate(deleting, false);
        assert.equal(verdict.code, 1);
        assert.match(verdict.lines.join("\n"), /delete aws:rds\/instance:Instance urn:pulumi/);
    });
    test("unless the run says it is a teardown", () => assert.equal(gate(deleting, true).code, 0));
    test("the command reads the preview from stdin and exits with the verdict", () => {
        const run = (input: string, args: string[] = []) =>
            spawnSync(process.execPath, ["--import", "tsx", path.join("scripts", "preview-gate.ts"), ...args], {
                cwd: path.join(__dirname, "..", ".."),
                input,
                encoding: "utf8",
                timeout: 60_000,
            });
        const failed = run(deleting);
        assert.equal(failed.status, 1);
        assert.match(failed.stderr, /would replace or delete stateful resources/);
        assert.equal(run(deleting, ["--teardown"]).status, 0);
        assert.equal(run(preview([{ op: "update", urn: INSTANCE }])).status, 0);
        assert.equal(run("not json").status, 2);
        assert.equal(run(deleting, ["--yes"]).status, 2);
    });
});
