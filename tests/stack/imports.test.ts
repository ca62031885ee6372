// The rules of the road of docs/architecture.md, read from the import statements: no cycle, the configuration
// loads no component, a component reads no configuration, and no tool imports test code.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import ts from "typescript";

const ROOT = path.join(__dirname, "..", "..");
const PROVIDERS = [
    "@pulumi/aws",
    "@pulumi/awsx",
    "@pulumi/eks",
    "@pulumi/kubernetes",
    "@pulumi/random",
    "@pulumi/docker-build",
];

interface Module {
    /** Relative path from the repository root, e.g. `cluster.ts`. */
    file: string;
    /** Modules of the repository it loads when it runs (type-only imports left out). */
    runtime: string[];
    /** Every module of the repository it names, types included. */
    all: string[];
    packages: string[];
    isComponent: boolean;
}

function sourceFiles(directory: string, recursive: boolean): string[] {
    return fs.readdirSync(path.join(ROOT, directory), { withFileTypes: true }).flatMap((entry) => {
        const relative = path.join(directory, entry.name);
        if (entry.isDirectory()) {
            return recursive ? sourceFiles(relative, true) : [];
        }
        return entry.name.endsWith(".ts") ? [relative] : [];
    });
}

function resolved(from: string, specifier: string): string {
    const base = path.join(path.dirname(from), specifier);
    const candidates = [`${base}.ts`, path.join(base, "index.ts"), base];
    return candidates.find((candidate) => fs.existsSync(path.join(ROOT, candidate))) ?? base;
}

function isTypeOnly(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
    if (ts.isExportDeclaration(node)) {
        return node.isTypeOnly;
    }
    const clause = node.importClause;
    if (clause === undefined) {
        return false;
    }
    const bindings = clause.namedBindings;
    const allNamedAreTypes =
        bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.every((e) => e.isTypeOnly);
    return clause.isTypeOnly || (clause.name === undefined && allNamedAreTypes);
}

function parse(file: string): Module {
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const module: Module = { file, runtime: [], all: [], packages: [], isComponent: false };
    const visit = (node: ts.Node): void => {
        let specifier: string | undefined;
        let typeOnly = false;
        if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
            specifier = (node.moduleSpecifier as ts.StringLiteral).text;
            typeOnly = isTypeOnly(node);
        } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
            const [argument] = node.arguments;
            specifier = argument !== undefined && ts.isStringLiteral(argument) ? argument.text : undefined;
        } else if (ts.isClassDeclaration(node)) {
            module.isComponent ||= (node.heritageClauses ?? []).some((clause) =>
                clause.types.some((type) => type.expression.getText(source).endsWith("ComponentResource")),
            );
        }
        if (specifier?.startsWith(".")) {
            const target = resolved(file, specifier);
            module.all.push(target);
            if (!typeOnly) {
                module.runtime.push(target);
            }
        } else if (specifier !== undefined && !typeOnly) {
            module.packages.push(specifier);
        }
        ts.forEachChild(node, visit);
    };
    visit(source);
    return module;
}

const modules = new Map(
    [
        ...sourceFiles(".", false),
        ...sourceFiles("cost", true),
        ...sourceFiles("scripts", true),
        ...sourceFiles("tests", true),
    ].map((file) => [file, parse(file)]),
);
const program = [...modules.values()].filter((m) => !m.file.startsWith("tests") && !m.file.startsWith("scripts"));

/** Every module `file` loads at run time, directly or through others. */
function loadedBy(file: string, seen = new Set<string>()): Set<string> {
    for (const target of modules.get(file)?.runtime ?? []) {
        if (!seen.has(target)) {
            seen.add(target);
            loadedBy(target, seen);
        }
    }
    return seen;
}

describe("the import graph follows docs/architecture.md", () => {
    test("the graph is read: the program's modules and their imports are found", () => {
        assert.ok(modules.get("index.ts")?.runtime.includes("config.ts"));
        assert.ok(modules.get("cluster.ts")?.isComponent);
    });
    test("no import cycle among the program, the cost estimate and the scripts", () => {
        const cycles = [...modules.values()]
            .filter((m) => !m.file.startsWith("tests"))
            .filter((m) => loadedBy(m.file).has(m.file))
            .map((m) => m.file);
        assert.deepEqual(cycles, []);
    });
    test("config.ts loads no component and no provider SDK when it runs", () => {
        const loaded = [...loadedBy("config.ts")].map((file) => modules.get(file));
        assert.deepEqual(
            loaded.filter((m) => m?.isComponent).map((m) => m?.file),
            [],
            "components loaded by config.ts",
        );
        const sdks = loaded.flatMap((m) => m?.packages ?? []).filter((name) => PROVIDERS.includes(name));
        assert.deepEqual(
            sdks.concat(modules.get("config.ts")?.packages.filter((n) => PROVIDERS.includes(n)) ?? []),
            [],
        );
    });
    test("no component imports the configuration: it gets everything through its Args", () => {
        const readers = program.filter((m) => m.isComponent && m.all.includes("config.ts")).map((m) => m.file);
        assert.deepEqual(readers, []);
    });
    test("the scripts and the cost estimate import nothing under tests/", () => {
        const offenders = [...modules.values()]
            .filter((m) => !m.file.startsWith("tests"))
            .flatMap((m) =>
                m.all.filter((target) => target.startsWith("tests")).map((target) => `${m.file} → ${target}`),
            );
        assert.deepEqual(offenders, []);
    });
});
