// What the program declares, as plain JSON that can be compared and stored: every resource's type, name,
// inputs and dependencies, secrets replaced by a marker (so no value is stored) and the build context's
// content hash by a placeholder (the service's code changes it, not the stack).
import * as pulumi from "@pulumi/pulumi";
import { isSecretInput, recorded } from "./mocks";
import { contentHash } from "../../registry";

export interface RenderedResource {
    type: string;
    name: string;
    inputs: unknown;
    dependencies: string[];
}

const SECRET = "[secret]";
const CONTENT_HASH = "[content hash of app/]";

function normalized(value: unknown, appHash: string): unknown {
    if (isSecretInput(value)) {
        return SECRET;
    }
    if (pulumi.Resource.isInstance(value)) {
        return "[resource reference]";
    }
    if (typeof value === "string") {
        return value.split(appHash).join(CONTENT_HASH);
    }
    if (Array.isArray(value)) {
        return value.map((item) => normalized(item, appHash));
    }
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(
            Object.entries(value)
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([key, inner]) => [key, normalized(inner, appHash)]),
        );
    }
    return value;
}

/** Everything recorded so far, in a stable order. Run from the project directory (the build context is `app`). */
export function rendering(): RenderedResource[] {
    const appHash = contentHash("app");
    return recorded
        .map((resource) => ({
            type: resource.type,
            name: resource.name,
            inputs: normalized(resource.inputs, appHash),
            dependencies: [...resource.dependencies].sort(),
        }))
        .sort((a, b) => `${a.type}::${a.name}`.localeCompare(`${b.type}::${b.name}`));
}
