// The monthly AWS bill of what the program declares, rendered offline and priced by cost/estimate.ts (--help).
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import YAML from "yaml";
import { ConfigError } from "../config";
import { FAKE_DATABASE_URL, setStackConfig } from "./lib/mocks";
import { PricingError, estimate } from "../cost/estimate";
import { markdownReport } from "../cost/report";
import { renderProgram } from "./lib/render";
import { asConfigText, declarations } from "../project-config";

const PROJECT = "fastapi-app";
const USAGE = "usage: npm run cost -- [--stack NAME] [--config KEY=VALUE ...] [--json]";
export const HELP = `${USAGE}
Estimates the stack's monthly AWS bill, in US dollars, from what the program declares with the stack's
configuration (Pulumi.<stack>.yaml), priced by cost/prices.json. Needs no AWS access, no Pulumi CLI and no secret.

options:
  --stack NAME          the stack whose configuration to read (default: dev)
  --config KEY=VALUE    a setting to estimate with instead, as pulumi config set takes it (repeatable)
  --json                the estimate as JSON instead of a Markdown table
  -h, --help            this text

examples:
  npm run cost
  npm run cost -- --stack dev --config nodeCapacityType=SPOT
  npm run cost -- --config aws:region=us-east-1 --config nodeMaxSize=5
  npm run cost -- --config databaseUrl=postgresql://app@db.example.com:5432/app --json`;

interface Options {
    stack: string;
    overrides: [string, string][];
    json: boolean;
    help: boolean;
}

export class UsageError extends Error {}

/** A missing value (the end, or another option) names the option. */
function optionValue(argv: string[], index: number, placeholder: string): string {
    const value = argv[index + 1];
    if (value === undefined || value.startsWith("--")) {
        throw new UsageError(`${argv[index]} needs a value: ${argv[index]} ${placeholder}`);
    }
    return value;
}

export function parseArguments(argv: string[]): Options {
    const options: Options = { stack: "dev", overrides: [], json: false, help: false };
    for (let index = 0; index < argv.length; index++) {
        const argument = argv[index];
        if (argument === "--help" || argument === "-h") {
            return { ...options, help: true };
        } else if (argument === "--json") {
            options.json = true;
        } else if (argument === "--stack") {
            options.stack = optionValue(argv, index++, "NAME");
        } else if (argument === "--config") {
            const pair = optionValue(argv, index++, "KEY=VALUE");
            const separator = pair.indexOf("=");
            if (separator <= 0) {
                throw new UsageError(`--config takes KEY=VALUE, got '${pair}'`);
            }
            options.overrides.push([pair.slice(0, separator), pair.slice(separator + 1)]);
        } else {
            throw new UsageError(`unexpected argument '${argument}'`);
        }
    }
    return options;
}

/** Keys as `pulumi config set` spells them: the project's own bare, other namespaces in full. */
function namespaced(key: string): string {
    return key.includes(":") ? key : `${PROJECT}:${key}`;
}

/** Secrets whose value cannot change the bill: left out, the program generates stand-ins for them. */
const SECRETS_WITHOUT_COST = new Set([`${PROJECT}:apiTokens`, `${PROJECT}:metricsTokens`]);

interface StackFileConfig {
    config: Record<string, string>;
    /** Other secrets of the stack file, which the estimate needs a value for (given with --config). */
    secrets: string[];
}

/** Secrets stay encrypted: a configured databaseUrl only tells that the database is external. */
function stackConfig(directory: string, stack: string): StackFileConfig {
    const file = path.join(directory, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) {
        throw new UsageError(
            `no ${path.basename(file)}: create the stack (pulumi stack init ${stack}) or name another with --stack`,
        );
    }
    // Another package's key takes Pulumi.yaml's value, as the CLI gives it.
    const config: Record<string, string> = Object.fromEntries(
        Object.entries(declarations()).flatMap(([key, declared]) =>
            key.includes(":") && declared.value !== undefined ? [[key, asConfigText(declared.value)]] : [],
        ),
    );
    const secrets: string[] = [];
    for (const [key, value] of Object.entries(
        (YAML.parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null)?.config ?? {},
    )) {
        const secure = typeof value === "object" && value !== null && "secure" in value;
        if (!secure) {
            config[key] = typeof value === "string" ? value : JSON.stringify(value);
        } else if (key === `${PROJECT}:databaseUrl`) {
            config[key] = FAKE_DATABASE_URL;
        } else if (!SECRETS_WITHOUT_COST.has(key)) {
            secrets.push(key);
        }
    }
    return { config, secrets };
}

export interface CostRequest {
    /** Every setting, namespaced (`fastapi-app:nodeMaxSize`, `aws:region`), as setStackConfig takes it. */
    config: Record<string, string>;
    json: boolean;
}

export function costRequest(argv: string[], directory: string): CostRequest {
    const options = parseArguments(argv);
    const { config, secrets } = stackConfig(directory, options.stack);
    for (const [key, value] of options.overrides) {
        config[namespaced(key)] = value;
    }
    const missing = secrets.find((key) => !(key in config));
    if (missing !== undefined) {
        throw new UsageError(
            `${missing} is a secret in Pulumi.${options.stack}.yaml; give the estimate a value with --config ${missing}=...`,
        );
    }
    return { config, json: options.json };
}

async function main(): Promise<void> {
    if (parseArguments(process.argv.slice(2)).help) {
        console.log(HELP);
        return;
    }
    const request = costRequest(process.argv.slice(2), path.join(__dirname, ".."));
    const inventory = await renderProgram(() => setStackConfig(request.config, false));
    const result = estimate(inventory, new pulumi.Config("aws").require("region"));
    console.log(request.json ? JSON.stringify(result, null, 2) : markdownReport(result));
}

function fail(error: unknown): never {
    if (error instanceof UsageError || error instanceof PricingError || error instanceof ConfigError) {
        console.error(
            `cost: ${error.message}${error instanceof UsageError ? `\n${USAGE}\n(options and examples: npm run cost -- --help)` : ""}`,
        );
    } else {
        console.error(error);
    }
    process.exit(1);
}

if (require.main === module) {
    // A setting validated inside an Output (databaseUrl) fails outside main's promise chain.
    process.on("unhandledRejection", fail);
    main().catch(fail);
}
