import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, IncomingMessage, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TLSSocket } from "node:tls";
import { after, before, describe, test } from "node:test";
import { githubDir } from "./workflows";

const script = join(githubDir, "scripts", "smoke-test");
const HOST = "api.smoke-test.example";
const dir = mkdtempSync(join(tmpdir(), "smoke-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A test CA and, signed by it, a server certificate for each name: nothing here is trusted by the system. */
function makeCertificates(): { caFile: string; otherCaFile: string; keyFor: (name: string) => [string, string] } {
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    const ca = (name: string) =>
        openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            `/CN=${name}`,
            "-keyout",
            `${name}.key`,
            "-out",
            `${name}.crt`,
        );
    ca("test-ca");
    ca("other-ca");
    const keyFor = (name: string): [string, string] => {
        writeFileSync(join(dir, `${name}.ext`), `subjectAltName=DNS:${name}\n`);
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            `/CN=${name}`,
            "-keyout",
            `${name}.key`,
            "-out",
            `${name}.csr`,
        );
        openssl(
            "x509",
            "-req",
            "-in",
            `${name}.csr`,
            "-CA",
            "test-ca.crt",
            "-CAkey",
            "test-ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            `${name}.ext`,
            "-out",
            `${name}.crt`,
        );
        return [readFileSync(join(dir, `${name}.key`), "utf8"), readFileSync(join(dir, `${name}.crt`), "utf8")];
    };
    return { caFile: join(dir, "test-ca.crt"), otherCaFile: join(dir, "other-ca.crt"), keyFor };
}

interface Seen {
    host: string | undefined;
    servername: string | false | null | undefined;
    path: string | undefined;
}

/** The service's two probes; /ready answers with the status the test sets. */
function handler(seen: Seen[], readyStatus: () => number) {
    return (request: IncomingMessage, response: ServerResponse) => {
        const socket = request.socket as TLSSocket;
        seen.push({ host: request.headers.host, servername: socket.servername, path: request.url });
        const status = request.url === "/health" ? 200 : request.url === "/ready" ? readyStatus() : 404;
        response.writeHead(status, { "content-type": "application/json" }).end("{}");
    };
}

/** A loopback port nothing listens on at the moment, for the port-forward's local end. */
async function freePort(): Promise<number> {
    const server = createHttpServer();
    const port = await listen(server);
    await new Promise((resolve) => server.close(resolve));
    return port;
}

function listen(server: ReturnType<typeof createHttpServer>): Promise<number> {
    return new Promise((resolve) =>
        server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
    );
}

interface Result {
    status: number | null;
    out: string;
    summary: string;
}

/** Runs the script without blocking this process, whose servers must keep answering it. */
function smokeTest(args: string[], env: Record<string, string> = {}): Promise<Result> {
    const summaryFile = join(dir, `summary-${Math.random().toString(36).slice(2)}`);
    writeFileSync(summaryFile, "");
    return new Promise((resolve) => {
        const child = spawn("bash", [script, ...args], {
            env: {
                PATH: process.env.PATH ?? "",
                SMOKE_ATTEMPTS: "2",
                SMOKE_INTERVAL: "0",
                GITHUB_STEP_SUMMARY: summaryFile,
                ...env,
            },
        });
        let out = "";
        child.stdout.on("data", (chunk) => (out += chunk));
        child.stderr.on("data", (chunk) => (out += chunk));
        const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
        child.on("close", (status) => {
            clearTimeout(timer);
            resolve({ status, out, summary: readFileSync(summaryFile, "utf8") });
        });
    });
}

describe("smoke-test through the load balancer", () => {
    const certificates = makeCertificates();
    const seen: Seen[] = [];
    let ready = 200;
    const [key, cert] = certificates.keyFor(HOST);
    const [wrongKey, wrongCert] = certificates.keyFor("other-name.example");
    const https = createHttpsServer(
        { key, cert },
        handler(seen, () => ready),
    );
    const wrongName = createHttpsServer(
        { key: wrongKey, cert: wrongCert },
        handler(seen, () => 200),
    );
    const http = createHttpServer(handler(seen, () => 200));
    let port = 0,
        wrongNamePort = 0,
        httpPort = 0;
    const trusted = { CURL_CA_BUNDLE: certificates.caFile };

    before(async () => {
        [port, wrongNamePort, httpPort] = await Promise.all([listen(https), listen(wrongName), listen(http)]);
    });
    after(() => {
        for (const server of [https, wrongName, http]) server.close();
    });

    test("calls the public host name at the load balancer's address, with the certificate verified for that name", async () => {
        seen.length = 0;
        const { status, out, summary } = await smokeTest([`https://${HOST}:${port}`, "127.0.0.1", "[]"], trusted);
        assert.equal(status, 0, out);
        assert.deepEqual(
            seen.map((s) => [s.path, s.host, s.servername]),
            [
                ["/health", `${HOST}:${port}`, HOST],
                ["/ready", `${HOST}:${port}`, HOST],
            ],
        );
        assert.match(
            summary,
            /^Smoke test passed through the load balancer: .*certificate verified for api\.smoke-test\.example/m,
        );
    });

    test("without --connect-to, the load balancer's own name fails verification at once: no certificate can name it", async () => {
        const { status, out, summary } = await smokeTest([`https://127.0.0.1:${port}`, "127.0.0.1"], {
            ...trusted,
            SMOKE_ATTEMPTS: "50",
            SMOKE_INTERVAL: "10",
        });
        assert.equal(status, 1);
        assert.match(out, /::error title=Smoke test failed::the certificate served .*\(curl exit 60\)/);
        assert.match(summary, /^\*\*Smoke test failed:\*\*/m);
    });

    test("a certificate for another name, or from a CA the runner does not trust, fails", async () => {
        const wrong = await smokeTest([`https://${HOST}:${wrongNamePort}`, "127.0.0.1"], trusted);
        assert.equal(wrong.status, 1);
        assert.match(wrong.out, /not valid for its host name/);
        const untrusted = await smokeTest([`https://${HOST}:${port}`, "127.0.0.1"], {
            CURL_CA_BUNDLE: certificates.otherCaFile,
        });
        assert.equal(untrusted.status, 1);
        assert.match(untrusted.out, /curl exit 60/);
    });

    test("a service that is not ready fails after the bounded attempts, and the summary says so", async () => {
        ready = 503;
        try {
            const { status, out, summary } = await smokeTest([`https://${HOST}:${port}`, "127.0.0.1"], trusted);
            assert.equal(status, 1);
            assert.match(out, /did not answer 200 on \/health \/ready within 2 attempts/);
            assert.doesNotMatch(summary, /passed/);
        } finally {
            ready = 200;
        }
    });

    test("plain HTTP on the load balancer's own name, the default without publicHostname", async () => {
        const { status, summary } = await smokeTest([`http://127.0.0.1:${httpPort}`, "127.0.0.1", ""]);
        assert.equal(status, 0);
        assert.match(summary, /\(plain HTTP, reached at `127\.0\.0\.1`\)/);
    });

    test("refuses a url that is not http(s)://HOST[:PORT]", async () => {
        const { status, out } = await smokeTest(["ftp://example.com", "127.0.0.1"]);
        assert.equal(status, 1);
        assert.match(out, /is not http\(s\):\/\/HOST\[:PORT\]/);
    });

    test("never turns certificate verification off", () => {
        assert.doesNotMatch(readFileSync(script, "utf8"), /\s(-k|--insecure)\b|CURL_CA_BUNDLE|--cacert/);
    });
});

describe("smoke-test from inside the cluster, when allowedSourceRanges keeps the runner out", () => {
    const work = mkdtempSync(join(tmpdir(), "smoke-test-kubectl-"));
    const bin = join(work, "bin");
    const argsLog = join(work, "kubectl-args");
    mkdirSync(bin);
    // No kubelet runs here, so this stand-in for `kubectl port-forward` serves the pod's two probes itself on the
    // local port it is asked for, after printing kubectl's "Forwarding from" line.
    writeFileSync(
        join(bin, "kubectl"),
        `#!/bin/sh
printf '%s\\n' "$*" > "${argsLog}"
local_port=\${5%%:*}
exec python3 -c '
import http.server, sys
class Probe(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status = 200 if self.path == "/health" else int(sys.argv[2]) if self.path == "/ready" else 404
        self.send_response(status)
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Probe)
print("Forwarding from 127.0.0.1:%s -> 8000" % sys.argv[1], flush=True)
server.serve_forever()
' "$local_port" "\${FAKE_READY_STATUS:-200}"
`,
    );
    chmodSync(join(bin, "kubectl"), 0o755);
    const withKubectl = async (extra: Record<string, string> = {}) => ({
        PATH: `${bin}:${process.env.PATH ?? ""}`,
        KUBECONFIG: join(work, "kubeconfig"),
        SMOKE_LOCAL_PORT: String(await freePort()),
        ...extra,
    });
    const ranges = '["203.0.113.0/24"]';
    after(() => rmSync(work, { recursive: true, force: true }));

    test("checks through kubectl port-forward and says in the summary that the check is weaker", async () => {
        const env = await withKubectl();
        const { status, out, summary } = await smokeTest(["https://api.example.com", "lb.example", ranges], env);
        assert.equal(status, 0, out);
        assert.equal(
            readFileSync(argsLog, "utf8").trim(),
            `port-forward --namespace fastapi-app deployment/fastapi-deployment ${env.SMOKE_LOCAL_PORT}:8000`,
        );
        assert.match(out, /::warning title=Weaker smoke test::/);
        assert.match(
            summary,
            /^Smoke test passed \*\*from inside the cluster only\*\*.*weaker check.*bypassed the load balancer, TLS and the source ranges/m,
        );
    });

    test("a pod that is not ready fails", async () => {
        const { status, summary } = await smokeTest(
            ["https://api.example.com", "lb.example", ranges],
            await withKubectl({ FAKE_READY_STATUS: "503" }),
        );
        assert.equal(status, 1);
        assert.match(summary, /^\*\*Smoke test failed:\*\* the service, through kubectl port-forward/m);
    });

    test("without kubectl or a kubeconfig the check fails; it is never skipped as passed", async () => {
        // Only the tools the script needs, so no kubectl of the machine's is found either.
        const tools = join(work, "tools");
        mkdirSync(tools);
        for (const tool of ["bash", "curl", "mktemp", "grep", "tr", "seq", "cat", "sleep", "rm"]) {
            symlinkSync(
                execFileSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim(),
                join(tools, tool),
            );
        }
        const noKubectl = await smokeTest(["https://api.example.com", "lb.example", ranges], {
            PATH: tools,
            KUBECONFIG: join(work, "kubeconfig"),
        });
        assert.equal(noKubectl.status, 1);
        assert.match(noKubectl.out, /kubectl, needed to check from inside the cluster, is missing/);
        const noConfig = await smokeTest(
            ["https://api.example.com", "lb.example", ranges],
            await withKubectl({ KUBECONFIG: "" }),
        );
        assert.equal(noConfig.status, 1);
        assert.match(noConfig.out, /KUBECONFIG, needed to check from inside the cluster, is not set/);
    });
});
