import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";

import {
    chooseMode,
    HELP,
    KUBERNETES_FILES,
    parseOptions,
    parseKubernetesOutputs,
    parseStackOutputs,
    scraperKubeconfig,
    targetGroups,
    writeFileAtomically,
} from "../../scripts/monitoring-targets";
import { LOAD_BALANCER_HOSTNAME as LOAD_BALANCER } from "../stack/mocks";

const SCRIPT = join(__dirname, "..", "..", "scripts", "monitoring-targets.ts");
const SAVED_OUTPUTS = join(__dirname, "fixtures", "stack-outputs.json");
const SAVED = JSON.parse(readFileSync(SAVED_OUTPUTS, "utf8")) as Record<string, string>;
const METRICS_TOKEN = SAVED.metricsTokens;
const SCRAPER_TOKEN = SAVED.metricsScraperToken;
const API_ENDPOINT = SAVED.kubernetesApiEndpoint;
const CA_CERTIFICATE = SAVED.kubernetesCaCertificate;
/** The outputs of a stack from before pods mode: no Kubernetes API endpoint, CA or scraper token. */
const LOAD_BALANCER_ONLY = Object.fromEntries(
    Object.entries(SAVED).filter(
        ([key]) => !["kubernetesApiEndpoint", "kubernetesCaCertificate", "metricsScraperToken"].includes(key),
    ),
);

const workDir = mkdtempSync(join(tmpdir(), "monitoring-targets-"));
after(() => rmSync(workDir, { recursive: true, force: true }));

let runs = 0;
/** Runs the command; the token and the pods mode's files go to the work directory unless the test names others. */
function runCommand(args: string[], env: NodeJS.ProcessEnv = process.env) {
    const run = runs++;
    const tokenOut = args.includes("--token-out")
        ? []
        : ["--token-out", join(workDir, "tokens", `metrics-token-${run}`)];
    const kubernetesOut = args.includes("--kubernetes-out")
        ? []
        : ["--kubernetes-out", join(workDir, "kubernetes", `${run}`)];
    return spawnSync(process.execPath, ["--import", "tsx", SCRIPT, ...args, ...tokenOut, ...kubernetesOut], {
        encoding: "utf8",
        env,
    });
}

describe("parseStackOutputs", () => {
    it("keeps the outputs the targets need and drops the rest", () => {
        const outputs = parseStackOutputs(SAVED);
        assert.deepEqual(outputs, {
            scheme: "http",
            loadBalancerHostname: LOAD_BALANCER,
            clusterName: "fastapi-app-cluster",
            namespace: "fastapi-app",
            metricsToken: METRICS_TOKEN,
        });
    });

    it("takes the scheme from url, and the first of several metrics tokens", () => {
        const outputs = parseStackOutputs({
            ...SAVED,
            url: `https://${LOAD_BALANCER}`,
            metricsTokens: `${METRICS_TOKEN}2, ${METRICS_TOKEN}3`,
        });
        assert.equal(outputs.scheme, "https");
        assert.equal(outputs.metricsToken, `${METRICS_TOKEN}2`);
    });

    it("refuses metrics tokens read without --show-secrets, without showing what it read", () => {
        assert.throws(
            () => parseStackOutputs({ ...SAVED, metricsTokens: "[secret]" }),
            /metricsTokens is not a token .*--show-secrets/,
        );
    });

    it("refuses a url that does not lead to the load balancer", () => {
        assert.throws(
            () => parseStackOutputs({ ...SAVED, url: "http://elsewhere.example.com" }),
            /is not http:\/\/ or https:\/\/ followed by loadBalancerHostname/,
        );
    });

    it("names every missing or empty output", () => {
        assert.throws(
            () => parseStackOutputs({ clusterName: "fastapi-app-cluster", loadBalancerHostname: "" }),
            /stack outputs lack url, loadBalancerHostname, namespace, metricsTokens: run `pulumi up` first/,
        );
    });

    it("rejects a URL where a host name belongs", () => {
        assert.throws(
            () => parseStackOutputs({ ...SAVED, loadBalancerHostname: `http://${LOAD_BALANCER}` }),
            /is not a bare host name/,
        );
    });

    it("rejects anything but a JSON object", () => {
        assert.throws(() => parseStackOutputs(["a"]), /must be a JSON object/);
    });
});

describe("chooseMode", () => {
    it("is pods where the outputs carry the API endpoint, its CA and the scraper token", () => {
        assert.equal(chooseMode(SAVED), "pods");
    });

    for (const key of ["kubernetesApiEndpoint", "kubernetesCaCertificate", "metricsScraperToken"]) {
        it(`is lb without ${key}, or with it empty`, () => {
            assert.equal(chooseMode(Object.fromEntries(Object.entries(SAVED).filter(([name]) => name !== key))), "lb");
            assert.equal(chooseMode({ ...SAVED, [key]: "" }), "lb");
        });
    }

    it("is the requested mode when one is requested", () => {
        assert.equal(chooseMode(SAVED, "lb"), "lb");
        assert.equal(chooseMode(LOAD_BALANCER_ONLY, "pods"), "pods");
    });
});

describe("parseKubernetesOutputs", () => {
    it("keeps what the pods job needs: the endpoint's origin, the CA, the scraper token, cluster and namespace", () => {
        assert.deepEqual(parseKubernetesOutputs({ ...SAVED, kubernetesApiEndpoint: `${API_ENDPOINT}/` }), {
            apiEndpoint: API_ENDPOINT.toLowerCase(),
            caCertificate: CA_CERTIFICATE,
            scraperToken: SCRAPER_TOKEN,
            clusterName: "fastapi-app-cluster",
            namespace: "fastapi-app",
        });
    });

    it("names every missing output and the way out", () => {
        assert.throws(
            () => parseKubernetesOutputs({ ...LOAD_BALANCER_ONLY, namespace: "" }),
            /stack outputs lack kubernetesApiEndpoint, kubernetesCaCertificate, metricsScraperToken, namespace, which pods mode needs: .* or use --mode lb/,
        );
    });

    it("refuses a scraper token read without --show-secrets, without showing what it read", () => {
        assert.throws(
            () => parseKubernetesOutputs({ ...SAVED, metricsScraperToken: "[secret]" }),
            /metricsScraperToken is not a service account token .*--show-secrets/,
        );
    });

    for (const endpoint of [
        API_ENDPOINT.replace("https:", "http:"),
        `${API_ENDPOINT}/api`,
        `${API_ENDPOINT}?x=1`,
        "ABC.eks.amazonaws.com",
    ]) {
        it(`refuses the endpoint ${endpoint}`, () => {
            assert.throws(
                () => parseKubernetesOutputs({ ...SAVED, kubernetesApiEndpoint: endpoint }),
                /is not https:\/\/<host>\[:port\]/,
            );
        });
    }

    it("takes a bundle of PEM certificates as the CA", () => {
        const bundle = `${CA_CERTIFICATE}${CA_CERTIFICATE}`;
        assert.equal(parseKubernetesOutputs({ ...SAVED, kubernetesCaCertificate: bundle }).caCertificate, bundle);
    });

    it("refuses a CA that is not a PEM certificate", () => {
        assert.throws(
            () => parseKubernetesOutputs({ ...SAVED, kubernetesCaCertificate: "LS0tLS1CRUdJTg==" }),
            /kubernetesCaCertificate is not a PEM certificate/,
        );
    });
});

describe("scraperKubeconfig", () => {
    const config = JSON.parse(scraperKubeconfig(parseKubernetesOutputs(SAVED))) as {
        clusters: { cluster: Record<string, string> }[];
        users: { name: string; user: Record<string, string> }[];
        contexts: { context: Record<string, string> }[];
    };
    it("names the API server, and the CA and token files by paths relative to its own directory", () => {
        assert.deepEqual(config.clusters[0].cluster, {
            server: API_ENDPOINT.toLowerCase(),
            "certificate-authority": "ca.crt",
        });
        assert.deepEqual(config.users[0], { name: "fastapi-metrics-scraper", user: { tokenFile: "token" } });
        assert.equal(config.contexts[0].context.namespace, "fastapi-app");
    });
    it("holds no secret itself", () => {
        assert.equal(JSON.stringify(config).includes(SCRAPER_TOKEN), false);
    });
});

describe("targetGroups", () => {
    const outputs = {
        loadBalancerHostname: LOAD_BALANCER,
        clusterName: "fastapi-app-cluster",
        namespace: "fastapi-app",
        metricsToken: METRICS_TOKEN,
    };
    it("scrapes the load balancer on port 80 with labels naming environment, stack and cluster", () => {
        assert.deepEqual(targetGroups({ ...outputs, scheme: "http" }, "dev"), [
            {
                targets: [`${LOAD_BALANCER}:80`],
                labels: {
                    environment: "dev",
                    stack: "fastapi-app/dev",
                    cluster: "fastapi-app-cluster",
                    namespace: "fastapi-app",
                },
            },
        ]);
    });
    it("scrapes an HTTPS load balancer on port 443, with the scheme as a target label; the token is not a label", () => {
        const [group] = targetGroups({ ...outputs, scheme: "https" }, "dev");
        assert.deepEqual(group.targets, [`${LOAD_BALANCER}:443`]);
        assert.equal(group.labels.__scheme__, "https");
        assert.equal(JSON.stringify(group).includes(METRICS_TOKEN), false);
    });
});

describe("writeFileAtomically", () => {
    it("replaces an existing file with a new one and leaves no temporary file behind", () => {
        const dir = mkdtempSync(join(workDir, "atomic-"));
        const path = join(dir, "eks.json");
        writeFileSync(path, "old");
        const oldInode = statSync(path).ino;
        writeFileAtomically(path, "new");
        assert.equal(readFileSync(path, "utf8"), "new");
        assert.notEqual(
            statSync(path).ino,
            oldInode,
            "a rename swaps in a new file; an in-place write would keep the inode",
        );
        assert.deepEqual(readdirSync(dir), ["eks.json"]);
    });

    it("creates the destination directory", () => {
        const path = join(workDir, "nested", "targets", "eks.json");
        writeFileAtomically(path, "[]\n");
        assert.equal(readFileSync(path, "utf8"), "[]\n");
        assert.deepEqual(readdirSync(dirname(path)), ["eks.json"]);
    });
});

describe("npm run monitoring:targets", () => {
    it("writes the metrics token (mode 0600, never printed) and a file_sd target group from saved stack outputs", () => {
        const out = join(workDir, "cli", "eks.json");
        const tokenOut = join(workDir, "cli-secrets", "metrics-token");
        const result = runCommand([
            "--outputs",
            SAVED_OUTPUTS,
            "--mode",
            "lb",
            "--stack",
            "staging",
            "--out",
            out,
            "--token-out",
            tokenOut,
        ]);
        assert.equal(result.status, 0, result.stderr);
        assert.match(
            result.stdout,
            new RegExp(`scrapes http://${LOAD_BALANCER}:80 with the metrics token \\(environment staging\\)`),
        );
        assert.equal(readFileSync(tokenOut, "utf8"), METRICS_TOKEN);
        assert.equal(statSync(tokenOut).mode & 0o777, 0o600);
        assert.equal(result.stdout.includes(METRICS_TOKEN) || result.stderr.includes(METRICS_TOKEN), false);
        assert.deepEqual(JSON.parse(readFileSync(out, "utf8")), [
            {
                targets: [`${LOAD_BALANCER}:80`],
                labels: {
                    environment: "staging",
                    stack: "fastapi-app/staging",
                    cluster: "fastapi-app-cluster",
                    namespace: "fastapi-app",
                },
            },
        ]);
    });

    describe("never prints or writes the stack's secrets, even when the outputs hold them in plain text", () => {
        // What `pulumi stack output --json --show-secrets` saves: the kubeconfig with a bearer token, in clear.
        const token =
            "k8s-aws-v1.aHR0cHM6Ly9zdHMuYXAtc291dGhlYXN0LTEuYW1hem9uYXdzLmNvbS8_QWN0aW9uPUdldENhbGxlcklkZW50aXR5";
        const kubeconfig = `apiVersion: v1\nkind: Config\nusers:\n- name: fastapi-app-cluster\n  user:\n    token: ${token}\n`;
        const withSecrets = { ...JSON.parse(readFileSync(SAVED_OUTPUTS, "utf8")), kubeconfig };

        /** No secret in what the command printed; the stack's kubeconfig and its token in no file it wrote. */
        function assertNoSecret(result: ReturnType<typeof runCommand>, written: string[]): void {
            for (const text of [result.stdout, result.stderr]) {
                for (const secret of [token, METRICS_TOKEN, SCRAPER_TOKEN]) {
                    assert.equal(text.includes(secret), false);
                }
            }
            for (const text of [
                result.stdout,
                result.stderr,
                ...written.map((path) => (statSync(path, { throwIfNoEntry: false }) ? readFileSync(path, "utf8") : "")),
            ]) {
                assert.equal(text.includes(token), false);
                assert.equal(text.includes(kubeconfig), false);
            }
        }

        for (const mode of ["lb", "pods"]) {
            it(`on success (${mode} mode)`, () => {
                const saved = join(workDir, "secret-outputs.json");
                writeFileSync(saved, JSON.stringify(withSecrets));
                const out = join(workDir, `quiet-${mode}`, "eks.json");
                const kubernetesOut = join(workDir, `quiet-${mode}`, "kubernetes");
                const result = runCommand([
                    "--outputs",
                    saved,
                    "--mode",
                    mode,
                    "--out",
                    out,
                    "--kubernetes-out",
                    kubernetesOut,
                ]);
                assert.equal(result.status, 0, result.stderr);
                assertNoSecret(result, [
                    out,
                    ...Object.values(KUBERNETES_FILES).map((name) => join(kubernetesOut, name)),
                ]);
            });
        }

        it("on failure (an output missing)", () => {
            const saved = join(workDir, "secret-partial-outputs.json");
            writeFileSync(saved, JSON.stringify({ ...withSecrets, loadBalancerHostname: "" }));
            const out = join(workDir, "quiet-failed", "eks.json");
            const result = runCommand(["--outputs", saved, "--mode", "lb", "--out", out]);
            assert.equal(result.status, 1);
            assertNoSecret(result, [out]);
        });
    });

    it("by default, where the outputs allow it, writes the pods mode's files and removes the load balancer's target", () => {
        const out = join(workDir, "pods", "eks.json");
        const kubernetesOut = join(workDir, "pods", "kubernetes");
        writeFileAtomically(out, "[]\n");
        const result = runCommand(["--outputs", SAVED_OUTPUTS, "--out", out, "--kubernetes-out", kubernetesOut]);
        assert.equal(result.status, 0, result.stderr);
        assert.match(
            result.stdout,
            new RegExp(
                `job fastapi-pods scrapes every pod of namespace fastapi-app through ${API_ENDPOINT.toLowerCase()} \\(environment dev\\)`,
            ),
        );
        assert.equal(readFileSync(join(kubernetesOut, "token"), "utf8"), SCRAPER_TOKEN);
        assert.equal(statSync(join(kubernetesOut, "token")).mode & 0o777, 0o600);
        assert.equal(readFileSync(join(kubernetesOut, "ca.crt"), "utf8"), CA_CERTIFICATE);
        assert.equal(
            readFileSync(join(kubernetesOut, "kubeconfig"), "utf8"),
            scraperKubeconfig(parseKubernetesOutputs(SAVED)),
        );
        assert.deepEqual(readdirSync(kubernetesOut).sort(), ["ca.crt", "kubeconfig", "token"]);
        assert.throws(() => statSync(out), /ENOENT/, "the load balancer's target is gone, so no pod is scraped twice");
    });

    it("with --mode lb, writes the load balancer's target and removes the pods mode's files", () => {
        const out = join(workDir, "back-to-lb", "eks.json");
        const kubernetesOut = join(workDir, "back-to-lb", "kubernetes");
        assert.equal(
            runCommand(["--outputs", SAVED_OUTPUTS, "--out", out, "--kubernetes-out", kubernetesOut]).status,
            0,
        );
        const result = runCommand([
            "--outputs",
            SAVED_OUTPUTS,
            "--mode",
            "lb",
            "--out",
            out,
            "--kubernetes-out",
            kubernetesOut,
        ]);
        assert.equal(result.status, 0, result.stderr);
        assert.equal(JSON.parse(readFileSync(out, "utf8"))[0].targets[0], `${LOAD_BALANCER}:80`);
        assert.deepEqual(readdirSync(kubernetesOut), []);
    });

    it("without the pods mode's outputs, writes the load balancer's target", () => {
        const saved = join(workDir, "lb-only-outputs.json");
        writeFileSync(saved, JSON.stringify(LOAD_BALANCER_ONLY));
        const out = join(workDir, "lb-only", "eks.json");
        const result = runCommand(["--outputs", saved, "--out", out]);
        assert.equal(result.status, 0, result.stderr);
        assert.match(result.stdout, /job fastapi scrapes http:/);
    });

    it("with --mode pods and outputs that lack them, fails naming them and writes nothing", () => {
        const saved = join(workDir, "lb-only-outputs-2.json");
        writeFileSync(saved, JSON.stringify(LOAD_BALANCER_ONLY));
        const kubernetesOut = join(workDir, "no-pods", "kubernetes");
        const result = runCommand([
            "--outputs",
            saved,
            "--mode",
            "pods",
            "--out",
            join(workDir, "no-pods", "eks.json"),
            "--kubernetes-out",
            kubernetesOut,
        ]);
        assert.equal(result.status, 1);
        assert.match(
            result.stderr,
            /stack outputs lack kubernetesApiEndpoint, kubernetesCaCertificate, metricsScraperToken, which pods mode needs/,
        );
        assert.throws(() => statSync(kubernetesOut), /ENOENT/);
    });

    it("rejects an unknown mode", () => {
        const result = runCommand(["--outputs", SAVED_OUTPUTS, "--mode", "nodes"]);
        assert.equal(result.status, 1);
        assert.match(result.stderr, /--mode must be pods or lb, not "nodes"/);
    });

    it("fails clearly, writing nothing, when outputs are missing", () => {
        const saved = join(workDir, "partial-outputs.json");
        writeFileSync(saved, JSON.stringify({ clusterName: "fastapi-app-cluster", namespace: "fastapi-app" }));
        const out = join(workDir, "partial", "eks.json");
        const result = runCommand(["--outputs", saved, "--out", out]);
        assert.equal(result.status, 1);
        assert.match(result.stderr, /monitoring:targets: stack outputs lack url, loadBalancerHostname, metricsTokens/);
        assert.throws(() => statSync(out), /ENOENT/);
    });

    it("fails clearly when the saved outputs are not JSON", () => {
        const saved = join(workDir, "garbled-outputs.json");
        writeFileSync(saved, "Current stack is dev:\n");
        const result = runCommand(["--outputs", saved, "--out", join(workDir, "garbled", "eks.json")]);
        assert.equal(result.status, 1);
        assert.match(result.stderr, /garbled-outputs\.json is not valid JSON/);
    });

    it("does not quote outputs that are not JSON (they may hold secrets)", () => {
        const saved = join(workDir, "garbled-secret-outputs.json");
        writeFileSync(saved, `{"metricsTokens": "${METRICS_TOKEN}" oops}`);
        const result = runCommand(["--outputs", saved, "--out", join(workDir, "garbled-secret", "eks.json")]);
        assert.equal(result.status, 1);
        assert.equal(result.stderr.includes(METRICS_TOKEN), false, result.stderr);
    });

    it("explains what to do when the pulumi CLI is absent", () => {
        const result = runCommand(["--out", join(workDir, "no-pulumi", "eks.json")], {
            ...process.env,
            PATH: dirname(process.execPath),
        });
        assert.equal(result.status, 1);
        assert.match(
            result.stderr,
            /the pulumi CLI is not installed or not on PATH; install it .* or pass --outputs <file>/,
        );
    });

    it("asks pulumi for the chosen stack's outputs", () => {
        const bin = mkdtempSync(join(workDir, "bin-"));
        const fakePulumi = join(bin, "pulumi");
        writeFileSync(fakePulumi, `#!/bin/sh\necho "$@" > "${bin}/args"\ncat "${SAVED_OUTPUTS}"\n`, { mode: 0o755 });
        const out = join(workDir, "from-pulumi", "eks.json");
        const result = runCommand(["--stack", "prod", "--mode", "lb", "--out", out], {
            ...process.env,
            PATH: `${bin}:${process.env.PATH ?? ""}`,
        });
        assert.equal(result.status, 0, result.stderr);
        assert.equal(readFileSync(join(bin, "args"), "utf8").trim(), "stack output --json --show-secrets --stack prod");
        assert.equal(JSON.parse(readFileSync(out, "utf8"))[0].labels.environment, "prod");
    });

    it("reports pulumi's own error when the stack query fails", () => {
        const bin = mkdtempSync(join(workDir, "bin-"));
        writeFileSync(join(bin, "pulumi"), "#!/bin/sh\necho 'error: no stack named prod found' >&2\nexit 255\n", {
            mode: 0o755,
        });
        const result = runCommand(["--stack", "prod", "--out", join(workDir, "failed", "eks.json")], {
            ...process.env,
            PATH: `${bin}:${process.env.PATH ?? ""}`,
        });
        assert.equal(result.status, 1);
        assert.match(
            result.stderr,
            /`pulumi stack output --json --show-secrets --stack prod` failed: error: no stack named prod found/,
        );
    });

    it("rejects unknown flags", () => {
        const result = runCommand(["--stak", "dev"]);
        assert.equal(result.status, 1);
        assert.match(result.stderr, /Unknown option '--stak'/);
    });
});

describe("npm run monitoring:targets, its command line", () => {
    /** The arguments of each `npm run monitoring:targets -- …` example in the help text. */
    const examples = [...HELP.matchAll(/^ {2}npm run monitoring:targets(?: -- (\S.*?))?(?: +#.*)?$/gm)].map((match) =>
        (match[1] ?? "").split(" ").filter((argument) => argument !== ""),
    );

    it("--help prints the usage, every option and examples, and writes nothing", () => {
        const kubernetesOut = join(workDir, "help", "kubernetes");
        const result = runCommand(["--outputs", SAVED_OUTPUTS, "--kubernetes-out", kubernetesOut, "--help"]);
        assert.equal(result.status, 0, result.stderr);
        assert.equal(result.stdout, `${HELP}\n`);
        for (const option of ["--stack", "--mode", "--outputs", "--kubernetes-out", "--out", "--token-out", "--help"]) {
            assert.match(HELP, new RegExp(`^ {2}(-h, )?${option} `, "m"), option);
        }
        assert.throws(() => statSync(kubernetesOut), /ENOENT/);
        assert.equal(parseOptions(["-h"]), undefined);
    });

    it("every example in the help is accepted; the one with saved outputs writes pods mode's files", () => {
        assert.ok(examples.length >= 3, HELP);
        for (const args of examples) {
            assert.notEqual(parseOptions(args), undefined, args.join(" "));
        }
        const saved = examples.find((args) => args.includes("--outputs")) ?? [];
        const directory = mkdtempSync(join(workDir, "example-"));
        copyFileSync(SAVED_OUTPUTS, join(directory, saved[saved.indexOf("--outputs") + 1]));
        const kubernetesOut = join(directory, "kubernetes");
        // Run where the example's relative file name is, as a user would from the directory holding it.
        const result = spawnSync(
            join(__dirname, "..", "..", "node_modules", ".bin", "tsx"),
            [SCRIPT, ...saved, "--kubernetes-out", kubernetesOut, "--out", join(directory, "eks.json")],
            { cwd: directory, encoding: "utf8" },
        );
        assert.equal(result.status, 0, result.stderr);
        assert.deepEqual(readdirSync(kubernetesOut).sort(), ["ca.crt", "kubeconfig", "token"]);
    });

    it("a missing option value names the option and the value it takes, and nothing is written", () => {
        for (const [args, option, placeholder] of [
            [["--outputs", SAVED_OUTPUTS, "--stack"], "--stack", "NAME"],
            [["--outputs", "--mode", "lb"], "--outputs", "FILE"],
            [["--outputs", SAVED_OUTPUTS, "--mode"], "--mode", "pods\\|lb"],
            [["--outputs=", "--mode", "lb"], "--outputs", "FILE"],
        ] as const) {
            const out = join(workDir, "missing-value", "eks.json");
            const result = runCommand([...args, "--out", out]);
            assert.equal(result.status, 1, args.join(" "));
            assert.match(
                result.stderr,
                new RegExp(
                    `^monitoring:targets: ${option} needs a value: ${option} ${placeholder} ` +
                        "\\(options and examples: npm run monitoring:targets -- --help\\)\n$",
                ),
            );
            assert.throws(() => statSync(out), /ENOENT/);
        }
    });
});
