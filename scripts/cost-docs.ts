// Keeps docs/cost.md's tables equal to what npm run cost prints: every block between
// `<!-- npm run cost -- ARGS -->` and `<!-- end of npm run cost -->` is that command's output.
// Usage: npm run cost:docs            rewrites the blocks
//        npm run cost:docs -- --check  fails, naming each stale block, instead of writing
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

async function main(): Promise<void> {
    const check = process.argv.includes("--check");
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
        console.error(error);
        process.exit(1);
    });
}
