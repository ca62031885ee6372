/**
 * Points Prometheus at the deployed service: reads the Pulumi stack outputs and writes
 * monitoring/targets/eks.json, a file_sd target group naming the load balancer's host:80.
 *
 * Usage:
 *   npm run monitoring:targets                                   # runs `pulumi stack output --json --stack dev`
 *   npm run monitoring:targets -- --stack prod                   # another stack
 *   npm run monitoring:targets -- --outputs saved-outputs.json   # a saved copy of those outputs
 *   npm run monitoring:targets -- --out /some/dir/eks.json       # another destination
 *
 * Prometheus re-reads file_sd files when they change, so no restart is needed.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";

const PROJECT = "fastapi-app";
const DEFAULT_STACK = "dev";
const DEFAULT_TARGETS_FILE = join(__dirname, "..", "monitoring", "targets", "eks.json");
const LOAD_BALANCER_PORT = 80;
const REQUIRED_OUTPUTS = ["loadBalancerHostname", "clusterName", "namespace"] as const;

type RequiredOutput = (typeof REQUIRED_OUTPUTS)[number];
export type StackOutputs = Record<RequiredOutput, string>;

/** One entry of a Prometheus file_sd file. */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

interface Options {
  stack: string;
  outputsFile?: string;
  targetsFile: string;
}

/** Validates the outputs this command needs, naming every missing or empty one. */
export function parseStackOutputs(raw: unknown): StackOutputs {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Error("stack outputs must be a JSON object, as printed by `pulumi stack output --json`");
  }
  const record = raw as Record<string, unknown>;
  const missing = REQUIRED_OUTPUTS.filter((key) => typeof record[key] !== "string" || record[key] === "");
  if (missing.length > 0) {
    throw new Error(
      `stack outputs lack ${missing.join(", ")}: run \`pulumi up\` first; ` +
        "loadBalancerHostname appears once AWS has provisioned the Service's load balancer",
    );
  }
  const outputs = Object.fromEntries(REQUIRED_OUTPUTS.map((key) => [key, record[key]])) as StackOutputs;
  if (!/^[A-Za-z0-9.-]+$/.test(outputs.loadBalancerHostname)) {
    throw new Error(
      `loadBalancerHostname "${outputs.loadBalancerHostname}" is not a bare host name (no scheme, port or path)`,
    );
  }
  return outputs;
}

export function targetGroups(outputs: StackOutputs, stack: string): TargetGroup[] {
  return [
    {
      targets: [`${outputs.loadBalancerHostname}:${LOAD_BALANCER_PORT}`],
      labels: {
        environment: stack,
        stack: `${PROJECT}/${stack}`,
        cluster: outputs.clusterName,
        namespace: outputs.namespace,
      },
    },
  ];
}

/** Writes beside the destination, then renames: Prometheus never reads a half-written file. */
export function writeFileAtomically(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  // The suffix keeps the temporary file outside Prometheus's targets/*.json glob.
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, content, { mode: 0o644 });
    renameSync(temporary, path);
  } finally {
    rmSync(temporary, { force: true });
  }
}

function readPulumiOutputs(stack: string): unknown {
  const result = spawnSync("pulumi", ["stack", "output", "--json", "--stack", stack], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (result.error !== undefined) {
    const notFound = (result.error as NodeJS.ErrnoException).code === "ENOENT";
    const reason = notFound ? "is not installed or not on PATH" : `failed: ${result.error.message}`;
    throw new Error(
      `the pulumi CLI ${reason}; install it (https://www.pulumi.com/docs/install/) ` +
        "or pass --outputs <file> holding the output of `pulumi stack output --json`",
    );
  }
  if (result.status !== 0) {
    throw new Error(`\`pulumi stack output --json --stack ${stack}\` failed: ${result.stderr.trim()}`);
  }
  return parseJson(result.stdout, `pulumi stack output --json --stack ${stack}`);
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
  } catch (error) {
    throw new Error(`${source} is not valid JSON: ${(error as Error).message}`);
  }
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      stack: { type: "string", default: DEFAULT_STACK },
      outputs: { type: "string" },
      out: { type: "string", default: DEFAULT_TARGETS_FILE },
    },
    strict: true,
    allowPositionals: false,
  });
  return { stack: values.stack, outputsFile: values.outputs, targetsFile: values.out };
}

/** Writes the targets file and returns the target group written. */
function writeTargets(options: Options): TargetGroup[] {
  const raw = options.outputsFile === undefined ? readPulumiOutputs(options.stack) : readSavedOutputs(options.outputsFile);
  const groups = targetGroups(parseStackOutputs(raw), options.stack);
  writeFileAtomically(options.targetsFile, `${JSON.stringify(groups, null, 2)}\n`);
  return groups;
}

function main(): void {
  try {
    const options = parseOptions(process.argv.slice(2));
    const [group] = writeTargets(options);
    console.log(`wrote ${options.targetsFile}: job fastapi scrapes ${group.targets.join(", ")} (environment ${options.stack})`);
  } catch (error) {
    console.error(`monitoring:targets: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}

if (require.main === module) {
  main();
}
