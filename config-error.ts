import { RunError } from "@pulumi/pulumi";

/**
 * A bad configuration value: `config '<key>': <what is wrong, the rule, a good example>`. A RunError, because for
 * those the Pulumi Node.js runtime prints the message alone, without a stack trace (cmd/run/run.js).
 */
export class ConfigError extends RunError {
    constructor(key: string, problem: string) {
        super(`config '${key}': ${problem}`);
        this.name = "ConfigError";
    }
}
