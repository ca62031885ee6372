// Keeps docs/cost.md's tables equal to what npm run cost prints: every block between
// `<!-- npm run cost -- ARGS -->` and `<!-- end of npm run cost -->` is that command's output.
// Usage: npm run cost:docs -- --help
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { promisify } from "util";

const PROJECT_DIRECTORY = path.join(__dirname, "..");
export const COST_DOC = path.join(PROJECT_DIRECTORY, "docs", "cost.md");
const BLOCK = /<!-- npm run cost --(.*?) -->\n([\s\S]*?)<!-- end of npm run cost -->/g;
/** Renders run in parallel processes (each program render is its own process), a few at a time. */
const PARALLEL_RENDERS = 3;

export interface DocumentedEstimate {
    args: string[];
    documented: string;
}

export function documentedEstimates(markdown: string): DocumentedEstimate[] {
    return [...markdown.matchAll(BLOCK)].map((match) => ({
        args: match[1]
            .trim()
            .split(/\s+/)
            .filter((arg) => arg !== ""),
        documented: match[2],
    }));
}

/** What `npm run cost -- ARGS` prints, exactly as a block holds it (ending with a newline). */
export async function costOutput(args: string[]): Promise<string> {
    const tsx = path.join(PROJECT_DIRECTORY, "node_modules", ".bin", "tsx");
    const { stdout } = await promisify(execFile)(tsx, [path.join(PROJECT_DIRECTORY, "scripts", "cost.ts"), ...args], {
        cwd: PROJECT_DIRECTORY,
    });
    return stdout;
}

export async function currentOutputs(estimates: DocumentedEstimate[]): Promise<string[]> {
    const outputs: string[] = [];
    for (let start = 0; start < estimates.length; start += PARALLEL_RENDERS) {
        outputs.push(
            ...(await Promise.all(
                estimates.slice(start, start + PARALLEL_RENDERS).map((documented) => costOutput(documented.args)),
            )),
        );
    }
    return outputs;
}

export const HELP = `usage: npm run cost:docs [-- --check]
Rewrites every table of docs/cost.md between <!-- npm run cost -- ARGS --> and <!-- end of npm run cost -->
with what npm run cost -- ARGS prints now.

options:
  --check       write nothing; fail, naming each table that differs from the output
  -h, --help    this text

examples:
  npm run cost:docs
  npm run cost:docs -- --check`;

class UsageError extends Error {}

/** Whether to check rather than write; undefined for --help. Anything else is refused, naming it. */
export function checkOnly(argv: string[]): boolean | undefined {
    const unknown = argv.find((argument) => !["--check", "--help", "-h"].includes(argument));
    if (unknown !== undefined) {
        throw new UsageError(`unexpected argument '${unknown}' (options and examples: npm run cost:docs -- --help)`);
    }
    return argv.includes("--help") || argv.includes("-h") ? undefined : argv.includes("--check");
}

async function main(): Promise<void> {
    const check = checkOnly(process.argv.slice(2));
    if (check === undefined) {
        console.log(HELP);
        return;
    }
    const markdown = fs.readFileSync(COST_DOC, "utf8");
    const estimates = documentedEstimates(markdown);
    const outputs = await currentOutputs(estimates);
    if (check) {
        const stale = estimates.filter((documented, index) => documented.documented !== outputs[index]);
        stale.forEach((documented) =>
            console.error(`docs/cost.md is out of date for: npm run cost -- ${documented.args.join(" ")}`),
        );
        if (stale.length > 0) {
            console.error("run: npm run cost:docs");
            process.exit(1);
        }
        console.log(`docs/cost.md: ${estimates.length} tables match npm run cost`);
        return;
    }
    let index = 0;
    fs.writeFileSync(
        COST_DOC,
        markdown.replace(
            BLOCK,
            (_block, args: string) =>
                `<!-- npm run cost --${args} -->\n${outputs[index++]}<!-- end of npm run cost -->`,
        ),
    );
    console.log(`docs/cost.md: ${estimates.length} tables written`);
}

if (require.main === module) {
    main().catch((error: unknown) => {
        console.error(error instanceof UsageError ? `cost:docs: ${error.message}` : error);
        process.exit(1);
    });
}
