// The commands the README and docs/ show for setting up and testing: their --help, their refusals, and one suite
// running with only its own tools.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");

function run(directory: string, args: string[], env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
    return spawnSync("bash", args, { cwd: directory, encoding: "utf8", env, timeout: 60_000 });
}

/**
 * A checkout that holds only what the docs suite needs: its scripts, the npm packages, and one docs test of its
 * own (so that the suite does not run this file again). No .venv, no .tools, and a PATH of only the commands the
 * scripts call: every other suite's tools are missing.
 */
function docsOnlyCheckout(): { root: string; env: NodeJS.ProcessEnv } {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "docs-only-"));
    fs.mkdirSync(path.join(root, "scripts"));
    for (const script of ["test", "test-docs", "lib.sh"]) {
        fs.copyFileSync(path.join(ROOT, "scripts", script), path.join(root, "scripts", script));
    }
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(root, "node_modules"));
    fs.mkdirSync(path.join(root, "tests", "docs"), { recursive: true });
    fs.writeFileSync(
        path.join(root, "tests", "docs", "one.test.ts"),
        'import { test } from "node:test";\ntest("runs", () => undefined);\n',
    );
    const bin = path.join(root, "bin");
    fs.mkdirSync(bin);
    for (const command of ["bash", "dirname", "mkdir", "tee", "sed", "sort", "cat", "rm"]) {
        const found = spawnSync("bash", ["-c", `command -v ${command}`], { encoding: "utf8" }).stdout.trim();
        fs.symlinkSync(found, path.join(bin, command));
    }
    fs.symlinkSync(process.execPath, path.join(bin, "node"));
    return { root, env: { HOME: root, PATH: bin } };
}

describe("scripts/test", () => {
    const checkout = docsOnlyCheckout();
    after(() => fs.rmSync(checkout.root, { recursive: true, force: true }));

    test("runs the docs suite with only the docs suite's tools", () => {
        const result = run(checkout.root, ["scripts/test", "docs"], checkout.env);
        assert.equal(result.status, 0, result.stdout + result.stderr);
        assert.match(result.stdout, /suites: 1 passed, 0 failed/);
    });
    test("names each missing tool of the suites asked for, and only theirs", () => {
        const result = run(checkout.root, ["scripts/test", "app"], checkout.env);
        assert.equal(result.status, 1);
        assert.match(result.stderr, /Missing tools for suites app:/);
        assert.match(result.stderr, /\.venv\/bin\/pytest {2}<- scripts\/setup python/);
        assert.match(result.stderr, /\.tools\/venv\/bin\/hadolint {2}<- scripts\/setup python/);
        assert.doesNotMatch(result.stderr, /kubeconform|actionlint|zizmor/);
        assert.doesNotMatch(result.stdout, /suite: app/, "no suite runs while a tool is missing");
    });
    test("without the npm packages, the docs suite says to run npm ci", () => {
        const bare = fs.mkdtempSync(path.join(os.tmpdir(), "no-packages-"));
        try {
            fs.cpSync(path.join(checkout.root, "scripts"), path.join(bare, "scripts"), { recursive: true });
            const result = run(bare, ["scripts/test", "docs"], checkout.env);
            assert.equal(result.status, 1);
            assert.match(result.stderr, /node_modules\/\.bin\/tsx {2}<- npm ci/);
        } finally {
            fs.rmSync(bare, { recursive: true, force: true });
        }
    });
    test("--help names every suite and shows examples", () => {
        const result = run(ROOT, ["scripts/test", "--help"]);
        assert.equal(result.status, 0);
        assert.match(result.stdout, /^usage: scripts\/test \[SUITE \.\.\.\]/);
        for (const suite of ["stack", "controlplane", "app", "monitoring", "workflows", "docs"]) {
            assert.ok(fs.existsSync(path.join(ROOT, "scripts", `test-${suite}`)), suite);
            assert.match(result.stdout, new RegExp(`\\b${suite}\\b`));
        }
        assert.match(result.stdout, /examples:\n {2}scripts\/test /);
    });
    test("an unknown suite or option is refused before anything runs, naming it", () => {
        const suite = run(ROOT, ["scripts/test", "docs", "unit"]);
        assert.equal(suite.status, 2);
        assert.match(suite.stderr, /no suite 'unit' \(suites: stack controlplane app monitoring workflows docs\)/);
        assert.doesNotMatch(suite.stdout, /suite: docs/);
        const option = run(ROOT, ["scripts/test", "--verbose"]);
        assert.equal(option.status, 2);
        assert.match(option.stderr, /unknown option --verbose\nusage: /);
    });
});

describe("scripts/setup", () => {
    // Without npm, apt-get, python or go on PATH: a wrong result cannot install anything either.
    const checkout = docsOnlyCheckout();
    after(() => fs.rmSync(checkout.root, { recursive: true, force: true }));

    test("--help says what it needs and what each part installs, and installs nothing", () => {
        const result = run(ROOT, ["scripts/setup", "--help"], checkout.env);
        assert.equal(result.status, 0);
        assert.match(result.stdout, /^usage: scripts\/setup \[PART \.\.\.\]/);
        assert.match(result.stdout, /Debian .*Node\.js 20\+, Python 3\.11 and Go/);
        assert.match(result.stdout, /needs root/);
        for (const part of ["debian", "python", "go", "prometheus", "controlplane", "npm"]) {
            assert.match(result.stdout, new RegExp(`^ {2}${part} +\\S`, "m"), part);
        }
        assert.match(result.stdout, /examples:/);
        assert.doesNotMatch(result.stdout, /==>/);
    });
    test("an unknown part is refused before any part runs", () => {
        const result = run(ROOT, ["scripts/setup", "npm", "node"], checkout.env);
        assert.equal(result.status, 2);
        assert.match(result.stderr, /unknown part 'node'\nusage: /);
        assert.doesNotMatch(result.stdout, /==> npm ci/);
    });
});
