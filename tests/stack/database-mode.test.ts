// The deployed-mode check on its own: which changes of databaseMode it refuses, what it says, what confirms them.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DeployedDatabase, checkDatabaseMode } from "../../database-mode";

const IDENTIFIER = "fastapi-app-db";
const NOTHING: DeployedDatabase = { mode: undefined, engineVersion: undefined };
const EXTERNAL: DeployedDatabase = { mode: "external", engineVersion: undefined };
const MANAGED: DeployedDatabase = { mode: "managed", engineVersion: "15.8" };

const check = (requested: "managed" | "external", deployed: DeployedDatabase, confirmed?: string, version?: string) =>
    checkDatabaseMode({ requested, deployed, confirmed, instanceIdentifier: IDENTIFIER, postgresVersion: version });

describe("a stack not deployed yet takes either mode", () => {
    test("managed and external, without confirmation or warning", () => {
        assert.deepEqual(check("managed", NOTHING, undefined, "15"), []);
        assert.deepEqual(check("external", NOTHING), []);
    });
});

describe("the deployed mode, unchanged", () => {
    test("no refusal, no warning", () => {
        assert.deepEqual(check("managed", MANAGED, undefined, "15"), []);
        assert.deepEqual(check("external", EXTERNAL), []);
    });
    test("a confirmation left set draws a warning to remove it", () =>
        assert.match(
            check("external", EXTERNAL, "managed-to-external")[0],
            /confirms no change .* pulumi config rm databaseModeSwitch/,
        ));
});

describe("a switch is refused unless confirmed for that direction", () => {
    test("external to managed: says it would create an empty instance and not copy the data", () =>
        assert.throws(
            () => check("managed", EXTERNAL, undefined, "15"),
            /^ConfigError: config 'databaseMode': the deployed stack runs the external database and this update asks for managed: it would create an empty RDS instance fastapi-app-db .* the data in the external database is not copied\. To do this on purpose: pulumi config set databaseModeSwitch external-to-managed/,
        ));
    test("managed to external: says it would delete the instance, and to release its protection first", () =>
        assert.throws(
            () => check("external", MANAGED),
            /it would delete the RDS instance fastapi-app-db .*release its protection first .* pulumi config set databaseModeSwitch managed-to-external/,
        ));
    test("the confirmation of the other direction does not confirm this one", () => {
        assert.throws(
            () => check("managed", EXTERNAL, "managed-to-external", "15"),
            /databaseModeSwitch external-to-managed/,
        );
        assert.throws(
            () => check("external", MANAGED, "external-to-managed"),
            /databaseModeSwitch managed-to-external/,
        );
    });
    test("the matching confirmation lets it through", () => {
        assert.deepEqual(check("managed", EXTERNAL, "external-to-managed", "15"), []);
        assert.deepEqual(check("external", MANAGED, "managed-to-external"), []);
    });
});

describe("the PostgreSQL major against the running instance", () => {
    test("the same major or one above is accepted", () => {
        assert.deepEqual(check("managed", MANAGED, undefined, "15"), []);
        assert.deepEqual(check("managed", MANAGED, undefined, "16"), []);
    });
    test("a major below the running one is refused, naming both", () =>
        assert.throws(
            () => check("managed", { mode: "managed", engineVersion: "16.4" }, undefined, "15"),
            /^ConfigError: config 'databasePostgresVersion': the instance fastapi-app-db runs PostgreSQL 16\.4; RDS cannot downgrade to 15\. Set 16/,
        ));
});
