// What a Docker build of a directory sends, by its .dockerignore, and the content hash of it that tags the image.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

interface IgnoreRule {
    exception: boolean;
    pattern: string;
    regex: RegExp;
}

/** One .dockerignore pattern as a regular expression: `**` spans directories, `*` and `?` stay within one. */
function patternRegex(pattern: string): RegExp {
    if (/[[\\]/.test(pattern)) {
        throw new Error(
            `.dockerignore pattern "${pattern}": character classes and escapes are not supported by the image tag hash`,
        );
    }
    let source = "";
    for (let i = 0; i < pattern.length; i++) {
        if (pattern.startsWith("**/", i)) {
            source += "(?:.*/)?";
            i += 2;
        } else if (pattern.startsWith("**", i)) {
            source += ".*";
            i += 1;
        } else if (pattern[i] === "*") {
            source += "[^/]*";
        } else if (pattern[i] === "?") {
            source += "[^/]";
        } else {
            source += pattern[i].replace(/[.+^${}()|]/g, "\\$&");
        }
    }
    return new RegExp(`^${source}$`);
}

/** The rules of a .dockerignore file, in order: blank lines and comments skipped, `!` marks an exception. */
export function parseDockerignore(text: string): IgnoreRule[] {
    return text
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.startsWith("#"))
        .map((line) => {
            const exception = line.startsWith("!");
            const pattern = path.posix
                .normalize((exception ? line.slice(1) : line).trim())
                .replace(/^\/+/, "")
                .replace(/\/+$/, "");
            return { exception, pattern, regex: patternRegex(pattern) };
        });
}

/** Docker's rule: the last pattern matching the path or one of its parent directories decides. */
function isIgnored(rules: IgnoreRule[], relativePath: string): boolean {
    const segments = relativePath.split("/");
    const pathAndParents = segments.map((_, index) => segments.slice(0, index + 1).join("/"));
    let ignored = false;
    for (const rule of rules) {
        if (pathAndParents.some((candidate) => rule.regex.test(candidate))) {
            ignored = !rule.exception;
        }
    }
    return ignored;
}

/** An ignored directory is skipped unless an exception could re-admit something inside it. */
function mayHoldAdmittedFiles(rules: IgnoreRule[], relativeDirectory: string): boolean {
    return rules.some(
        (rule) =>
            rule.exception &&
            (rule.pattern.startsWith(`${relativeDirectory}/`) || /[*?]/.test(rule.pattern.split("/")[0])),
    );
}

/** Relative paths (with `/`) of the files the build context admits, sorted. */
export function buildContextFiles(directory: string): string[] {
    const ignoreFile = path.join(directory, ".dockerignore");
    const rules = fs.existsSync(ignoreFile) ? parseDockerignore(fs.readFileSync(ignoreFile, "utf8")) : [];
    const walk = (relativeDirectory: string): string[] =>
        fs.readdirSync(path.join(directory, relativeDirectory), { withFileTypes: true }).flatMap((entry) => {
            const relative = relativeDirectory === "" ? entry.name : `${relativeDirectory}/${entry.name}`;
            if (entry.isDirectory()) {
                return !isIgnored(rules, relative) || mayHoldAdmittedFiles(rules, relative) ? walk(relative) : [];
            }
            return isIgnored(rules, relative) ? [] : [relative];
        });
    return walk("").sort();
}

/**
 * A short SHA-256 over the Dockerfile and the relative paths, executable bits and contents of exactly the files the
 * build context admits (app/.dockerignore honoured): test runs, local caches and tools outside the image never change
 * the tag, and a laptop and CI agree on it for the same commit. Of the mode, only the executable bits count: they
 * are copied into the image (and git records them), while read/write bits follow each machine's umask.
 */
export function contentHash(directory: string, platform: string): string {
    const hash = createHash("sha256");
    hash.update(platform);
    hash.update("\0");
    hash.update(fs.readFileSync(path.join(directory, "Dockerfile")));
    hash.update("\0");
    for (const relative of buildContextFiles(directory)) {
        const file = path.join(directory, relative);
        const stat = fs.lstatSync(file);
        hash.update(relative);
        hash.update("\0");
        hash.update((stat.mode & 0o111).toString(8));
        hash.update("\0");
        hash.update(stat.isSymbolicLink() ? fs.readlinkSync(file) : fs.readFileSync(file));
        hash.update("\0");
    }
    return hash.digest("hex").slice(0, 16);
}
