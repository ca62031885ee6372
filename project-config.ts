// The settings Pulumi.yaml declares, read from the file the CLI reads: the program applies the same defaults when
// it runs without the CLI (tests, synth, cost). docs/configuration.md#where-the-defaults-live
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";

export type DeclaredType = "string" | "integer" | "boolean" | "array";
export type DeclaredValue = string | number | boolean | string[];

/** One entry of Pulumi.yaml's `config:`, as pulumi/pulumi's project schema (project.json) defines it. */
export interface Declaration {
    type?: DeclaredType;
    items?: { type: DeclaredType };
    description?: string;
    secret?: boolean;
    default?: DeclaredValue;
    /** A provider's key (`aws:region`) takes a value instead of a default. */
    value?: DeclaredValue;
}

export const PROJECT_FILE = path.join(__dirname, "Pulumi.yaml");

interface Project {
    name: string;
    config: Record<string, Declaration>;
}

let project: Project | undefined;

function load(): Project {
    project ??= YAML.parse(fs.readFileSync(PROJECT_FILE, "utf8")) as Project;
    return project;
}

export function projectName(): string {
    return load().name;
}

/** Every declared key as `pulumi config set` spells it: the project's own bare, others namespaced. */
export function declarations(): Record<string, Declaration> {
    return load().config;
}

/** The declaration of a key the program reads; an undeclared key is a defect of the program, not of the stack. */
export function declaration(key: string, type: DeclaredType | undefined): Declaration {
    const declared = declarations()[key];
    if (declared === undefined || declared.type !== type) {
        throw new Error(
            `Pulumi.yaml declares ${key} ${declared ? `as ${declared.type}` : "not at all"}; read as ${type}`,
        );
    }
    return declared;
}

/** A value as the CLI hands it to the program: text, lists as JSON (pkg/workspace/config.go, createConfigValue). */
export function asConfigText(value: DeclaredValue): string {
    return Array.isArray(value) ? JSON.stringify(value) : String(value);
}
