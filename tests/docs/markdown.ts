// The project's own checks of its Markdown, which no link checker does: fenced commands name scripts and npm scripts
// that must exist. Links and anchors are checked by remark-validate-links (links.ts).
import * as fs from "node:fs";
import * as path from "node:path";

export interface MarkdownFile {
    /** Path relative to the repository root, with forward slashes. */
    file: string;
    text: string;
}

export interface Problem {
    file: string;
    line: number;
    message: string;
}

interface Line {
    number: number;
    text: string;
    inFence: boolean;
    /** The info string of the fence this line is inside ("bash", "" …), when inFence. */
    fenceInfo: string;
}

function linesOf(text: string): Line[] {
    const lines: Line[] = [];
    let fence: string | undefined;
    let fenceInfo = "";
    text.split("\n").forEach((raw, index) => {
        const opener = /^ {0,3}(`{3,}|~{3,})\s*([\w-]*)/.exec(raw);
        if (fence === undefined && opener) {
            fence = opener[1];
            fenceInfo = opener[2];
            lines.push({ number: index + 1, text: raw, inFence: false, fenceInfo: "" });
            return;
        }
        if (
            fence !== undefined &&
            raw.trim().startsWith(fence[0].repeat(fence.length)) &&
            raw.trim().replace(/[`~]/g, "") === ""
        ) {
            fence = undefined;
            lines.push({ number: index + 1, text: raw, inFence: false, fenceInfo: "" });
            return;
        }
        lines.push({ number: index + 1, text: raw, inFence: fence !== undefined, fenceInfo });
    });
    return lines;
}

const SHELL_FENCES = new Set(["", "bash", "sh", "shell", "console"]);

/**
 * Repository scripts (`scripts/…`, `.ci/run`) and npm scripts (`npm run <name>`, `npm test`) named by commands in
 * shell code blocks that do not exist.
 */
export function missingCommands(
    files: MarkdownFile[],
    npmScripts: Set<string>,
    exists: (relativePath: string) => boolean,
): Problem[] {
    const problems: Problem[] = [];
    for (const markdown of files) {
        for (const line of linesOf(markdown.text)) {
            if (!line.inFence || !SHELL_FENCES.has(line.fenceInfo)) {
                continue;
            }
            const command = line.text.replace(/(^|\s)#.*$/, "");
            for (const match of command.matchAll(/(?:^|[\s;&|(])(?:\.\/)?((?:scripts|\.ci)\/[\w./-]+)/g)) {
                if (!exists(match[1])) {
                    problems.push({ file: markdown.file, line: line.number, message: `${match[1]} does not exist` });
                }
            }
            for (const match of command.matchAll(
                /\bnpm\s+(?:run(?:-script)?\s+(?:--?[\w-]+\s+)*([\w:.-]+)|(test|start))\b/g,
            )) {
                const name = match[1] ?? match[2];
                if (!npmScripts.has(name)) {
                    problems.push({
                        file: markdown.file,
                        line: line.number,
                        message: `npm script '${name}' is not in package.json`,
                    });
                }
            }
        }
    }
    return problems;
}

/** README.md and every Markdown file under docs/, read from the repository at `root`. */
export function projectMarkdown(root: string): MarkdownFile[] {
    const files = ["README.md"];
    const walk = (directory: string): void => {
        for (const entry of fs.readdirSync(path.join(root, directory), { withFileTypes: true })) {
            const relative = `${directory}/${entry.name}`;
            if (entry.isDirectory()) {
                walk(relative);
            } else if (entry.name.endsWith(".md")) {
                files.push(relative);
            }
        }
    };
    walk("docs");
    return files.sort().map((file) => ({ file, text: fs.readFileSync(path.join(root, file), "utf8") }));
}
