// The README and docs/ lead somewhere real: links, anchors and the commands they show.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { brokenLinks } from "./links";
import { missingCommands, projectMarkdown, type MarkdownFile, type Problem } from "./markdown";

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
    test("every relative link and #anchor resolves (remark-validate-links)", async () => {
        const problems = await brokenLinks(
            ROOT,
            files.map((markdown) => markdown.file),
        );
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

    test("the link checker catches a missing file, a missing anchor in the same file and in another file", async () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "docs-links-"));
        try {
            fs.mkdirSync(path.join(root, "docs"));
            fs.writeFileSync(
                path.join(root, "README.md"),
                [
                    "# Title",
                    "[ok](docs/a.md#usage) [gone](docs/b.md) [web](https://example.com/x) [self](#title)",
                    "[no anchor](docs/a.md#nowhere)",
                    "[no heading here](#missing)",
                    "```",
                    "[not a link](missing.md)",
                    "```",
                    "",
                ].join("\n"),
            );
            fs.writeFileSync(path.join(root, "docs/a.md"), "## Usage\n[back](../README.md#title) `[x](nowhere.md)`\n");
            const problems = await brokenLinks(root, ["README.md", "docs/a.md"]);
            assert.deepEqual(
                problems.map((problem) => `${problem.file}:${problem.line}`),
                ["README.md:2", "README.md:3", "README.md:4"],
                report(problems),
            );
            assert.match(problems[0].message, /docs\/b\.md.*missing-file/);
            assert.match(problems[1].message, /nowhere.*missing-heading-in-file/);
            assert.match(problems[2].message, /missing.*missing-heading/);
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });
    test("anchors follow GitHub's rules: punctuation dropped, code kept as text, duplicates numbered", async () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "docs-slugs-"));
        try {
            const headings = [
                "# The service (`app/`)",
                "## One-time AWS set-up: OIDC provider and roles",
                "## CI/CD (GitHub Actions)",
                "## Tests",
                "## Tests",
            ];
            const good = ["the-service-app", "one-time-aws-set-up-oidc-provider-and-roles", "cicd-github-actions"];
            const links = [...good, "tests", "tests-1"].map((anchor) => `[x](#${anchor})`);
            const wrong = ["the-service-app-", "cicd--github-actions", "tests-2"].map((anchor) => `[y](#${anchor})`);
            fs.writeFileSync(path.join(root, "README.md"), [...headings, links.join(" "), ...wrong, ""].join("\n"));
            const problems = await brokenLinks(root, ["README.md"]);
            assert.deepEqual(
                problems.map((problem) => problem.line),
                [7, 8, 9],
                report(problems),
            );
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
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
