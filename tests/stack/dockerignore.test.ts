// .dockerignore rules against the cases of moby/patternmatcher, the matcher BuildKit applies to .dockerignore.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { compileRules, isExcluded, MatchKind, parseDockerignore, readDockerignore } from "../../build-context";

// Copied as data from github.com/moby/patternmatcher at commit 5a6d8429a19bb6948a372ff19e86fe83599a04b7 (v0.6.1):
// patternmatcher_test.go, TestMatches: `tests` (the non-Windows `a\*b` case included) and `multiPatternTests`;
// TestMatch: `matchTests` (taken there from Go's filepath.Match tests; `true` in the last column means ErrBadPattern);
// TestCompile: `compileTests`, the kind of match each pattern compiles to.
const TEST_MATCHES: [pattern: string, text: string, excluded: boolean][] = [
    ["**", "file", true],
    ["**", "file/", true],
    ["**/", "file", true],
    ["**/", "file/", true],
    ["**", "/", true],
    ["**/", "/", true],
    ["**", "dir/file", true],
    ["**/", "dir/file", true],
    ["**", "dir/file/", true],
    ["**/", "dir/file/", true],
    ["**/**", "dir/file", true],
    ["**/**", "dir/file/", true],
    ["dir/**", "dir/file", true],
    ["dir/**", "dir/file/", true],
    ["dir/**", "dir/dir2/file", true],
    ["dir/**", "dir/dir2/file/", true],
    ["**/dir", "dir", true],
    ["**/dir", "dir/file", true],
    ["**/dir2/*", "dir/dir2/file", true],
    ["**/dir2/*", "dir/dir2/file/", true],
    ["**/dir2/**", "dir/dir2/dir3/file", true],
    ["**/dir2/**", "dir/dir2/dir3/file/", true],
    ["**file", "file", true],
    ["**file", "dir/file", true],
    ["**/file", "dir/file", true],
    ["**file", "dir/dir/file", true],
    ["**/file", "dir/dir/file", true],
    ["**/file*", "dir/dir/file", true],
    ["**/file*", "dir/dir/file.txt", true],
    ["**/file*txt", "dir/dir/file.txt", true],
    ["**/file*.txt", "dir/dir/file.txt", true],
    ["**/file*.txt*", "dir/dir/file.txt", true],
    ["**/**/*.txt", "dir/dir/file.txt", true],
    ["**/**/*.txt2", "dir/dir/file.txt", false],
    ["**/*.txt", "file.txt", true],
    ["**/**/*.txt", "file.txt", true],
    ["a**/*.txt", "a/file.txt", true],
    ["a**/*.txt", "a/dir/file.txt", true],
    ["a**/*.txt", "a/dir/dir/file.txt", true],
    ["a/*.txt", "a/dir/file.txt", false],
    ["a/*.txt", "a/file.txt", true],
    ["a/*.txt**", "a/file.txt", true],
    ["a[b-d]e", "ae", false],
    ["a[b-d]e", "ace", true],
    ["a[b-d]e", "aae", false],
    ["a[^b-d]e", "aze", true],
    [".*", ".foo", true],
    [".*", "foo", false],
    ["abc.def", "abcdef", false],
    ["abc.def", "abc.def", true],
    ["abc.def", "abcZdef", false],
    ["abc?def", "abcZdef", true],
    ["abc?def", "abcdef", false],
    ["a\\\\", "a\\", true],
    ["**/foo/bar", "foo/bar", true],
    ["**/foo/bar", "dir/foo/bar", true],
    ["**/foo/bar", "dir/dir2/foo/bar", true],
    ["abc/**", "abc", false],
    ["abc/**", "abc/def", true],
    ["abc/**", "abc/def/ghi", true],
    ["**/.foo", ".foo", true],
    ["**/.foo", "bar.foo", false],
    ["a(b)c/def", "a(b)c/def", true],
    ["a(b)c/def", "a(b)c/xyz", false],
    ["a.|)$(}+{bc", "a.|)$(}+{bc", true],
    [
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        true,
    ],
    ["dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true],
    ["a\\*b", "a*b", true],
];
const TEST_MATCHES_MULTI: [patterns: string[], text: string, excluded: boolean][] = [
    [["**", "!util/docker/web"], "util/docker/web/foo", false],
    [["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", true],
    [
        ["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"],
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        false,
    ],
    [["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false],
];
const TEST_MATCH: [pattern: string, text: string, excluded: boolean, error: boolean][] = [
    ["abc", "abc", true, false],
    ["*", "abc", true, false],
    ["*c", "abc", true, false],
    ["a*", "a", true, false],
    ["a*", "abc", true, false],
    ["a*", "ab/c", true, false],
    ["a*/b", "abc/b", true, false],
    ["a*/b", "a/c/b", false, false],
    ["a*b*c*d*e*/f", "axbxcxdxe/f", true, false],
    ["a*b*c*d*e*/f", "axbxcxdxexxx/f", true, false],
    ["a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false, false],
    ["a*b*c*d*e*/f", "axbxcxdxexxx/fff", false, false],
    ["a*b?c*x", "abxbbxdbxebxczzx", true, false],
    ["a*b?c*x", "abxbbxdbxebxczzy", false, false],
    ["ab[c]", "abc", true, false],
    ["ab[b-d]", "abc", true, false],
    ["ab[e-g]", "abc", false, false],
    ["ab[^c]", "abc", false, false],
    ["ab[^b-d]", "abc", false, false],
    ["ab[^e-g]", "abc", true, false],
    ["a\\*b", "a*b", true, false],
    ["a\\*b", "ab", false, false],
    ["a?b", "a☺b", true, false],
    ["a[^a]b", "a☺b", true, false],
    ["a???b", "a☺b", false, false],
    ["a[^a][^a][^a]b", "a☺b", false, false],
    ["[a-ζ]*", "α", true, false],
    ["*[a-ζ]", "A", false, false],
    ["a?b", "a/b", false, false],
    ["a*b", "a/b", false, false],
    ["[\\]a]", "]", true, false],
    ["[\\-]", "-", true, false],
    ["[x\\-]", "x", true, false],
    ["[x\\-]", "-", true, false],
    ["[x\\-]", "z", false, false],
    ["[\\-x]", "x", true, false],
    ["[\\-x]", "-", true, false],
    ["[\\-x]", "a", false, false],
    ["[]a]", "]", false, true],
    ["[-]", "-", false, true],
    ["[x-]", "x", false, true],
    ["[x-]", "-", false, true],
    ["[x-]", "z", false, true],
    ["[-x]", "x", false, true],
    ["[-x]", "-", false, true],
    ["[-x]", "a", false, true],
    ["\\", "a", false, true],
    ["[a-b-c]", "a", false, true],
    ["[", "a", false, true],
    ["[^", "a", false, true],
    ["[^bc", "a", false, true],
    ["a[", "a", false, true],
    ["a[", "ab", false, true],
    ["*x", "xxx", true, false],
];
const TEST_COMPILE: [pattern: string, kind: MatchKind][] = [
    ["*", "regexp"],
    ["file*", "regexp"],
    ["*file", "regexp"],
    ["a*/b", "regexp"],
    ["**", "suffix"],
    ["**/**", "regexp"],
    ["dir/**", "prefix"],
    ["**/dir", "suffix"],
    ["**/dir2/*", "regexp"],
    ["**/dir2/**", "regexp"],
    ["**file", "suffix"],
    ["**/file*txt", "regexp"],
    ["**/**/*.txt", "regexp"],
    ["a[b-d]e", "regexp"],
    [".*", "regexp"],
    ["abc.def", "exact"],
    ["abc?def", "regexp"],
    ["**/foo/bar", "suffix"],
    ["a(b)c/def", "exact"],
    ["a.|)$(}+{bc", "exact"],
    ["dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "exact"],
];

// The same file's single-case tests: [test name, patterns, path, excluded or "error"].
const SINGLE_TESTS: [name: string, patterns: string[], text: string, expected: boolean | "error"][] = [
    ["TestWildcardMatches", ["*"], "fileutils.go", true],
    ["TestPatternMatches", ["*.go"], "fileutils.go", true],
    ["TestExclusionPatternMatchesPatternBefore", ["!fileutils.go", "*.go"], "fileutils.go", true],
    ["TestPatternMatchesFolderExclusions", ["docs", "!docs/README.md"], "docs/README.md", false],
    ["TestPatternMatchesFolderWithSlashExclusions", ["docs/", "!docs/README.md"], "docs/README.md", false],
    ["TestPatternMatchesFolderWildcardExclusions", ["docs/*", "!docs/README.md"], "docs/README.md", false],
    ["TestExclusionPatternMatchesPatternAfter", ["*.go", "!fileutils.go"], "fileutils.go", false],
    ["TestExclusionPatternMatchesWholeDirectory", ["*.go"], ".", false],
    ["TestSingleExclamationError", ["!"], "fileutils.go", "error"],
    ["TestMatchesWithNoPatterns", [], "/any/path/there", false],
    ["TestMatchesWithMalformedPatterns", ["["], "/any/path/there", "error"],
    // New accepts it; trying it fails (ErrBadPattern: the range l-O is reversed), on every call.
    ["TestMatchesOrParentMatchesMalformedPatternDoesNotPanicOnRepeatedCall", ["[Local-Only]/"], "x", "error"],
];

// TestCleanPatterns*: [test name, patterns, rule count, whether any rule is an exception].
const CLEAN_TESTS: [name: string, patterns: string[], count: number, exceptions: boolean][] = [
    ["TestCleanPatterns", ["docs", "config"], 2, false],
    ["TestCleanPatternsStripEmptyPatterns", ["docs", "config", ""], 2, false],
    ["TestCleanPatternsExceptionFlag", ["docs", "!docs/README.md"], 2, true],
    ["TestCleanPatternsLeadingSpaceTrimmed", ["docs", "  !docs/README.md"], 2, true],
    ["TestCleanPatternsTrailingSpaceTrimmed", ["docs", "!docs/README.md  "], 2, true],
];

// Not in moby's tests: answers of moby/patternmatcher v0.6.1 itself (MatchesUsingParentResults along the path, as
// BuildKit's walk calls it; ignorefile.ReadAll for file texts), run on these inputs: [patterns or file text, path,
// excluded or "error"].
const PATTERNMATCHER_ANSWERS: [patterns: string[] | string, text: string, expected: boolean | "error"][] = [
    [["[!a]"], "!", true], // `!` does not negate a class, in filepath.Match or in a Go regexp
    [["[!a]"], "b", false],
    [["[*]"], "*", false], // a `*` inside a class becomes `[^/]*`, which closes the class early
    [["[*]"], "/]", true],
    [["[a-?]"], "b", "error"], // the range becomes a-[, reversed
    [["a*["], "x", "error"], // filepath.Match stops at the chunk `a`: New accepts it, trying it fails
    [["**", "a*["], "x", true], // never tried: the path is already excluded
    [["*["], "x", "error"], // caught by New
    [["a*\\"], "ab$c", true], // a trailing `\` escapes the regexp's closing `$`
    [["a*\\"], "ab", false],
    [["[^a]"], "/", true], // a negated class may match the separator
    [["a^b"], "a^b", true],
    [["*^"], "x", false],
    [["a.b**"], "a.b/c", true],
    [["a.b**"], "axb/c", false],
    [["a", "!a/f", "a"], "a/f", false], // the last rule matched the parent only when it was tried there
    [["a", "!a/f", "a"], "a/g", true],
    [["*", "!src"], "src/app/main.py", false],
    [["**/__pycache__"], "src/__pycache__/m.pyc", true],
    [" # not a comment", "# not a comment", true],
    ["#comment", "#comment", false],
    ["\uFEFFfoo", "foo", true],
    ["a\n\uFEFFb", "\uFEFFb", true],
    ["foo\r\nbar", "foo", true],
    ["/foo/../bar", "bar", true],
    ["\u0085foo", "foo", true],
    ["\u00A0foo\u00A0", "foo", true],
    ["docs\n  !  docs/README.md ", "docs/README.md", false],
    ["!/", "x", "error"],
    ["!", "x", "error"],
];

function answer(patterns: string[] | string, text: string): boolean | "error" {
    try {
        return isExcluded(typeof patterns === "string" ? parseDockerignore(patterns) : compileRules(patterns), text);
    } catch {
        return "error";
    }
}

/** The cases whose answer differs from the expected one, listed so that a failure names every one of them. */
function mismatches<Case extends unknown[]>(
    cases: Case[],
    check: (...testCase: Case) => [actual: unknown, expected: unknown],
): string[] {
    return cases.flatMap((testCase) => {
        const [actual, expected] = check(...testCase);
        return actual === expected ? [] : [`${JSON.stringify(testCase)}: got ${String(actual)}`];
    });
}

describe("the .dockerignore matcher answers as moby/patternmatcher", () => {
    test("TestMatches: one pattern", () => {
        assert.deepEqual(
            mismatches(TEST_MATCHES, (pattern, text, excluded) => [answer([pattern], text), excluded]),
            [],
        );
    });
    test("TestMatches: several patterns", () => {
        assert.deepEqual(
            mismatches(TEST_MATCHES_MULTI, (patterns, text, excluded) => [answer(patterns, text), excluded]),
            [],
        );
    });
    test("TestMatch: Go's filepath.Match cases, malformed patterns refused", () => {
        assert.deepEqual(
            mismatches(TEST_MATCH, (pattern, text, excluded, error) => [
                answer([pattern], text),
                error ? "error" : excluded,
            ]),
            [],
        );
    });
    test("TestCompile: each pattern is an exact, prefix, suffix or regexp match", () => {
        assert.deepEqual(
            mismatches(TEST_COMPILE, (pattern, kind) => [compileRules([pattern])[0].kind, kind]),
            [],
        );
    });
    test("the single-case tests", () => {
        const rules = compileRules(["[Local-Only]/"]);
        for (let call = 0; call < 2; call++) assert.throws(() => isExcluded(rules, "x"), /range l-O/);
        assert.deepEqual(
            mismatches(SINGLE_TESTS, (_name, patterns, text, expected) => [answer(patterns, text), expected]),
            [],
        );
    });
    test("TestCleanPatterns: blank patterns dropped, exceptions found after trimming", () => {
        for (const [name, patterns, count, exceptions] of CLEAN_TESTS) {
            const rules = compileRules(patterns);
            assert.equal(rules.length, count, name);
            assert.equal(
                rules.some((rule) => rule.exception),
                exceptions,
                name,
            );
        }
    });
    test("ignorefile_test.go TestReadAll: comments, blank lines, leading slashes and a lone `!`", () => {
        assert.deepEqual(readDockerignore(""), []);
        const content = "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! ";
        assert.deepEqual(readDockerignore(content), [
            "test1",
            "test2",
            "a/file/here",
            "lastfile",
            "!inverted/abs/path",
            "!",
            "!",
        ]);
        assert.throws(() => parseDockerignore(content), /illegal exclusion pattern/);
    });
    test("answers of moby/patternmatcher itself on quirks its tests leave out", () => {
        assert.deepEqual(
            mismatches(PATTERNMATCHER_ANSWERS, (patterns, text, expected) => [answer(patterns, text), expected]),
            [],
        );
    });
    test("regular-expression features BuildKit lets through are refused, not guessed", () => {
        for (const pattern of ["\\d", "[[:alpha:]]", "a\\Qb", "[\\p{L}]"]) {
            assert.throws(() => compileRules([pattern]), /regular-expression feature/, pattern);
        }
    });
});
