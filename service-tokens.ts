import { createHmac } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { TOKENS_SECRET } from "./workload-names";

export interface TokenArgs {
    /** Comma-separated tokens any of which allows writes to /api/ (secret). */
    readonly apiTokens?: pulumi.Input<string>;
    /** Reads of /api/ need a token too. */
    readonly readsNeedToken?: boolean;
    /** Comma-separated tokens any of which allows reading /metrics (secret). */
    readonly metricsTokens?: pulumi.Input<string>;
}

export interface ServiceTokensArgs {
    readonly namespace: pulumi.Input<string>;
    /** A list left unset is replaced by one token the stack generates. */
    readonly tokens?: TokenArgs;
}

export interface ServiceTokens {
    readonly apiTokens: pulumi.Output<string>;
    readonly metricsTokens: pulumi.Output<string>;
    /** The Secret the pods read the tokens from. */
    readonly secret: k8s.core.v1.Secret;
    /** An HMAC of the tokens for the pod template, so a rotation rolls the pods; not secret. */
    readonly fingerprint: pulumi.Output<string>;
}

/** Long enough that guessing is hopeless; letters and digits only, valid in any bearer header. */
const GENERATED_TOKEN_LENGTH = 48;

function generatedToken(name: string, opts: pulumi.CustomResourceOptions): pulumi.Output<string> {
    // Kept in the state (encrypted, as a secret) so every update hands the pods the same token.
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
    // Keyed with a secret of the state, which nobody who reads the pod template has: a weak chosen token cannot be
    // guessed from the fingerprint offline.
    const fingerprintKey = generatedToken(`${name}-tokens-fingerprint-key`, opts);
    const fingerprint = pulumi.unsecret(
        pulumi
            .all([fingerprintKey, apiTokens, metricsTokens])
            .apply(([key, api, metrics]) => createHmac("sha256", key).update(`${api}\n${metrics}`).digest("hex")),
    );
    return { apiTokens, metricsTokens, secret, fingerprint };
}
