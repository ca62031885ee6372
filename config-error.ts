import { RunError } from "@pulumi/pulumi";

/** A RunError prints without a stack trace (pulumi's cmd/run/run.js). */
export class ConfigError extends RunError {
    constructor(key: string, problem: string) {
        super(`config '${key}': ${problem}`);
        this.name = "ConfigError";
    }
}
