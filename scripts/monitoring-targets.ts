/**
 * Points Prometheus at the deployed service, from the Pulumi stack outputs, in one of two modes:
 *
 * pods (the default when the outputs carry kubernetesApiEndpoint, kubernetesCaCertificate and
 *   metricsScraperToken): writes monitoring/secrets/kubernetes/{token (mode 0600), ca.crt, kubeconfig}, with
 *   which the fastapi-pods job discovers every pod and scrapes it through the Kubernetes API server's proxy,
 *   and removes monitoring/targets/eks.json, so that no pod is scraped through the load balancer as well.
 * lb: writes monitoring/secrets/metrics-token (the token /metrics asks for, mode 0600) and then
 *   monitoring/targets/eks.json, a file_sd target group naming the load balancer (http on 80, or https on 443),
 *   and removes the pods mode's files, so that the fastapi-pods job no longer authenticates.
 *
 * Usage: npm run monitoring:targets -- --help
 *
 * Prometheus re-reads file_sd files when they change, and token files at every scrape, so no restart is needed,
 * except for the kubeconfig, which Prometheus reads when it loads its configuration.
 * Nothing the outputs hold is ever printed: the tokens go only to their files.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";

const PROJECT = "fastapi-app";
const DEFAULT_STACK = "dev";
const DEFAULT_TARGETS_FILE = join(__dirname, "..", "monitoring", "targets", "eks.json");
const DEFAULT_TOKEN_FILE = join(__dirname, "..", "monitoring", "secrets", "metrics-token");
const DEFAULT_KUBERNETES_DIR = join(__dirname, "..", "monitoring", "secrets", "kubernetes");
const REQUIRED_OUTPUTS = ["url", "loadBalancerHostname", "clusterName", "namespace", "metricsTokens"] as const;
const KUBERNETES_OUTPUTS = ["kubernetesApiEndpoint", "kubernetesCaCertificate", "metricsScraperToken"] as const;
const POD_OUTPUTS = [...KUBERNETES_OUTPUTS, "clusterName", "namespace"] as const;
/** The pods mode's files, by the names the kubeconfig and monitoring/prometheus.yml give them. */
export const KUBERNETES_FILES = { token: "token", caCertificate: "ca.crt", kubeconfig: "kubeconfig" } as const;
const SCRAPER = "fastapi-metrics-scraper";
export const MODES = ["pods", "lb"] as const;
export type Mode = (typeof MODES)[number];
const PORTS: Record<string, number> = { "http:": 80, "https:": 443 };
/** The service's token rule (app/src/fastapi_app/settings.py); "[secret]" from outputs read without --show-secrets fails it. */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]{16,512}=*$/;
/** A service account token is a JWT: three base64url parts, longer than the service's own tokens. */
const SERVICE_ACCOUNT_TOKEN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** One or more PEM certificates: a cluster's CA may be a bundle while its certificate is being rotated. */
const PEM_CERTIFICATES = /^(-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*)+$/;

/** What Prometheus needs from the stack outputs. */
export interface StackOutputs {
    scheme: "http" | "https";
    loadBalancerHostname: string;
    clusterName: string;
    namespace: string;
    /** The first of the stack's metrics tokens: the one Prometheus sends. */
    metricsToken: string;
}

/** What the fastapi-pods job needs from the stack outputs. */
export interface KubernetesOutputs {
    /** https://host[:port], as the kubeconfig's server. */
    apiEndpoint: string;
    caCertificate: string;
    /** The long-lived token of the fastapi-metrics-scraper service account. */
    scraperToken: string;
    clusterName: string;
    namespace: string;
}

/** One entry of a Prometheus file_sd file. */
export interface TargetGroup {
    targets: string[];
    labels: Record<string, string>;
}

interface Options {
    stack: string;
    mode?: Mode;
    outputsFile?: string;
    targetsFile: string;
    tokenFile: string;
    kubernetesDir: string;
}

function asRecord(raw: unknown): Record<string, unknown> {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        throw new Error(
            "stack outputs must be a JSON object, as printed by `pulumi stack output --json --show-secrets`",
        );
    }
    return raw as Record<string, unknown>;
}

function isPresent(record: Record<string, unknown>, key: string): boolean {
    return typeof record[key] === "string" && record[key] !== "";
}

/**
 * Fails naming every one of `keys` that is missing or empty, `advice` following the list; else returns each
 * key's text. Never shows a value, which may be a secret.
 */
function requireOutputs<Key extends string>(
    record: Record<string, unknown>,
    keys: readonly Key[],
    advice: string,
): (key: Key) => string {
    const missing = keys.filter((key) => !isPresent(record, key));
    if (missing.length > 0) {
        throw new Error(`stack outputs lack ${missing.join(", ")}${advice}`);
    }
    return (key) => record[key] as string;
}

function parsedUrl(text: string): URL | undefined {
    return URL.canParse(text) ? new URL(text) : undefined;
}

/** The requested mode, or pods where the outputs allow it. */
export function chooseMode(raw: unknown, requested?: Mode): Mode {
    const record = asRecord(raw);
    return requested ?? (KUBERNETES_OUTPUTS.every((key) => isPresent(record, key)) ? "pods" : "lb");
}

/** Validates the outputs pods mode needs, naming every missing or empty one, never showing a secret's value. */
export function parseKubernetesOutputs(raw: unknown): KubernetesOutputs {
    const text = requireOutputs(
        asRecord(raw),
        POD_OUTPUTS,
        ", which pods mode needs: run `pulumi up` with this version of the stack first, or use --mode lb",
    );
    const endpoint = parsedUrl(text("kubernetesApiEndpoint"));
    if (
        endpoint === undefined ||
        endpoint.protocol !== "https:" ||
        endpoint.pathname !== "/" ||
        endpoint.search !== ""
    ) {
        throw new Error(`kubernetesApiEndpoint "${text("kubernetesApiEndpoint")}" is not https://<host>[:port]`);
    }
    if (!PEM_CERTIFICATES.test(text("kubernetesCaCertificate"))) {
        throw new Error("kubernetesCaCertificate is not a PEM certificate (-----BEGIN CERTIFICATE----- ...)");
    }
    const scraperToken = text("metricsScraperToken").trim();
    if (!SERVICE_ACCOUNT_TOKEN.test(scraperToken)) {
        throw new Error(
            'metricsScraperToken is not a service account token (outputs read without --show-secrets show "[secret]"): ' +
                "save them with `pulumi stack output --json --show-secrets`",
        );
    }
    return {
        apiEndpoint: endpoint.origin,
        caCertificate: text("kubernetesCaCertificate"),
        scraperToken,
        clusterName: text("clusterName"),
        namespace: text("namespace"),
    };
}

/**
 * The kubeconfig Prometheus's Kubernetes discovery reads. Its file names are relative: client-go resolves them
 * against the kubeconfig's own directory, so the same file works on this machine and in the compose container.
 */
export function scraperKubeconfig(outputs: KubernetesOutputs): string {
    const config = {
        apiVersion: "v1",
        kind: "Config",
        clusters: [
            {
                name: outputs.clusterName,
                cluster: { server: outputs.apiEndpoint, "certificate-authority": KUBERNETES_FILES.caCertificate },
            },
        ],
        users: [{ name: SCRAPER, user: { tokenFile: KUBERNETES_FILES.token } }],
        contexts: [
            { name: SCRAPER, context: { cluster: outputs.clusterName, user: SCRAPER, namespace: outputs.namespace } },
        ],
        "current-context": SCRAPER,
    };
    return `${JSON.stringify(config, null, 2)}\n`;
}

/** Validates the outputs lb mode needs, naming every missing or empty one, never showing a value of a secret. */
export function parseStackOutputs(raw: unknown): StackOutputs {
    const text = requireOutputs(
        asRecord(raw),
        REQUIRED_OUTPUTS,
        ": run `pulumi up` first; loadBalancerHostname appears once AWS has provisioned the Service's load balancer",
    );
    const loadBalancerHostname = text("loadBalancerHostname");
    if (!/^[A-Za-z0-9.-]+$/.test(loadBalancerHostname)) {
        throw new Error(
            `loadBalancerHostname "${loadBalancerHostname}" is not a bare host name (no scheme, port or path)`,
        );
    }
    const url = parsedUrl(text("url"));
    if (url === undefined || !(url.protocol in PORTS) || url.hostname !== loadBalancerHostname.toLowerCase()) {
        throw new Error(`url "${text("url")}" is not http:// or https:// followed by loadBalancerHostname`);
    }
    const metricsToken = text("metricsTokens").split(",")[0].trim();
    if (!BEARER_TOKEN.test(metricsToken)) {
        throw new Error(
            'metricsTokens is not a token (outputs read without --show-secrets show "[secret]"): ' +
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
        throw new Error(
            `\`pulumi stack output --json --show-secrets --stack ${stack}\` failed: ${result.stderr.trim()}`,
        );
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

export const HELP = `usage: npm run monitoring:targets [-- OPTIONS]
Points the Prometheus of docker-compose.yml at a deployed stack, from its outputs
(pulumi stack output --json --show-secrets). Pods mode (the default when the outputs allow it) scrapes every pod
through the Kubernetes API server; lb mode scrapes /metrics through the load balancer. Never prints a secret.

options:
  --stack NAME            the stack whose outputs to read (default: ${DEFAULT_STACK})
  --mode pods|lb          the mode, instead of pods whenever the outputs allow it
  --outputs FILE          a saved copy of pulumi stack output --json --show-secrets, instead of running pulumi
  --kubernetes-out DIR    pods mode's directory (default: monitoring/secrets/kubernetes)
  --out FILE              lb mode's target file (default: monitoring/targets/eks.json)
  --token-out FILE        lb mode's metrics token file (default: monitoring/secrets/metrics-token)
  -h, --help              this text

examples:
  npm run monitoring:targets                                  # the dev stack, pods mode where possible
  npm run monitoring:targets -- --mode lb                     # through the load balancer
  pulumi stack output --json --show-secrets > outputs.json    # on a machine with the Pulumi CLI, then elsewhere:
  npm run monitoring:targets -- --stack dev --outputs outputs.json`;

/** Options that take a value, with the placeholder the help shows for it. */
const VALUES: Record<string, string> = {
    "--stack": "NAME",
    "--mode": "pods|lb",
    "--outputs": "FILE",
    "--kubernetes-out": "DIR",
    "--out": "FILE",
    "--token-out": "FILE",
};
const SEE_HELP = "(options and examples: npm run monitoring:targets -- --help)";

/** The options; undefined for --help. An unknown option, or one without its value, is named. */
export function parseOptions(argv: string[]): Options | undefined {
    // parseArgs would take the next option as the value, or blame the option's value as "ambiguous".
    argv.forEach((argument, index) => {
        const next = argv[index + 1];
        if (argument in VALUES && (next === undefined || next.startsWith("-"))) {
            throw new Error(`${argument} needs a value: ${argument} ${VALUES[argument]} ${SEE_HELP}`);
        }
    });
    let values;
    try {
        ({ values } = parseArgs({
            args: argv,
            options: {
                stack: { type: "string", default: DEFAULT_STACK },
                mode: { type: "string" },
                outputs: { type: "string" },
                out: { type: "string", default: DEFAULT_TARGETS_FILE },
                "token-out": { type: "string", default: DEFAULT_TOKEN_FILE },
                "kubernetes-out": { type: "string", default: DEFAULT_KUBERNETES_DIR },
                help: { type: "boolean", short: "h" },
            },
            strict: true,
            allowPositionals: false,
        }));
    } catch (error) {
        throw new Error(`${(error as Error).message.replace(/\s+/g, " ")} ${SEE_HELP}`);
    }
    if (values.help === true) {
        return undefined;
    }
    const empty = Object.keys(VALUES).find((option) => values[option.slice(2) as keyof typeof values] === "");
    if (empty !== undefined) {
        throw new Error(`${empty} needs a value: ${empty} ${VALUES[empty]} ${SEE_HELP}`);
    }
    const mode = values.mode;
    if (mode !== undefined && !(MODES as readonly string[]).includes(mode)) {
        throw new Error(`--mode must be ${MODES.join(" or ")}, not "${mode}" ${SEE_HELP}`);
    }
    return {
        stack: values.stack,
        mode: mode as Mode | undefined,
        outputsFile: values.outputs,
        targetsFile: values.out,
        tokenFile: values["token-out"],
        kubernetesDir: values["kubernetes-out"],
    };
}

/** Writes what the fastapi-pods job reads, then removes the load balancer's target; returns what to report. */
function writePodsMode(raw: unknown, options: Options): string {
    const outputs = parseKubernetesOutputs(raw);
    const file = (name: string): string => join(options.kubernetesDir, name);
    // The kubeconfig last: it names the other two, which are complete by then.
    writeFileAtomically(file(KUBERNETES_FILES.token), outputs.scraperToken, 0o600);
    writeFileAtomically(file(KUBERNETES_FILES.caCertificate), outputs.caCertificate);
    writeFileAtomically(file(KUBERNETES_FILES.kubeconfig), scraperKubeconfig(outputs));
    rmSync(options.targetsFile, { force: true });
    return (
        `wrote ${options.kubernetesDir}/{${Object.values(KUBERNETES_FILES).join(",")}} and removed ${options.targetsFile}: ` +
        `job fastapi-pods scrapes every pod of namespace ${outputs.namespace} through ${outputs.apiEndpoint} ` +
        `(environment ${options.stack}); restart Prometheus if it was running, so that it reads the new kubeconfig`
    );
}

/** Writes the load balancer's token and target, then removes the pods mode's files; returns what to report. */
function writeLoadBalancerMode(raw: unknown, options: Options): string {
    const outputs = parseStackOutputs(raw);
    const [group] = targetGroups(outputs, options.stack);
    // The token first: once Prometheus sees the target, its scrapes already carry the token.
    writeFileAtomically(options.tokenFile, outputs.metricsToken, 0o600);
    writeFileAtomically(options.targetsFile, `${JSON.stringify([group], null, 2)}\n`);
    for (const name of Object.values(KUBERNETES_FILES)) {
        rmSync(join(options.kubernetesDir, name), { force: true });
    }
    return (
        `wrote ${options.tokenFile} and ${options.targetsFile}: job fastapi scrapes ${outputs.scheme}://${group.targets.join(", ")} ` +
        `with the metrics token (environment ${options.stack})`
    );
}

function main(): void {
    try {
        const options = parseOptions(process.argv.slice(2));
        if (options === undefined) {
            console.log(HELP);
            return;
        }
        const raw =
            options.outputsFile === undefined
                ? readPulumiOutputs(options.stack)
                : readSavedOutputs(options.outputsFile);
        const mode = chooseMode(raw, options.mode);
        console.log(mode === "pods" ? writePodsMode(raw, options) : writeLoadBalancerMode(raw, options));
    } catch (error) {
        console.error(`monitoring:targets: ${(error as Error).message}`);
        process.exitCode = 1;
    }
}

if (require.main === module) {
    main();
}
