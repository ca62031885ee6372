// npm run cost's command line: --help with usage and examples that work, and a missing option value named.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { HELP, UsageError, costRequest, parseArguments } from "../../scripts/cost";
import { HELP as DOCS_HELP, checkOnly } from "../../scripts/cost-docs";

const ROOT = path.resolve(__dirname, "../..");

/** What `npm run <script> -- ARGS` does, as a process of its own. */
async function run(
    script: "cost.ts" | "cost-docs.ts",
    args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
    const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
    try {
        const { stdout, stderr } = await promisify(execFile)(tsx, [path.join(ROOT, "scripts", script), ...args], {
            cwd: ROOT,
        });
        return { code: 0, stdout, stderr };
    } catch (error) {
        const failed = error as { code: number; stdout: string; stderr: string };
        return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
}

/** The arguments of each `npm run cost -- …` example in the help text. */
function examples(): string[][] {
    return [...HELP.matchAll(/^ {2}npm run cost(?: -- (.*))?$/gm)].map((match) =>
        (match[1] ?? "").split(" ").filter((argument) => argument !== ""),
    );
}

describe("npm run cost -- --help", () => {
    test("prints the usage, every option and examples, and estimates nothing", async () => {
        const result = await run("cost.ts", ["--help"]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout, `${HELP}\n`);
        for (const option of ["--stack NAME", "--config KEY=VALUE", "--json", "--help"]) {
            assert.ok(HELP.includes(option), option);
        }
        assert.doesNotMatch(result.stdout, /\| Monthly|"total"/);
    });
    test("-h and --help anywhere after valid options mean the same", () => {
        assert.equal(parseArguments(["-h"]).help, true);
        assert.equal(parseArguments(["--json", "--stack", "dev", "--help"]).help, true);
        assert.equal(parseArguments(["--json"]).help, false);
    });
    test("every example is a request the command accepts for the committed dev stack", () => {
        assert.ok(examples().length >= 3, HELP);
        for (const args of examples()) {
            assert.doesNotThrow(() => costRequest(args, ROOT), `npm run cost -- ${args.join(" ")}`);
        }
    });
});

describe("a missing option value", () => {
    test("names the option and the value it takes, at the end or before another option", () => {
        const refused = (args: string[], message: RegExp): void =>
            assert.throws(
                () => parseArguments(args),
                (error: Error) => error instanceof UsageError && message.test(error.message),
            );
        refused(["--stack"], /^--stack needs a value: --stack NAME$/);
        refused(["--json", "--config"], /^--config needs a value: --config KEY=VALUE$/);
        refused(["--config", "--json"], /^--config needs a value: --config KEY=VALUE$/);
        refused(["--stack", "--config", "nodeMaxSize=5"], /^--stack needs a value: --stack NAME$/);
    });
    test("the command fails with that message, the usage and where the examples are", async () => {
        const result = await run("cost.ts", ["--config", "nodeMaxSize=5", "--stack"]);
        assert.equal(result.code, 1);
        assert.equal(result.stdout, "");
        assert.match(
            result.stderr,
            /^cost: --stack needs a value: --stack NAME\nusage: npm run cost -- .*\n\(options and examples: npm run cost -- --help\)\n$/,
        );
    });
});

describe("npm run cost:docs", () => {
    test("--help prints the usage and examples and writes nothing", async () => {
        const result = await run("cost-docs.ts", ["--help"]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout, `${DOCS_HELP}\n`);
        assert.match(DOCS_HELP, /^ {2}npm run cost:docs -- --check$/m);
    });
    test("--check checks, no argument writes, anything else is refused by name", async () => {
        assert.equal(checkOnly(["--check"]), true);
        assert.equal(checkOnly([]), false);
        assert.equal(checkOnly(["-h"]), undefined);
        assert.throws(() => checkOnly(["--chek"]), /: unexpected argument '--chek' /);
        const result = await run("cost-docs.ts", ["--chek"]);
        assert.equal(result.code, 1);
        assert.equal(
            result.stderr,
            "cost:docs: unexpected argument '--chek' (options and examples: npm run cost:docs -- --help)\n",
        );
    });
});
