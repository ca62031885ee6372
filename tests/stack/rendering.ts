// What the program declares, as plain JSON that can be compared and stored: every resource's type, name,
// inputs and dependencies, secrets replaced by a marker (so no value is stored) and the build context's
// content hash by a placeholder (the service's code changes it, not the stack).
import * as pulumi from "@pulumi/pulumi";
import { isSecretInput, recorded } from "../../scripts/lib/mocks";
import { contentHash } from "../../build-context";

export interface RenderedResource {
    type: string;
    name: string;
    inputs: unknown;
    dependencies: string[];
}

const SECRET = "[secret]";
const CONTENT_HASH = "[content hash of app/]";

/** A string holding a JSON object or array (an IAM or lifecycle policy), parsed; anything else undefined. */
function parsedJson(value: string): unknown {
    if (!/^\s*[[{]/.test(value)) {
        return undefined;
    }
    try {
        return JSON.parse(value) as unknown;
    } catch {
        return undefined;
    }
}

function normalized(value: unknown, appHash: string, parseJson = false): unknown {
    if (isSecretInput(value)) {
        return SECRET;
    }
    if (pulumi.Resource.isInstance(value)) {
        return "[resource reference]";
    }
    if (typeof value === "string") {
        const parsed = parseJson ? parsedJson(value) : undefined;
        return parsed === undefined ? value.split(appHash).join(CONTENT_HASH) : normalized(parsed, appHash, parseJson);
    }
    if (Array.isArray(value)) {
        return value.map((item) => normalized(item, appHash, parseJson));
    }
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(
            Object.entries(value)
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([key, inner]) => [key, normalized(inner, appHash, parseJson)]),
        );
    }
    return value;
}

/** Everything recorded so far, in a stable order. Run from the project directory (the build context is `app`). */
export function rendering(): RenderedResource[] {
    const appHash = contentHash("app", "linux/amd64");
    return recorded
        .map((resource) => ({
            type: resource.type,
            name: resource.name,
            inputs: normalized(resource.inputs, appHash),
            dependencies: [...resource.dependencies].sort(),
        }))
        .sort((a, b) => `${a.type}::${a.name}`.localeCompare(`${b.type}::${b.name}`));
}

/** One resource as the no-behaviour-change snapshot holds it: policy documents compared as JSON, string or object. */
export interface SnapshotResource {
    urn: string;
    type: string;
    inputs: unknown;
    dependencies: string[];
    /** Its parent's URN and earlier URNs (`aliases`): not stored, used to match a moved resource with its snapshot. */
    parent?: string;
    aliases?: string[];
}

/** Everything recorded so far by URN, in a stable order. Run from the project directory. */
export function snapshot(): SnapshotResource[] {
    const appHash = contentHash("app", "linux/amd64");
    return recorded
        .map((resource) => ({
            urn: resource.urn,
            type: resource.type,
            inputs: normalized(resource.inputs, appHash, true),
            dependencies: [...resource.dependencies].sort(),
            parent: resource.parent,
            aliases: resource.aliases,
        }))
        .sort((a, b) => a.urn.localeCompare(b.urn));
}
