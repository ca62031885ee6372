import { createHmac } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { TOKENS_SECRET } from "./workload-names";

export interface TokenArgs {
    /** Comma-separated tokens that allow writes to /api/ (secret). */
    readonly apiTokens?: pulumi.Input<string>;
    readonly readsNeedToken?: boolean;
    /** Comma-separated tokens that allow reading /metrics (secret). */
    readonly metricsTokens?: pulumi.Input<string>;
}

export interface ServiceTokensArgs {
    readonly namespace: pulumi.Input<string>;
    readonly tokens?: TokenArgs;
}

export interface ServiceTokens {
    readonly apiTokens: pulumi.Output<string>;
    readonly metricsTokens: pulumi.Output<string>;
    readonly secret: k8s.core.v1.Secret;
    /** Not secret. */
    readonly fingerprint: pulumi.Output<string>;
}

/** Letters and digits only: valid in any bearer header. */
const GENERATED_TOKEN_LENGTH = 48;

function generatedToken(name: string, opts: pulumi.CustomResourceOptions): pulumi.Output<string> {
    return new random.RandomPassword(name, { length: GENERATED_TOKEN_LENGTH, special: false }, opts).result;
}

/** The service's bearer tokens, given or generated, in their Secret. */
export function createServiceTokens(
    name: string,
    args: ServiceTokensArgs,
    opts: pulumi.CustomResourceOptions,
): ServiceTokens {
    const tokens = args.tokens ?? {};
    const apiTokens = pulumi.secret(tokens.apiTokens ?? generatedToken(`${name}-api-token`, opts));
    const metricsTokens = pulumi.secret(tokens.metricsTokens ?? generatedToken(`${name}-metrics-token`, opts));
    const secret = new k8s.core.v1.Secret(
        `${name}-tokens`,
        {
            metadata: { name: TOKENS_SECRET, namespace: args.namespace },
            type: "Opaque",
            stringData: { API_TOKENS: apiTokens, METRICS_TOKENS: metricsTokens },
        },
        opts,
    );
    const fingerprint = keyedFingerprint(`${name}-tokens`, pulumi.interpolate`${apiTokens}\n${metricsTokens}`, opts);
    return { apiTokens, metricsTokens, secret, fingerprint };
}

/**
 * An HMAC for a pod template, so a new value rolls the pods; keyed with a secret of the state, a weak value
 * cannot be guessed offline from the template.
 */
export function keyedFingerprint(
    name: string,
    value: pulumi.Input<string>,
    opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
    const key = generatedToken(`${name}-fingerprint-key`, opts);
    return pulumi.unsecret(
        pulumi.all([key, value]).apply(([secret, text]) => createHmac("sha256", secret).update(text).digest("hex")),
    );
}
