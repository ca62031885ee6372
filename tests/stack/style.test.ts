// The shape rules of the program's modules (docs/architecture.md#rules-of-the-road): functions that fit one screen,
// at most three positional parameters, and comments that stay short.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import ts from "typescript";

const ROOT = path.join(__dirname, "..", "..");
const MAX_FUNCTION_LINES = 60;
const MAX_PARAMETERS = 3;
const MAX_COMMENT_LINES = 4;
const MAX_COMMENT_WORDS_PER_CODE_LINE = 1.0;

const MODULES = fs
    .readdirSync(ROOT)
    .filter((file) => file.endsWith(".ts"))
    .sort();

function parse(file: string): ts.SourceFile {
    return ts.createSourceFile(file, fs.readFileSync(path.join(ROOT, file), "utf8"), ts.ScriptTarget.Latest, true);
}

type FunctionLike = ts.FunctionLikeDeclaration;

function functionsOf(source: ts.SourceFile): FunctionLike[] {
    const found: FunctionLike[] = [];
    const visit = (node: ts.Node): void => {
        if (
            ts.isFunctionDeclaration(node) ||
            ts.isMethodDeclaration(node) ||
            ts.isConstructorDeclaration(node) ||
            ts.isArrowFunction(node) ||
            ts.isFunctionExpression(node)
        ) {
            found.push(node);
        }
        ts.forEachChild(node, visit);
    };
    visit(source);
    return found;
}

function lineOf(source: ts.SourceFile, position: number): number {
    return source.getLineAndCharacterOfPosition(position).line;
}

function nameOf(source: ts.SourceFile, fn: FunctionLike): string {
    const name = ts.isConstructorDeclaration(fn) ? "constructor" : (fn.name?.getText(source) ?? "<function>");
    return `${source.fileName}:${lineOf(source, fn.getStart(source)) + 1} ${name}`;
}

/**
 * Lines of a function, not counting the object literals handed to `new` (a resource's declarative arguments) except
 * their first line: those may be longer than a screen.
 */
function countedLines(source: ts.SourceFile, fn: FunctionLike): number {
    const first = lineOf(source, fn.getStart(source));
    const last = lineOf(source, fn.getEnd());
    const declarative = new Set<number>();
    const visit = (node: ts.Node): void => {
        if (ts.isNewExpression(node)) {
            for (const argument of node.arguments ?? []) {
                if (ts.isObjectLiteralExpression(argument)) {
                    const end = lineOf(source, argument.getEnd());
                    for (let line = lineOf(source, argument.getStart(source)) + 1; line <= end; line++) {
                        declarative.add(line);
                    }
                }
            }
        }
        if (node === fn || !ts.isFunctionLike(node)) {
            ts.forEachChild(node, visit);
        }
    };
    visit(fn);
    return last - first + 1 - [...declarative].filter((line) => line > first && line <= last).length;
}

interface CommentStats {
    words: number;
    codeLines: number;
    blocks: { line: number; length: number }[];
}

/** Comment words, non-blank code lines and each run of comment-only lines, from the parser's tokens and comments. */
function commentStats(file: string): CommentStats {
    const source = parse(file);
    const text = source.getFullText();
    const comments = new Map<number, ts.CommentRange>();
    const codeLines = new Set<number>();
    const visit = (node: ts.Node): void => {
        for (const range of [
            ...(ts.getLeadingCommentRanges(text, node.getFullStart()) ?? []),
            ...(ts.getTrailingCommentRanges(text, node.getEnd()) ?? []),
        ]) {
            comments.set(range.pos, range);
        }
        const children = node.getChildren(source);
        if (children.length === 0 && node.kind !== ts.SyntaxKind.EndOfFileToken) {
            for (let line = lineOf(source, node.getStart(source)); line <= lineOf(source, node.getEnd()); line++) {
                codeLines.add(line);
            }
        }
        children.forEach(visit);
    };
    visit(source);
    const commentLines = new Set<number>();
    let words = 0;
    for (const range of comments.values()) {
        words += (text.slice(range.pos, range.end).match(/[A-Za-z0-9]+/g) ?? []).length;
        for (let line = lineOf(source, range.pos); line <= lineOf(source, range.end); line++) {
            commentLines.add(line);
        }
    }
    const blocks: { line: number; length: number }[] = [];
    for (const line of [...commentLines].sort((a, b) => a - b)) {
        const previous = blocks.at(-1);
        const ownLine = !codeLines.has(line);
        if (ownLine && previous && previous.line + previous.length === line) {
            previous.length += 1;
        } else if (ownLine) {
            blocks.push({ line, length: 1 });
        }
    }
    return { words, codeLines: codeLines.size, blocks };
}

describe("the program's modules stay readable", () => {
    test(`no function longer than ${MAX_FUNCTION_LINES} lines (a resource's argument block aside)`, () => {
        const long = MODULES.flatMap((file) => {
            const source = parse(file);
            return functionsOf(source)
                .filter((fn) => countedLines(source, fn) > MAX_FUNCTION_LINES)
                .map((fn) => `${nameOf(source, fn)}: ${countedLines(source, fn)} lines`);
        });
        assert.deepEqual(long, []);
    });
    test(`no function takes more than ${MAX_PARAMETERS} positional parameters`, () => {
        const wide = MODULES.flatMap((file) => {
            const source = parse(file);
            return functionsOf(source)
                .filter((fn) => fn.parameters.length > MAX_PARAMETERS)
                .map((fn) => `${nameOf(source, fn)}: ${fn.parameters.length} parameters`);
        });
        assert.deepEqual(wide, []);
    });
    test(`no comment runs over ${MAX_COMMENT_LINES} lines; longer rationale goes to docs/`, () => {
        const long = MODULES.flatMap((file) =>
            commentStats(file)
                .blocks.filter((block) => block.length > MAX_COMMENT_LINES)
                .map((block) => `${file}:${block.line + 1}: ${block.length} lines`),
        );
        assert.deepEqual(long, []);
    });
    test(`at most ${MAX_COMMENT_WORDS_PER_CODE_LINE} comment words per line of code, over all modules`, () => {
        const stats = MODULES.map(commentStats);
        const words = stats.reduce((sum, file) => sum + file.words, 0);
        const lines = stats.reduce((sum, file) => sum + file.codeLines, 0);
        assert.ok(
            words / lines <= MAX_COMMENT_WORDS_PER_CODE_LINE,
            `${words} comment words over ${lines} code lines: ${(words / lines).toFixed(2)} per line`,
        );
    });
    test("the measures see what they measure", () => {
        const stats = commentStats("cluster.ts");
        assert.ok(stats.codeLines > 100 && stats.words > 0, JSON.stringify(stats));
        const source = parse("cluster.ts");
        assert.ok(functionsOf(source).some((fn) => ts.isConstructorDeclaration(fn)));
    });
});
