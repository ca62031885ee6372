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
    /** A list left unset: one generated token. */
    readonly tokens?: TokenArgs;
}

export interface ServiceTokens {
    readonly apiTokens: pulumi.Output<string>;
    readonly metricsTokens: pulumi.Output<string>;
    readonly secret: k8s.core.v1.Secret;
    /** An HMAC of the tokens for the pod template; not secret. */
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
    // Keyed with a secret of the state: a weak chosen token cannot be guessed offline from the pod template.
    const fingerprintKey = generatedToken(`${name}-tokens-fingerprint-key`, opts);
    const fingerprint = pulumi.unsecret(
        pulumi
            .all([fingerprintKey, apiTokens, metricsTokens])
            .apply(([key, api, metrics]) => createHmac("sha256", key).update(`${api}\n${metrics}`).digest("hex")),
    );
    return { apiTokens, metricsTokens, secret, fingerprint };
}
