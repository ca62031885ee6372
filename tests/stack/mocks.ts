// The tests' view of the mocks (scripts/lib/mocks.ts): the mocks themselves, and the queries the tests read the
// recorded resources with.
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { RecordedResource, ResourceLifecycle, isSecretInput, recorded } from "../../scripts/lib/mocks";

export * from "../../scripts/lib/mocks";

/** Whether the engine was told that `dependent` depends on the resource of that type and name. */
export function dependsOn(dependent: RecordedResource, type: string, name: string): boolean {
    return dependent.dependencies.some((urn) => urn.endsWith(`${type}::${name}`));
}

export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((value) => resolve(value)));
}

/**
 * The error thrown while computing an Output (e.g. by a validation in `apply`). `apply` never reports errors, so
 * this reads the promises Pulumi's Output implementation holds but leaves out of its type; all of them are awaited,
 * so none is left rejected without a handler.
 */
export async function errorOf(output: pulumi.Output<unknown>): Promise<Error> {
    const internals = output as unknown as {
        promise(): Promise<unknown>;
        isKnown: Promise<boolean>;
        isSecret: Promise<boolean>;
    };
    const [value] = await Promise.allSettled([internals.promise(), internals.isKnown, internals.isSecret]);
    if (value.status === "fulfilled") {
        throw new Error("the output has a value; expected its computation to fail");
    }
    return value.reason as Error;
}

// `any`: recorded inputs are untyped JSON as the engine received them; the assertions check their shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

/** The recorded resources of a type, optionally only those with the given Pulumi name. */
export function resourcesOfType(type: string, name?: string): RecordedResource[] {
    return recorded.filter((resource) => resource.type === type && (name === undefined || resource.name === name));
}

export function resourceOf(type: string, name?: string): RecordedResource {
    const matches = resourcesOfType(type, name);
    if (matches.length !== 1) {
        throw new Error(
            `expected exactly one ${type}${name ? ` named ${name}` : ""}, found ${matches.length}: ${matches.map((m) => m.name).join(", ")}`,
        );
    }
    return matches[0];
}

/** The lifecycle options of the one recorded resource of that type (and name). */
export function options(type: string, name?: string): ResourceLifecycle {
    return resourceOf(type, name).options;
}

/** The inputs of the one recorded resource of that type (and name). */
export function inputsOf(type: string, name?: string): Json {
    return resourceOf(type, name).inputs;
}

/** The inputs of the one Kubernetes object of that kind (`apps/v1:Deployment`) with that metadata.name. */
export function k8s(kind: string, name: string): Json {
    const found = resourcesOfType(`kubernetes:${kind}`)
        .map((r) => r.inputs as Json)
        .filter((o) => o.metadata?.name === name);
    assert.equal(found.length, 1, `one ${kind} named ${name}`);
    return found[0];
}

/**
 * JSON with object keys sorted, so two renders compare by content, not by the order keys were written in. With
 * "marked" a secret compares as its marked wrapper (a change of secrecy is a change); "unwrapped" compares its value.
 */
export function canonicalJson(value: unknown, secrets: "marked" | "unwrapped"): string {
    const sorted = (inner: unknown): unknown => {
        if (secrets === "unwrapped" && isSecretInput(inner)) {
            return sorted((inner as { value: unknown }).value);
        }
        if (Array.isArray(inner)) {
            return inner.map(sorted);
        }
        if (typeof inner === "object" && inner !== null) {
            return Object.fromEntries(
                Object.keys(inner)
                    .sort()
                    .map((key) => [key, sorted((inner as Record<string, unknown>)[key])]),
            );
        }
        return inner;
    };
    return JSON.stringify(sorted(value)) ?? "undefined";
}
