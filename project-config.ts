// Pulumi.yaml's settings: docs/configuration.md#where-the-defaults-live
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";

export type DeclaredType = "string" | "integer" | "boolean" | "array";
export type DeclaredValue = string | number | boolean | string[];

/** As pulumi/pulumi's project schema (sdk/go/common/workspace/project.json) defines it. */
export interface Declaration {
    type?: DeclaredType;
    items?: { type: DeclaredType };
    description?: string;
    secret?: boolean;
    default?: DeclaredValue;
    /** Instead of a default, for another package's key (`aws:region`). */
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

/** Keyed as `pulumi config set` spells them. */
export function declarations(): Record<string, Declaration> {
    return load().config;
}

/** An undeclared key, or one read as another type, is a defect of the program. */
export function declaration(key: string, type: DeclaredType | undefined): Declaration {
    const declared = declarations()[key];
    if (declared === undefined || declared.type !== type) {
        throw new Error(
            `Pulumi.yaml declares ${key} ${declared ? `as ${declared.type}` : "not at all"}; read as ${type}`,
        );
    }
    return declared;
}

/** As the CLI hands a default to the program (pkg/workspace/config.go, createConfigValue). */
export function asConfigText(value: DeclaredValue): string {
    return Array.isArray(value) ? JSON.stringify(value) : String(value);
}
