// Reads the project's Markdown the way a reader on GitHub follows it: headings become anchors, links lead to files
// and anchors, and fenced commands name scripts that must exist.
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

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
    const visible = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/[`*]/g, "");
    return visible
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
        .replace(/ /g, "-");
}

/** Every anchor of a file, duplicates numbered as GitHub does (`name`, `name-1`, …). */
export function anchors(text: string): Set<string> {
    const seen = new Map<string, number>();
    const result = new Set<string>();
    for (const line of linesOf(text)) {
        const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line.text);
        if (line.inFence || !heading) {
            continue;
        }
        const base = slug(heading[1]);
        const count = seen.get(base) ?? 0;
        seen.set(base, count + 1);
        result.add(count === 0 ? base : `${base}-${count}`);
    }
    return result;
}

/** Inline links `[text](target)` outside code, with their line numbers. */
export function links(text: string): { line: number; target: string }[] {
    const found: { line: number; target: string }[] = [];
    for (const line of linesOf(text)) {
        if (line.inFence) {
            continue;
        }
        const withoutCode = line.text.replace(/`[^`]*`/g, "");
        for (const match of withoutCode.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
            found.push({ line: line.number, target: match[1] });
        }
    }
    return found;
}

const EXTERNAL = /^[a-z][a-z0-9+.-]*:/i;

/** Relative links whose file does not exist, and anchors no heading of the target file produces. */
export function brokenLinks(files: MarkdownFile[], exists: (relativePath: string) => boolean): Problem[] {
    const byPath = new Map(files.map((markdown) => [markdown.file, markdown]));
    const problems: Problem[] = [];
    for (const markdown of files) {
        for (const { line, target } of links(markdown.text)) {
            if (EXTERNAL.test(target)) {
                continue;
            }
            const [pathPart, anchor] = target.split("#", 2);
            const resolved =
                pathPart === ""
                    ? markdown.file
                    : path.posix.normalize(path.posix.join(path.posix.dirname(markdown.file), pathPart));
            if (pathPart !== "" && (resolved.startsWith("..") || !exists(resolved))) {
                problems.push({ file: markdown.file, line, message: `link to ${target}: ${resolved} does not exist` });
                continue;
            }
            if (anchor === undefined) {
                continue;
            }
            const targetFile = byPath.get(resolved);
            if (targetFile === undefined) {
                problems.push({
                    file: markdown.file,
                    line,
                    message: `link to ${target}: anchors are checked only in Markdown files, ${resolved} is not one`,
                });
            } else if (!anchors(targetFile.text).has(anchor)) {
                problems.push({
                    file: markdown.file,
                    line,
                    message: `link to ${target}: ${resolved} has no heading with the anchor #${anchor}`,
                });
            }
        }
    }
    return problems;
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
