// What a Docker build of a directory sends, by its .dockerignore, and the content hash of it that tags the image.
// The rules follow moby/patternmatcher and its ignorefile reader, as BuildKit applies them (docs/service.md).
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** How patternmatcher tests a pattern: equality, a prefix (trailing `**`), a suffix (leading `**`) or a regexp. */
export type MatchKind = "exact" | "prefix" | "suffix" | "regexp";

export interface IgnoreRule {
    readonly exception: boolean;
    /** The cleaned pattern, without its `!`. */
    readonly pattern: string;
    readonly kind: MatchKind;
    readonly test: (relativePath: string) => boolean;
}

const GO_SPACE = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const TRIM_SPACE = new RegExp(`^[${GO_SPACE}]+|[${GO_SPACE}]+$`, "g");

/** Go's strings.TrimSpace: Unicode white space, which is not JavaScript's trim() (U+0085 in, U+FEFF out). */
function trimSpace(text: string): string {
    return text.replace(TRIM_SPACE, "");
}

/** Go's filepath.Clean on Unix. */
function cleanPath(text: string): string {
    const rooted = text.startsWith("/");
    const parts: string[] = [];
    for (const part of text.split("/")) {
        if (part === "" || part === ".") continue;
        if (part !== "..") parts.push(part);
        else if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
        else if (!rooted) parts.push("..");
    }
    const joined = parts.join("/");
    return rooted ? `/${joined}` : joined || ".";
}

/** Go's filepath.Dir on Unix. */
function parentPath(text: string): string {
    return cleanPath(text.slice(0, text.lastIndexOf("/") + 1));
}

/** The patterns of a .dockerignore file as ignorefile.ReadAll gives them (`#` counts only before trimming). */
export function readDockerignore(text: string): string[] {
    const patterns: string[] = [];
    for (const line of text.replace(/^\uFEFF/, "").split("\n")) {
        if (line.startsWith("#")) continue;
        let pattern = trimSpace(line.endsWith("\r") ? line.slice(0, -1) : line);
        if (pattern === "") continue;
        const exception = pattern.startsWith("!");
        if (exception) pattern = trimSpace(pattern.slice(1));
        if (pattern !== "") {
            pattern = cleanPath(pattern);
            if (pattern.length > 1 && pattern.startsWith("/")) pattern = pattern.slice(1);
        }
        patterns.push(exception ? `!${pattern}` : pattern);
    }
    return patterns;
}

function refuse(pattern: string, why: string): never {
    throw new Error(`.dockerignore pattern "${pattern}": ${why}`);
}

const isAsciiPunctuation = (char: string): boolean => char < "\x80" && !/[0-9A-Za-z]/.test(char);

/** A pattern BuildKit refuses; patternmatcher reports it (filepath.ErrBadPattern) when it first tries the pattern. */
class BadPattern extends Error {}

const badPattern = (pattern: string): BadPattern =>
    new BadPattern(`.dockerignore pattern "${pattern}": syntax error in pattern`);

/** One character of a class, `\`-escaped or not, as filepath.Match reads it; the class must go on after it. */
function classBound(pattern: string, chars: string[], index: number): [char: string, next: number] {
    if (index >= chars.length || chars[index] === "-" || chars[index] === "]") throw badPattern(pattern);
    const at = chars[index] === "\\" ? index + 1 : index;
    if (at + 1 >= chars.length) throw badPattern(pattern);
    return [chars[at], at + 1];
}

/** Go's matchChunk: the rest of `name` after `chunk` (no `*` outside a class), or undefined when it does not match. */
function matchChunk(pattern: string, chunk: string[], name: string[]): string[] | undefined {
    let failed = false;
    let at = 0;
    for (let index = 0; index < chunk.length;) {
        failed ||= at >= name.length;
        if (chunk[index] === "[") {
            const char: string | undefined = failed ? undefined : name[at++];
            index += chunk[index + 1] === "^" ? 2 : 1;
            const negated = chunk[index - 1] === "^";
            let found = false;
            for (let ranges = 0; !(chunk[index] === "]" && ranges > 0); ranges++) {
                let low: string;
                let high: string;
                [low, index] = classBound(pattern, chunk, index);
                [high, index] = chunk[index] === "-" ? classBound(pattern, chunk, index + 1) : [low, index];
                const code: number = char?.codePointAt(0) ?? -1;
                found ||= (low.codePointAt(0) ?? 0) <= code && code <= (high.codePointAt(0) ?? 0);
            }
            index += 1;
            failed ||= found === negated;
        } else if (chunk[index] === "?") {
            failed ||= name[at++] === "/";
            index += 1;
        } else {
            if (chunk[index] === "\\" && ++index >= chunk.length) throw badPattern(pattern);
            failed ||= chunk[index] !== name[at++];
            index += 1;
        }
    }
    return failed ? undefined : name.slice(at);
}

/** Go's filepath.Match on Unix: patternmatcher.New calls it on "." to find a malformed pattern, up to the first miss. */
function filepathMatch(pattern: string, name: string): boolean {
    let rest = Array.from(pattern);
    let remaining = Array.from(name);
    chunks: while (rest.length > 0) {
        let star = false;
        while (rest[0] === "*") {
            rest = rest.slice(1);
            star = true;
        }
        let end = 0;
        for (let inClass = false; end < rest.length && (rest[end] !== "*" || inClass); end++) {
            if (rest[end] === "\\" && end + 1 < rest.length) end++;
            else if (rest[end] === "[" || rest[end] === "]") inClass = rest[end] === "[";
        }
        const chunk = rest.slice(0, end);
        rest = rest.slice(end);
        if (star && chunk.length === 0) return !remaining.includes("/");
        const after = matchChunk(pattern, chunk, remaining);
        if (after !== undefined && (after.length === 0 || rest.length > 0)) {
            remaining = after;
            continue;
        }
        for (let skip = 0; star && skip < remaining.length && remaining[skip] !== "/"; skip++) {
            const afterSkip = matchChunk(pattern, chunk, remaining.slice(skip + 1));
            if (afterSkip !== undefined && !(rest.length === 0 && afterSkip.length > 0)) {
                remaining = afterSkip;
                continue chunks;
            }
        }
        return false;
    }
    return remaining.length === 0;
}

/** patternmatcher's translation of a pattern: its match kind and Go regexp source (for the regexp kind). */
function translate(pattern: string): { kind: MatchKind; goRegexp: string } {
    const chars = Array.from(pattern);
    let kind: MatchKind = "exact";
    let source = "^";
    for (let i = 0, token = 0; i < chars.length; token++) {
        const char = chars[i++];
        if (char === "*" && chars[i] === "*") {
            i += chars[i + 1] === "/" ? 2 : 1;
            if (i < chars.length) {
                source += "(.*/)?";
                kind = "regexp";
            } else if (kind === "exact") {
                kind = "prefix";
            } else {
                source += ".*";
                kind = "regexp";
            }
            if (token === 0) kind = "suffix";
        } else if (char === "*" || char === "?") {
            source += char === "*" ? "[^/]*" : "[^/]";
            kind = "regexp";
        } else if (".+()|{}$".includes(char)) {
            source += `\\${char}`;
        } else if (char === "\\" && i < chars.length) {
            source += `\\${chars[i++]}`;
            kind = "regexp";
        } else {
            source += char;
            if (char === "[" || char === "]") kind = "regexp";
        }
    }
    return { kind, goRegexp: `${source}$` };
}

const literal = (char: string): string => `\\u{${char.codePointAt(0)?.toString(16)}}`;

/** Reads the RE2 regexp translate() builds, one construct at a time, into JavaScript regexp source. */
class GoRegexpReader {
    private readonly chars: string[];
    private i = 0;

    constructor(
        private readonly pattern: string,
        goRegexp: string,
    ) {
        this.chars = Array.from(goRegexp);
    }

    private unsupported(what: string): never {
        return refuse(
            this.pattern,
            `${what} is a regular-expression feature to BuildKit; write the characters it means instead`,
        );
    }

    private invalid(what: string): never {
        throw new BadPattern(`.dockerignore pattern "${this.pattern}": ${what}, which BuildKit refuses too`);
    }

    private escaped(): string {
        const char = this.chars[this.i + 1];
        if (!isAsciiPunctuation(char)) this.unsupported(`"\\${char}"`);
        this.i += 2;
        return char;
    }

    private classChar(): string {
        if (this.i >= this.chars.length) this.invalid("unterminated character class");
        return this.chars[this.i] === "\\" ? this.escaped() : this.chars[this.i++];
    }

    private startsPosixClass(): boolean {
        const { chars, i } = this;
        return (
            chars[i] === "[" &&
            chars[i + 1] === ":" &&
            chars
                .slice(i + 2)
                .join("")
                .includes(":]")
        );
    }

    private classMember(): string {
        if (this.startsPosixClass()) this.unsupported("a POSIX class");
        const low = this.classChar();
        if (this.chars[this.i] !== "-" || this.i + 1 >= this.chars.length || this.chars[this.i + 1] === "]") {
            return literal(low);
        }
        this.i += 1;
        const high = this.classChar();
        if ((high.codePointAt(0) ?? 0) < (low.codePointAt(0) ?? 0)) this.invalid(`range ${low}-${high}`);
        return `${literal(low)}-${literal(high)}`;
    }

    private characterClass(): string {
        this.i += 1;
        const negated = this.chars[this.i] === "^";
        if (negated) this.i += 1;
        let members = "";
        for (let first = true; first || this.chars[this.i] !== "]"; first = false) {
            members += this.classMember();
        }
        this.i += 1;
        return `[${negated ? "^" : ""}${members}]`;
    }

    private next(): string {
        const char = this.chars[this.i];
        if (char === "[") return this.characterClass();
        if (char === "\\") return literal(this.escaped());
        this.i += 1;
        if (char === ".") return "[^\\n]";
        return "^$()*?".includes(char) ? char : literal(char);
    }

    /** RE2-only syntax is refused (docs/service.md#dockerignore-rules). */
    read(): RegExp {
        let source = "";
        while (this.i < this.chars.length) {
            source += this.next();
        }
        return new RegExp(source, "u");
    }
}

function toJavaScript(pattern: string, goRegexp: string): RegExp {
    return new GoRegexpReader(pattern, goRegexp).read();
}

function compile(pattern: string, exception: boolean): IgnoreRule {
    const { kind, goRegexp } = translate(pattern);
    if (kind === "exact") return { exception, pattern, kind, test: (p) => p === pattern };
    if (kind === "prefix") {
        const prefix = pattern.slice(0, -2);
        return { exception, pattern, kind, test: (p) => p.startsWith(prefix) };
    }
    if (kind === "suffix") {
        const suffix = pattern.slice(2);
        return {
            exception,
            pattern,
            kind,
            test: (p) => p.endsWith(suffix) || (suffix.startsWith("/") && p === suffix.slice(1)),
        };
    }
    try {
        const regexp = toJavaScript(pattern, goRegexp);
        return { exception, pattern, kind, test: (p) => regexp.test(p) };
    } catch (error) {
        if (!(error instanceof BadPattern)) throw error;
        return {
            exception,
            pattern,
            kind,
            test: () => {
                throw error;
            },
        };
    }
}

/** Rules as patternmatcher.New builds them: some malformed patterns throw only when first tried, as there. */
export function compileRules(patterns: string[]): IgnoreRule[] {
    return patterns.flatMap((line) => {
        if (trimSpace(line) === "") return [];
        const cleaned = cleanPath(trimSpace(line));
        if (cleaned === "!") refuse(line, 'illegal exclusion pattern: "!"');
        const exception = cleaned.startsWith("!");
        const pattern = exception ? cleaned.slice(1) : cleaned;
        filepathMatch(pattern, ".");
        return [compile(pattern, exception)];
    });
}

/** The rules of a .dockerignore file, in order. */
export function parseDockerignore(text: string): IgnoreRule[] {
    return compileRules(readDockerignore(text));
}

/** Whether each rule matched a directory, handed down to what is inside it (patternmatcher's MatchInfo). */
type ParentMatches = readonly boolean[] | undefined;

/** patternmatcher's MatchesUsingParentResults, as BuildKit's walk calls it: the last matching rule decides. */
function matchPath(rules: IgnoreRule[], relativePath: string, parent: ParentMatches) {
    const matched = rules.map(() => false);
    const ancestors = (): string[] => {
        const parentDirectory = parentPath(relativePath);
        const segments = parentDirectory === "." ? [] : parentDirectory.split("/");
        return segments.map((_, index) => segments.slice(0, index + 1).join("/"));
    };
    let excluded = false;
    rules.forEach((rule, index) => {
        let match = parent?.[index] ?? false;
        if (!match) {
            if (rule.exception !== excluded) return;
            match = rule.test(relativePath) || (parent === undefined && ancestors().some(rule.test));
        }
        matched[index] = match;
        if (match) excluded = !rule.exception;
    });
    return { excluded, matched };
}

/** Whether a relative path is left out of the build context, its parent directories matched first as in a walk. */
export function isExcluded(rules: IgnoreRule[], relativePath: string): boolean {
    const parentDirectory = parentPath(relativePath);
    const segments = parentDirectory === "." ? [] : parentDirectory.split("/");
    let parent: ParentMatches;
    for (let index = 0; index < segments.length; index++) {
        parent = matchPath(rules, segments.slice(0, index + 1).join("/"), parent).matched;
    }
    return matchPath(rules, relativePath, parent).excluded;
}

/** fsutil's rule for skipping an excluded directory: no exception could admit anything inside it. */
function mayHoldAdmittedFiles(rules: IgnoreRule[], relativeDirectory: string): boolean {
    const exceptions = rules
        .filter((rule) => rule.exception)
        .map((rule) => rule.pattern.replace(/\/\*\*$/, "").replace(/\/\*$/, ""));
    return exceptions.some(
        (pattern) => /[*[\]?^\\]/.test(pattern) || `${pattern}/`.startsWith(`${relativeDirectory}/`),
    );
}

/** Relative paths (with `/`) of the files the build context admits, sorted. */
export function buildContextFiles(directory: string): string[] {
    const ignoreFile = path.join(directory, ".dockerignore");
    const rules = fs.existsSync(ignoreFile) ? parseDockerignore(fs.readFileSync(ignoreFile, "utf8")) : [];
    const walk = (relativeDirectory: string, parent: ParentMatches): string[] =>
        fs.readdirSync(path.join(directory, relativeDirectory), { withFileTypes: true }).flatMap((entry) => {
            const relative = relativeDirectory === "" ? entry.name : `${relativeDirectory}/${entry.name}`;
            const { excluded, matched } = matchPath(rules, relative, parent);
            if (entry.isDirectory()) {
                return !excluded || mayHoldAdmittedFiles(rules, relative) ? walk(relative, matched) : [];
            }
            return excluded ? [] : [relative];
        });
    return walk("", undefined).sort();
}

/**
 * The image tag: a hash of the platform, the Dockerfile and the admitted files' paths, contents and executable bits
 * (read/write bits follow the umask): docs/service.md#how-the-image-reaches-ecr.
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
