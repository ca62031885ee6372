/** A bad configuration value: `config '<key>': <what is wrong, the rule, a good example>`, never a stack trace. */
export class ConfigError extends Error {
    constructor(key: string, problem: string) {
        super(`config '${key}': ${problem}`);
        this.name = "ConfigError";
    }
}
