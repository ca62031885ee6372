// docs/configuration.md documents exactly the keys loadConfig reads: every key read has a row, every row is read.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, setStackConfig } from "./mocks";
import { loadConfig } from "../../config";

installMocks();

const REFERENCE = path.resolve(__dirname, "../../docs/configuration.md");
const HEADER = "| Key | Type | Default | Validation | Effect |";
const PROJECT = "fastapi-app";

/** The keys in the first column of the reference table, as `pulumi config set` spells them. */
function documentedKeys(): string[] {
    const lines = fs.readFileSync(REFERENCE, "utf8").split("\n");
    const start = lines.indexOf(HEADER);
    assert.ok(start >= 0, `docs/configuration.md has no table headed ${HEADER}`);
    const rows = lines.slice(start + 2);
    const end = rows.findIndex((line) => !line.startsWith("|"));
    return rows.slice(0, end === -1 ? rows.length : end).map((row) => {
        const key = /^\|\s*`([^`]+)`/.exec(row);
        assert.ok(key, `a row whose first cell is not a key in backticks: ${row}`);
        return key[1];
    });
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

test("the configuration reference documents exactly the keys loadConfig reads", () => {
    const documented = documentedKeys();
    assert.equal(new Set(documented).size, documented.length, "a key is documented twice");
    const read = keysRead([
        { values: {}, withDatabaseUrl: true },
        { values: {}, withDatabaseUrl: false },
        {
            values: { image: "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/fastapi-app@sha256:" + "a".repeat(64) },
            withDatabaseUrl: true,
        },
    ]);
    assert.ok(read.size > 10, `only ${read.size} keys recorded: the recorder misses reads`);
    const undocumented = [...read].filter((key) => !documented.includes(key));
    const unread = documented.filter((key) => !read.has(key));
    assert.deepEqual(undocumented, [], "keys loadConfig reads that docs/configuration.md does not document");
    assert.deepEqual(unread, [], "keys docs/configuration.md documents that loadConfig never reads");
});
