import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";

import { parseStackOutputs, targetGroups, writeFileAtomically } from "../../scripts/monitoring-targets";
import { LOAD_BALANCER_HOSTNAME as LOAD_BALANCER } from "../stack/mocks";

const SCRIPT = join(__dirname, "..", "..", "scripts", "monitoring-targets.ts");
const SAVED_OUTPUTS = join(__dirname, "fixtures", "stack-outputs.json");
const SAVED = JSON.parse(readFileSync(SAVED_OUTPUTS, "utf8")) as Record<string, string>;
const METRICS_TOKEN = SAVED.metricsTokens;

const workDir = mkdtempSync(join(tmpdir(), "monitoring-targets-"));
after(() => rmSync(workDir, { recursive: true, force: true }));

let tokenFiles = 0;
/** Runs the command; the token goes to a file of its own in the work directory unless the test names one. */
function runCommand(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const tokenOut = args.includes("--token-out") ? [] : ["--token-out", join(workDir, "tokens", `metrics-token-${tokenFiles++}`)];
  return spawnSync(process.execPath, ["--import", "tsx", SCRIPT, ...args, ...tokenOut], { encoding: "utf8", env });
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
    const outputs = parseStackOutputs({ ...SAVED, url: `https://${LOAD_BALANCER}`, metricsTokens: `${METRICS_TOKEN}2, ${METRICS_TOKEN}3` });
    assert.equal(outputs.scheme, "https");
    assert.equal(outputs.metricsToken, `${METRICS_TOKEN}2`);
  });

  it("refuses metrics tokens read without --show-secrets, without showing what it read", () => {
    assert.throws(() => parseStackOutputs({ ...SAVED, metricsTokens: "[secret]" }), /metricsTokens is not a token .*--show-secrets/);
  });

  it("refuses a url that does not lead to the load balancer", () => {
    assert.throws(() => parseStackOutputs({ ...SAVED, url: "http://elsewhere.example.com" }), /is not http:\/\/ or https:\/\/ followed by loadBalancerHostname/);
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

describe("targetGroups", () => {
  const outputs = { loadBalancerHostname: LOAD_BALANCER, clusterName: "fastapi-app-cluster", namespace: "fastapi-app", metricsToken: METRICS_TOKEN };
  it("scrapes the load balancer on port 80 with labels naming environment, stack and cluster", () => {
    assert.deepEqual(targetGroups({ ...outputs, scheme: "http" }, "dev"), [
      {
        targets: [`${LOAD_BALANCER}:80`],
        labels: { environment: "dev", stack: "fastapi-app/dev", cluster: "fastapi-app-cluster", namespace: "fastapi-app" },
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
    assert.notEqual(statSync(path).ino, oldInode, "a rename swaps in a new file; an in-place write would keep the inode");
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
    const result = runCommand(["--outputs", SAVED_OUTPUTS, "--stack", "staging", "--out", out, "--token-out", tokenOut]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`scrapes http://${LOAD_BALANCER}:80 with the metrics token \\(environment staging\\)`));
    assert.equal(readFileSync(tokenOut, "utf8"), METRICS_TOKEN);
    assert.equal(statSync(tokenOut).mode & 0o777, 0o600);
    assert.equal(result.stdout.includes(METRICS_TOKEN) || result.stderr.includes(METRICS_TOKEN), false);
    assert.deepEqual(JSON.parse(readFileSync(out, "utf8")), [
      {
        targets: [`${LOAD_BALANCER}:80`],
        labels: { environment: "staging", stack: "fastapi-app/staging", cluster: "fastapi-app-cluster", namespace: "fastapi-app" },
      },
    ]);
  });

  describe("never prints or writes the stack's secrets, even when the outputs hold them in plain text", () => {
    // What `pulumi stack output --json --show-secrets` saves: the kubeconfig with a bearer token, in clear.
    const token = "k8s-aws-v1.aHR0cHM6Ly9zdHMuYXAtc291dGhlYXN0LTEuYW1hem9uYXdzLmNvbS8_QWN0aW9uPUdldENhbGxlcklkZW50aXR5";
    const kubeconfig = `apiVersion: v1\nkind: Config\nusers:\n- name: fastapi-app-cluster\n  user:\n    token: ${token}\n`;
    const withSecrets = { ...JSON.parse(readFileSync(SAVED_OUTPUTS, "utf8")), kubeconfig };

    function assertNoSecret(result: ReturnType<typeof runCommand>, out: string): void {
      for (const text of [result.stdout, result.stderr, statSync(out, { throwIfNoEntry: false }) ? readFileSync(out, "utf8") : ""]) {
        assert.equal(text.includes(token), false);
        assert.doesNotMatch(text, /kubeconfig/i);
      }
    }

    it("on success", () => {
      const saved = join(workDir, "secret-outputs.json");
      writeFileSync(saved, JSON.stringify(withSecrets));
      const out = join(workDir, "quiet", "eks.json");
      const result = runCommand(["--outputs", saved, "--out", out]);
      assert.equal(result.status, 0, result.stderr);
      assertNoSecret(result, out);
    });

    it("on failure (an output missing)", () => {
      const saved = join(workDir, "secret-partial-outputs.json");
      writeFileSync(saved, JSON.stringify({ ...withSecrets, loadBalancerHostname: "" }));
      const out = join(workDir, "quiet-failed", "eks.json");
      const result = runCommand(["--outputs", saved, "--out", out]);
      assert.equal(result.status, 1);
      assertNoSecret(result, out);
    });
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
    const result = runCommand(["--out", join(workDir, "no-pulumi", "eks.json")], { ...process.env, PATH: dirname(process.execPath) });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /the pulumi CLI is not installed or not on PATH; install it .* or pass --outputs <file>/);
  });

  it("asks pulumi for the chosen stack's outputs", () => {
    const bin = mkdtempSync(join(workDir, "bin-"));
    const fakePulumi = join(bin, "pulumi");
    writeFileSync(fakePulumi, `#!/bin/sh\necho "$@" > "${bin}/args"\ncat "${SAVED_OUTPUTS}"\n`, { mode: 0o755 });
    const out = join(workDir, "from-pulumi", "eks.json");
    const result = runCommand(["--stack", "prod", "--out", out], { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(readFileSync(join(bin, "args"), "utf8").trim(), "stack output --json --show-secrets --stack prod");
    assert.equal(JSON.parse(readFileSync(out, "utf8"))[0].labels.environment, "prod");
  });

  it("reports pulumi's own error when the stack query fails", () => {
    const bin = mkdtempSync(join(workDir, "bin-"));
    writeFileSync(join(bin, "pulumi"), "#!/bin/sh\necho 'error: no stack named prod found' >&2\nexit 255\n", { mode: 0o755 });
    const result = runCommand(["--stack", "prod", "--out", join(workDir, "failed", "eks.json")], {
      ...process.env,
      PATH: `${bin}:${process.env.PATH ?? ""}`,
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /`pulumi stack output --json --show-secrets --stack prod` failed: error: no stack named prod found/);
  });

  it("rejects unknown flags", () => {
    const result = runCommand(["--stak", "dev"]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /Unknown option '--stak'/);
  });
});
