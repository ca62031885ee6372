/**
 * Points Prometheus at the deployed service: reads the Pulumi stack outputs and writes
 * monitoring/secrets/metrics-token (the token /metrics asks for, mode 0600) and then
 * monitoring/targets/eks.json, a file_sd target group naming the load balancer (http on 80, or https on 443).
 *
 * Usage:
 *   npm run monitoring:targets                                   # runs `pulumi stack output --json --show-secrets --stack dev`
 *   npm run monitoring:targets -- --stack prod                   # another stack
 *   npm run monitoring:targets -- --outputs saved-outputs.json   # a saved copy of those outputs (with --show-secrets)
 *   npm run monitoring:targets -- --out /some/dir/eks.json       # another destination
 *   npm run monitoring:targets -- --token-out /some/dir/token    # another destination for the token
 *
 * Prometheus re-reads file_sd files when they change, and the token file at every scrape, so no restart is needed.
 * Nothing the outputs hold is ever printed: the token goes only to its file.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";

const PROJECT = "fastapi-app";
const DEFAULT_STACK = "dev";
const DEFAULT_TARGETS_FILE = join(__dirname, "..", "monitoring", "targets", "eks.json");
const DEFAULT_TOKEN_FILE = join(__dirname, "..", "monitoring", "secrets", "metrics-token");
const REQUIRED_OUTPUTS = ["url", "loadBalancerHostname", "clusterName", "namespace", "metricsTokens"] as const;
const PORTS: Record<string, number> = { "http:": 80, "https:": 443 };
/** The service's token rule (app/src/fastapi_app/settings.py); "[secret]" from outputs read without --show-secrets fails it. */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]{16,512}=*$/;

/** What Prometheus needs from the stack outputs. */
export interface StackOutputs {
  scheme: "http" | "https";
  loadBalancerHostname: string;
  clusterName: string;
  namespace: string;
  /** The first of the stack's metrics tokens: the one Prometheus sends. */
  metricsToken: string;
}

/** One entry of a Prometheus file_sd file. */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

interface Options {
  stack: string;
  outputsFile?: string;
  targetsFile: string;
  tokenFile: string;
}

/** Validates the outputs this command needs, naming every missing or empty one, never showing a value of a secret. */
export function parseStackOutputs(raw: unknown): StackOutputs {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Error("stack outputs must be a JSON object, as printed by `pulumi stack output --json --show-secrets`");
  }
  const record = raw as Record<string, unknown>;
  const missing = REQUIRED_OUTPUTS.filter((key) => typeof record[key] !== "string" || record[key] === "");
  if (missing.length > 0) {
    throw new Error(
      `stack outputs lack ${missing.join(", ")}: run \`pulumi up\` first; ` +
        "loadBalancerHostname appears once AWS has provisioned the Service's load balancer",
    );
  }
  const text = (key: (typeof REQUIRED_OUTPUTS)[number]): string => record[key] as string;
  const loadBalancerHostname = text("loadBalancerHostname");
  if (!/^[A-Za-z0-9.-]+$/.test(loadBalancerHostname)) {
    throw new Error(`loadBalancerHostname "${loadBalancerHostname}" is not a bare host name (no scheme, port or path)`);
  }
  const url = URL.canParse(text("url")) ? new URL(text("url")) : undefined;
  if (url === undefined || !(url.protocol in PORTS) || url.hostname !== loadBalancerHostname.toLowerCase()) {
    throw new Error(`url "${text("url")}" is not http:// or https:// followed by loadBalancerHostname`);
  }
  const metricsToken = text("metricsTokens").split(",")[0].trim();
  if (!BEARER_TOKEN.test(metricsToken)) {
    throw new Error(
      "metricsTokens is not a token (outputs read without --show-secrets show \"[secret]\"): " +
        "save them with `pulumi stack output --json --show-secrets`",
    );
  }
  return {
    scheme: url.protocol === "https:" ? "https" : "http",
    loadBalancerHostname,
    clusterName: text("clusterName"),
    namespace: text("namespace"),
    metricsToken,
  };
}

export function targetGroups(outputs: StackOutputs, stack: string): TargetGroup[] {
  return [
    {
      targets: [`${outputs.loadBalancerHostname}:${PORTS[`${outputs.scheme}:`]}`],
      labels: {
        // Prometheus takes a target's scheme from this label; the job's own is http.
        ...(outputs.scheme === "https" ? { __scheme__: "https" } : {}),
        environment: stack,
        stack: `${PROJECT}/${stack}`,
        cluster: outputs.clusterName,
        namespace: outputs.namespace,
      },
    },
  ];
}

/** Writes beside the destination, then renames: Prometheus never reads a half-written file. */
export function writeFileAtomically(path: string, content: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  // The suffix keeps the temporary file outside Prometheus's targets/*.json glob.
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    // The mode is set at creation, so a secret is never readable by others, even for an instant.
    writeFileSync(temporary, content, { mode });
    renameSync(temporary, path);
  } finally {
    rmSync(temporary, { force: true });
  }
}

function readPulumiOutputs(stack: string): unknown {
  const result = spawnSync("pulumi", ["stack", "output", "--json", "--show-secrets", "--stack", stack], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (result.error !== undefined) {
    const notFound = (result.error as NodeJS.ErrnoException).code === "ENOENT";
    const reason = notFound ? "is not installed or not on PATH" : `failed: ${result.error.message}`;
    throw new Error(
      `the pulumi CLI ${reason}; install it (https://www.pulumi.com/docs/install/) ` +
        "or pass --outputs <file> holding the output of `pulumi stack output --json --show-secrets`",
    );
  }
  if (result.status !== 0) {
    throw new Error(`\`pulumi stack output --json --show-secrets --stack ${stack}\` failed: ${result.stderr.trim()}`);
  }
  return parseJson(result.stdout, `pulumi stack output --json --show-secrets --stack ${stack}`);
}

function readSavedOutputs(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read stack outputs file ${path}: ${(error as Error).message}`);
  }
  return parseJson(text, path);
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // JSON.parse's message quotes the text around the error, which may be a secret.
    throw new Error(`${source} is not valid JSON`);
  }
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      stack: { type: "string", default: DEFAULT_STACK },
      outputs: { type: "string" },
      out: { type: "string", default: DEFAULT_TARGETS_FILE },
      "token-out": { type: "string", default: DEFAULT_TOKEN_FILE },
    },
    strict: true,
    allowPositionals: false,
  });
  return { stack: values.stack, outputsFile: values.outputs, targetsFile: values.out, tokenFile: values["token-out"] };
}

/** Writes the targets file and returns the target group written. */
function writeTargets(options: Options): TargetGroup[] {
  const raw = options.outputsFile === undefined ? readPulumiOutputs(options.stack) : readSavedOutputs(options.outputsFile);
  const outputs = parseStackOutputs(raw);
  const groups = targetGroups(outputs, options.stack);
  // The token first: once Prometheus sees the target, its scrapes already carry the token.
  writeFileAtomically(options.tokenFile, outputs.metricsToken, 0o600);
  writeFileAtomically(options.targetsFile, `${JSON.stringify(groups, null, 2)}\n`);
  return groups;
}

function main(): void {
  try {
    const options = parseOptions(process.argv.slice(2));
    const [group] = writeTargets(options);
    const scheme = group.labels.__scheme__ ?? "http";
    console.log(
      `wrote ${options.tokenFile} and ${options.targetsFile}: job fastapi scrapes ${scheme}://${group.targets.join(", ")} ` +
        `with the metrics token (environment ${options.stack})`,
    );
  } catch (error) {
    console.error(`monitoring:targets: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}

if (require.main === module) {
  main();
}
