// What the README and docs/ state that the repository or the calendar can check: no promise dated in the past, the
// Kubernetes support dates of versions.ts, the test counts of the control-plane suite, every suite named, the files
// they name, and a region on every `aws` command (the stack's region is aws:region; the CLI's default may be another).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { KUBERNETES_RELEASES } from "../../versions";

const ROOT = path.resolve(__dirname, "../..");

interface Page {
    file: string;
    text: string;
}

function pages(): Page[] {
    const docs = fs
        .readdirSync(path.join(ROOT, "docs"))
        .filter((name) => name.endsWith(".md"))
        .map((name) => `docs/${name}`);
    return ["README.md", ...docs].map((file) => ({ file, text: fs.readFileSync(path.join(ROOT, file), "utf8") }));
}

/** `file:line: text` for each match of `pattern` (global) in the pages, with the match's line. */
function where(page: Page, index: number): string {
    return `${page.file}:${page.text.slice(0, index).split("\n").length}`;
}

/** Dates a sentence holds out as still ahead: "until 2027-03-27", "leaves … on 2026-12-02", "ends 2027-01-01". */
export function promisedDates(text: string): { date: string; index: number }[] {
    const pattern = /\b(?:until|leaves|ends|expires|will \w+)\b[^.;:()\n]{0,40}?\b(\d{4}-\d{2}-\d{2})\b/g;
    return [...text.matchAll(pattern)].map((match) => ({ date: match[1], index: match.index ?? 0 }));
}

/** The shell commands of every fenced code block, continuation lines joined, each at its first line. */
export function fencedCommands(text: string): { command: string; index: number }[] {
    const commands: { command: string; index: number }[] = [];
    const fence = /^( *)(```+)[^\n]*\n([\s\S]*?)^\1\2 *$/gm;
    for (const block of text.matchAll(fence)) {
        let offset = (block.index ?? 0) + block[0].indexOf(block[3]);
        let pending: { command: string; index: number } | undefined;
        for (const line of block[3].split("\n")) {
            const current = pending ?? { command: "", index: offset };
            const continued = line.endsWith("\\");
            current.command = `${current.command} ${(continued ? line.slice(0, -1) : line).trim()}`.trim();
            offset += line.length + 1;
            pending = continued ? current : undefined;
            if (!continued) {
                commands.push({ command: current.command.replace(/(^|\s)#.*$/, "").trim(), index: current.index });
            }
        }
    }
    return commands;
}

/** Inline code spans that are whole commands (with an option), not the name of an operation in a sentence. */
function inlineCommands(text: string): { command: string; index: number }[] {
    const withoutBlocks = text.replace(/^( *)```[\s\S]*?^\1``` *$/gm, (block) => block.replace(/[^\n]/g, " "));
    return [...withoutBlocks.matchAll(/`([^`\n]+ --[^`\n]+)`/g)].map((match) => ({
        command: match[1],
        index: match.index ?? 0,
    }));
}

/** AWS services whose commands need no region (global, or the CLI's own configuration). */
const GLOBAL = new Set(["sts", "iam", "organizations", "configure", "cloudfront", "route53"]);

/** Each `aws <service> <operation> …` invocation in a command line that names neither `--region` nor a global service. */
export function awsWithoutRegion(command: string): string[] {
    return command
        .split(/\||&&|;|\$\(/)
        .map((part) => part.trim())
        .filter((part) => /^aws [a-z0-9-]+ [a-z0-9-]+ .*--/.test(part) || /^aws [a-z0-9-]+ [a-z0-9-]+$/.test(part))
        .filter((part) => !GLOBAL.has(part.split(" ")[1]) && !/--region[ =]/.test(part));
}

describe("dates", () => {
    const today = new Date().toISOString().slice(0, 10);

    test("no page promises something until, or ending on, a date already past", () => {
        const past = pages().flatMap((page) =>
            promisedDates(page.text)
                .filter(({ date }) => date < today)
                .map(({ date, index }) => `${where(page, index)}: ${date} is before today, ${today}`),
        );
        assert.deepEqual(past, []);
    });
    test("each Kubernetes minor's end of standard support is the date versions.ts holds", () => {
        const wrong: string[] = [];
        for (const page of pages()) {
            for (const match of page.text.matchAll(/`(1\.\d+)` \((?:standard support )?until (\d{4}-\d{2}-\d{2})\)/g)) {
                const release = KUBERNETES_RELEASES[match[1] as keyof typeof KUBERNETES_RELEASES];
                if (release?.endOfStandardSupport !== match[2]) {
                    wrong.push(`${where(page, match.index ?? 0)}: ${match[1]} until ${match[2]}`);
                }
            }
        }
        assert.deepEqual(wrong, []);
    });
    test("the check catches a date past, and leaves a date ahead alone", () => {
        const text = "`1.34` leaves standard support on 2026-12-02; `1.36` (until 2027-08-02).";
        assert.deepEqual(
            promisedDates(text).map(({ date }) => date),
            ["2026-12-02", "2027-08-02"],
        );
        assert.deepEqual(promisedDates("checked 2026-11-29; it left on 2026-12-02"), []);
    });
});

describe("counts", () => {
    const testing = fs.readFileSync(path.join(ROOT, "docs", "testing.md"), "utf8");
    const workload = fs.readFileSync(path.join(ROOT, "tests", "controlplane", "test_workload.py"), "utf8");
    const tests = [...workload.matchAll(/^def (test_\w+)\(/gm)].map((match) => match[1]);

    test("the control-plane suite's table lists each of its tests once, and its test count is theirs", () => {
        const section = testing.slice(testing.indexOf("## The control-plane suite"));
        const listed = [...section.matchAll(/^\| `(test_\w+)` \|/gm)].map((match) => match[1]);
        assert.deepEqual([...listed].sort(), [...tests].sort());
        const counts = [...section.matchAll(/\b(\d+) tests\)/g)].map((match) => Number(match[1]));
        assert.ok(counts.length > 0, "docs/testing.md states how many tests the suite runs");
        assert.deepEqual(
            counts,
            counts.map(() => tests.length),
        );
    });
    test("the suites table names every scripts/test-<suite>, and scripts/test runs each", () => {
        const suites = fs
            .readdirSync(path.join(ROOT, "scripts"))
            .filter((name) => name.startsWith("test-"))
            .map((name) => name.slice("test-".length));
        const runner = fs.readFileSync(path.join(ROOT, "scripts", "test"), "utf8");
        for (const suite of suites) {
            assert.match(testing, new RegExp(`^\\| \`${suite}\` \\|`, "m"), `docs/testing.md's table row for ${suite}`);
            assert.match(runner, new RegExp(`ALL_SUITES=\\([^)]*\\b${suite}\\b`), `scripts/test runs ${suite}`);
        }
    });
});

describe("files", () => {
    /** Paths commands write and git ignores (.gitignore, monitoring/secrets/.gitignore): named before they exist. */
    const GENERATED = [/^build\//, /^monitoring\/targets\/[^/]+\.json$/, /^monitoring\/secrets\//];

    test("every repository path the pages name in code exists, and every stack file (a bare *.ts) at the root", () => {
        const missing: string[] = [];
        for (const page of pages()) {
            const named = [...page.text.matchAll(/`([\w.][\w./-]*\/[\w.-]+\.[a-z]+)`/g)].map((match) => ({
                file: match[1],
                index: match.index ?? 0,
            }));
            const stackFiles = [
                ...page.text.matchAll(/`([\w-]+\.ts)`/g),
                // The README's map of the repository: "   network.ts    Network   VPC …".
                ...page.text.matchAll(/^ {2,}([\w-]+\.ts) {2,}/gm),
            ].map((match) => ({ file: match[1], index: match.index ?? 0 }));
            for (const { file, index } of [...named, ...stackFiles]) {
                if (!GENERATED.some((pattern) => pattern.test(file)) && !fs.existsSync(path.join(ROOT, file))) {
                    missing.push(`${where(page, index)}: ${file}`);
                }
            }
        }
        assert.deepEqual(missing, []);
    });
    test("what may be named before it exists is ignored by git", () => {
        const ignored = `${fs.readFileSync(path.join(ROOT, ".gitignore"), "utf8")}`;
        assert.match(ignored, /^build\/$/m);
        assert.match(ignored, /^monitoring\/targets\/\*\.json$/m);
        assert.match(fs.readFileSync(path.join(ROOT, "monitoring", "secrets", ".gitignore"), "utf8"), /^\*$/m);
    });
});

describe("aws commands", () => {
    test("every aws command shown names its region", () => {
        const missing = pages().flatMap((page) =>
            [...fencedCommands(page.text), ...inlineCommands(page.text)].flatMap(({ command, index }) =>
                awsWithoutRegion(command).map((found) => `${where(page, index)}: ${found}`),
            ),
        );
        assert.deepEqual(missing, []);
    });
    test("the check finds them in pipes, substitutions and continued lines, and skips global services", () => {
        assert.deepEqual(
            awsWithoutRegion(
                "aws rds describe-db-snapshots --snapshot-type manual | jq . && x=$(aws eks list-clusters --output text)",
            ),
            ["aws rds describe-db-snapshots --snapshot-type manual", "aws eks list-clusters --output text)"],
        );
        assert.deepEqual(awsWithoutRegion("aws sts get-caller-identity --output text"), []);
        assert.deepEqual(awsWithoutRegion("aws ecr get-login-password --region ap-southeast-1 | docker login"), []);
        assert.deepEqual(
            fencedCommands("```bash\naws ec2 describe-vpcs \\\n  --region eu-west-1   # one\n```\n").map(
                ({ command }) => command,
            ),
            ["aws ec2 describe-vpcs --region eu-west-1", ""],
        );
        assert.deepEqual(awsWithoutRegion("aws ecr describe-images"), ["aws ecr describe-images"]);
    });
});
