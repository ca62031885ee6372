// The README and docs/ lead somewhere real: links, anchors and the commands they show.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
    anchors,
    brokenLinks,
    missingCommands,
    projectMarkdown,
    slug,
    type MarkdownFile,
    type Problem,
} from "./markdown";

const ROOT = path.resolve(__dirname, "../..");
const existsInRepo = (relative: string): boolean => fs.existsSync(path.join(ROOT, relative));
const npmScripts = new Set(
    Object.keys(
        (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> })
            .scripts,
    ),
);

function report(problems: Problem[]): string {
    return problems.map((problem) => `${problem.file}:${problem.line}: ${problem.message}`).join("\n");
}

describe("the project's Markdown", () => {
    const files = projectMarkdown(ROOT);

    test("covers the README and a docs/ index", () => {
        const names = files.map((markdown) => markdown.file);
        assert.ok(names.includes("README.md"));
        assert.ok(names.includes("docs/README.md"));
    });
    test("every relative link and #anchor resolves", () => {
        const problems = brokenLinks(files, existsInRepo);
        assert.equal(problems.length, 0, report(problems));
    });
    test("every script and npm script a command names exists", () => {
        const problems = missingCommands(files, npmScripts, existsInRepo);
        assert.equal(problems.length, 0, report(problems));
    });
    test("every docs/ page is listed in docs/README.md and in the README's documentation table", () => {
        const index = files.find((markdown) => markdown.file === "docs/README.md")?.text ?? "";
        const readme = files.find((markdown) => markdown.file === "README.md")?.text ?? "";
        for (const { file } of files.filter(
            (markdown) => markdown.file.startsWith("docs/") && markdown.file !== "docs/README.md",
        )) {
            assert.match(
                index,
                new RegExp(`\\]\\(${path.posix.basename(file).replace(".", "\\.")}\\)`),
                `${file} in docs/README.md`,
            );
            assert.match(readme, new RegExp(`\\]\\(${file.replace(".", "\\.")}\\)`), `${file} in README.md`);
        }
    });
    test("the README stays a front door (at most about 12 KB)", () => {
        const size = Buffer.byteLength(fs.readFileSync(path.join(ROOT, "README.md")));
        assert.ok(size <= 12 * 1024, `README.md is ${size} bytes`);
    });
});

describe("the checks themselves", () => {
    const page = (file: string, text: string): MarkdownFile => ({ file, text });
    const existing = new Set(["README.md", "docs/a.md", "scripts/setup"]);
    const exists = (relative: string): boolean => existing.has(relative);

    test("anchors follow GitHub's rules, duplicates numbered", () => {
        assert.equal(slug("The service (`app/`)"), "the-service-app");
        assert.equal(
            slug("One-time AWS set-up: OIDC provider and roles"),
            "one-time-aws-set-up-oidc-provider-and-roles",
        );
        assert.equal(slug("CI/CD (GitHub Actions)"), "cicd-github-actions");
        assert.deepEqual([...anchors("# Tests\n## Tests\n```\n# not a heading\n```\n")], ["tests", "tests-1"]);
    });
    test("a missing file, a missing anchor and an anchor in another file are caught", () => {
        const files = [
            page(
                "README.md",
                "[ok](docs/a.md#usage) [gone](docs/b.md) [no anchor](docs/a.md#nowhere) [self](#title) [web](https://example.com/x)\n# Title\n",
            ),
            page("docs/a.md", "## Usage\n[back](../README.md#title) [code `[x](nowhere.md)`]\n"),
        ];
        const problems = brokenLinks(files, exists).map((problem) => problem.message);
        assert.equal(problems.length, 2, problems.join("\n"));
        assert.match(problems[0], /docs\/b\.md does not exist/);
        assert.match(problems[1], /no heading with the anchor #nowhere/);
    });
    test("links inside code blocks are not links", () => {
        assert.deepEqual(brokenLinks([page("README.md", "```\n[x](missing.md)\n```\n")], exists), []);
    });
    test("a missing script or npm script in a shell block is caught; comments and other languages are not commands", () => {
        const text = [
            "```bash",
            "scripts/setup && bash scripts/test-nothing   # scripts/also-not-checked",
            "npm run --silent synth && npm run cost -- --json && npm test",
            "```",
            "```json",
            '{"x": "npm run nowhere"}',
            "```",
        ].join("\n");
        const problems = missingCommands([page("README.md", text)], new Set(["synth", "test"]), exists).map(
            (problem) => problem.message,
        );
        assert.deepEqual(problems, ["scripts/test-nothing does not exist", "npm script 'cost' is not in package.json"]);
    });
});
