import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
    allSteps,
    environmentName,
    githubDir,
    Job,
    jobsOf,
    loadCompositeActions,
    loadWorkflows,
    stepsOf,
    usesAction,
} from "./workflows";

const workflows = loadWorkflows();
const actions = loadCompositeActions();

function workflow(name: string) {
    const found = workflows.get(name);
    assert.ok(found, `.github/workflows/${name}.yml is missing`);
    return found;
}

function jobsWithSteps(): [string, Job][] {
    return [...workflows.values()]
        .flatMap((w) => Object.entries(w.jobs).map(([id, job]): [string, Job] => [`${w.name}/${id}`, job]))
        .filter(([, job]) => job.uses === undefined);
}

function awsStep(job: Job) {
    return stepsOf(job).find((s) => usesAction(s, "aws-actions/configure-aws-credentials"));
}

/** Whether a job runs a Pulumi operation, through pulumi/actions or the CLI. */
function runsPulumi(job: Job): boolean {
    return stepsOf(job).some(
        (s) =>
            (usesAction(s, "pulumi/actions") && s.with?.command !== undefined) ||
            /\bpulumi (up|destroy|preview|refresh|import|cancel|state)\b/.test(s.run ?? ""),
    );
}

function runs(job: Job): string {
    return stepsOf(job)
        .map((step) => step.run ?? "")
        .join("\n");
}

describe("every workflow", () => {
    test("the CI, preview, deploy and destroy workflows exist", () => {
        for (const name of ["ci", "preview", "deploy", "destroy"]) workflow(name);
    });

    test("defaults to read-only repository contents", () => {
        for (const w of workflows.values()) {
            assert.deepEqual(w.permissions, { contents: "read" }, w.file);
        }
    });

    test("gives every job that runs steps a timeout: at most an hour without AWS credentials, else within them", () => {
        for (const [id, job] of jobsWithSteps()) {
            const timeout = job["timeout-minutes"];
            assert.ok(typeof timeout === "number" && timeout > 0, `${id}: timeout-minutes ${timeout}`);
            const aws = awsStep(job);
            if (aws === undefined) {
                assert.ok(timeout <= 60, `${id}: timeout-minutes ${timeout}`);
                continue;
            }
            const duration = aws.with?.["role-duration-seconds"];
            assert.ok(
                typeof duration === "number",
                `${id}: role-duration-seconds is not set (the default is one hour)`,
            );
            assert.ok(
                duration >= timeout * 60,
                `${id}: credentials for ${duration} s expire before the ${timeout} min job`,
            );
            assert.ok(duration <= 43200, `${id}: STS issues at most 12 hours`);
        }
    });

    test("asks each role for no longer than the MaxSessionDuration the one-time AWS set-up gives it", () => {
        const docs = readFileSync("docs/ci-cd.md", "utf8");
        const maxSession = (role: string) =>
            Number(new RegExp(`--role-name ${role} --max-session-duration (\\d+)`).exec(docs)?.[1] ?? 3600);
        const limits: Record<string, number> = {
            "${{ vars.AWS_DEPLOY_ROLE_ARN }}": maxSession("fastapi-app-github-deploy"),
            "${{ vars.AWS_PREVIEW_ROLE_ARN }}": maxSession("fastapi-app-github-preview"),
        };
        for (const [id, job] of jobsWithSteps()) {
            const aws = awsStep(job);
            if (aws === undefined) continue;
            const limit = limits[job.env?.AWS_ROLE_ARN ?? ""];
            assert.ok(
                limit !== undefined,
                `${id}: role ${job.env?.AWS_ROLE_ARN} is neither the deploy nor the preview role`,
            );
            assert.ok(Number(aws.with?.["role-duration-seconds"]) <= limit, `${id}: asks for more than ${limit} s`);
        }
    });

    test("reads secrets only in jobs that run in a GitHub environment, whose secrets they are", () => {
        for (const { workflow: w, id, job } of jobsOf(workflows.values())) {
            if (!JSON.stringify(job).includes("secrets.")) continue;
            assert.ok(environmentName(job), `${w.name}/${id} reads a secret outside any environment`);
        }
    });

    test("takes the region from the stack file, never from a variable that could disagree with it", () => {
        for (const w of workflows.values()) assert.doesNotMatch(w.text, /vars\.AWS_REGION/, w.file);
        for (const { workflow: w, id, job } of jobsOf(workflows.values())) {
            if (awsStep(job) === undefined) continue;
            const steps = stepsOf(job);
            const region = steps.findIndex(
                (s) => s.run === 'bash .github/scripts/stack-config region "$PULUMI_STACK" >> "$GITHUB_ENV"',
            );
            assert.ok(region >= 0 && region < steps.indexOf(awsStep(job)!), `${w.name}/${id}`);
            assert.equal(awsStep(job)?.with?.["aws-region"], "${{ env.AWS_REGION }}");
        }
    });

    test("grants a write permission only to the job whose steps use it", () => {
        for (const [id, job] of jobsWithSteps()) {
            const steps = stepsOf(job);
            const needed = new Set<string>();
            if (steps.some((s) => usesAction(s, "aws-actions/configure-aws-credentials"))) needed.add("id-token");
            if (steps.some((s) => usesAction(s, "pulumi/actions") && s.with?.["comment-on-pr"] === true)) {
                needed.add("pull-requests");
            }
            const granted = Object.entries(job.permissions ?? {}).filter(([, level]) => level === "write");
            assert.deepEqual(granted.map(([scope]) => scope).sort(), [...needed].sort(), id);
        }
    });

    test("pins every action to a full commit SHA, one version per action, named in a comment", () => {
        const versions = new Map<string, string>();
        const texts = [...workflows.values(), ...actions].map((f) => ({ file: f.file, text: f.text }));
        let checked = 0;
        for (const { file, text } of texts) {
            for (const match of text.matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/gm)) {
                const [, ref, rest] = match;
                checked += 1;
                if (ref.startsWith("./")) continue;
                const pinned = /^([\w.-]+\/[\w./-]+)@([0-9a-f]{40})$/.exec(ref);
                assert.ok(pinned, `${file}: ${ref} is not pinned to a 40-hex commit SHA`);
                const version = /^\s+#\s*(v\d+\.\d+\.\d+)\s*$/.exec(rest)?.[1];
                assert.ok(version, `${file}: ${ref} has no "# vX.Y.Z" comment`);
                const [, action, sha] = pinned;
                const seen = versions.get(action);
                assert.ok(
                    seen === undefined || seen === `${sha} ${version}`,
                    `${file}: ${action} pinned twice: ${seen}`,
                );
                versions.set(action, `${sha} ${version}`);
            }
        }
        assert.ok(checked > 0, "no uses: found");
    });

    test("checks out without persisting the token in the work tree", () => {
        const checkouts = allSteps(workflows.values(), actions).filter((s) => usesAction(s, "actions/checkout"));
        assert.ok(checkouts.length > 0, "no checkout found");
        for (const step of checkouts) assert.equal(step.with?.["persist-credentials"], false);
    });

    test("never interpolates an expression into a shell script (values reach scripts through env)", () => {
        for (const step of allSteps(workflows.values(), actions)) {
            assert.ok(!step.run?.includes("${{"), `expression inside run: ${step.run}`);
        }
    });
});

describe("ci.yml", () => {
    const ci = workflow("ci");

    test("runs on pull requests, pushes and as deploy.yml's reusable gate", () => {
        assert.deepEqual(Object.keys(ci.on).sort(), ["pull_request", "push", "workflow_call"]);
    });

    test("cancels superseded runs of a pull request only; any other run, deploy.yml's included, is a group of its own", () => {
        assert.equal(ci.concurrency?.["cancel-in-progress"], "${{ github.event_name == 'pull_request' }}");
        // A shared group outside pull requests would let the next push cancel a pending run, and with it a deploy.
        assert.equal(
            ci.concurrency?.group,
            "ci-${{ github.event_name }}-${{ github.event.pull_request.number || github.run_id }}",
        );
    });

    test("runs each test suite of scripts/test in its own job", () => {
        const suites =
            /^readonly ALL_SUITES=\(([^)]*)\)$/m.exec(readFileSync("scripts/test", "utf8"))?.[1].split(" ") ?? [];
        assert.ok(suites.length >= 6, `suites of scripts/test: ${suites.join(", ")}`);
        for (const suite of suites) {
            assert.match(runs(ci.jobs[suite]), new RegExp(`^bash scripts/test-${suite}$`, "m"), suite);
        }
    });

    test("tests the service against a PostgreSQL 15 service container pinned to an exact minor", () => {
        const app = ci.jobs.app;
        assert.match(app.services?.postgres.image ?? "", /^postgres:15\.\d+$/);
        assert.match(app.env?.DATABASE_URL ?? "", /^postgresql:\/\/\w+:[^@]+@postgres:5432\/\w+$/);
    });
});

describe("preview.yml", () => {
    const preview = workflow("preview");
    const job = preview.jobs.preview;

    test("previews the dev stack and comments on the pull request", () => {
        const step = stepsOf(job).find((s) => usesAction(s, "pulumi/actions") && s.with?.command !== undefined);
        assert.equal(step?.with?.command, "preview");
        assert.equal(step?.with?.["stack-name"], "${{ env.PULUMI_STACK }}");
        assert.equal(preview.text.match(/^ {2}PULUMI_STACK: (\S+)$/m)?.[1], "dev");
        assert.deepEqual(Object.keys(preview.on), ["pull_request"], "never pull_request_target");
    });

    test("runs in the preview environment, whose reviewers gate the secrets, with the read-only preview role", () => {
        assert.equal(environmentName(job), "preview");
        assert.equal(awsStep(job)?.with?.["role-to-assume"], "${{ env.AWS_ROLE_ARN }}");
        assert.equal(job.env?.AWS_ROLE_ARN, "${{ vars.AWS_PREVIEW_ROLE_ARN }}");
        assert.doesNotMatch(preview.text, /AWS_DEPLOY_ROLE_ARN/);
    });

    test("never runs for a fork's or Dependabot's pull request, nor where previews are not set up", () => {
        const condition = (job.if ?? "").replace(/\s+/g, " ");
        assert.match(condition, /github\.event\.pull_request\.head\.repo\.full_name == github\.repository/);
        assert.match(condition, /github\.event\.pull_request\.user\.login != 'dependabot\[bot\]'/);
        assert.match(condition, /vars\.AWS_PREVIEW_ROLE_ARN != ''/);
        const otherwise = preview.jobs["no-preview"];
        assert.deepEqual(otherwise.permissions, {});
        assert.equal(environmentName(otherwise), undefined);
        assert.doesNotMatch(JSON.stringify(otherwise), /secrets\./);
    });

    test("works in every database mode: the same checks as a deploy, no skip for a missing databaseUrl", () => {
        const steps = stepsOf(job);
        for (const run of [
            'bash .github/scripts/stack-config check "$PULUMI_STACK"',
            'bash .github/scripts/stack-config set-database-url "$PULUMI_STACK"',
        ]) {
            const step = steps.find((s) => s.run === run);
            assert.equal(step?.env?.DATABASE_URL, "${{ secrets.DATABASE_URL }}", run);
        }
        assert.doesNotMatch(preview.text, /check-preview|ready == 'true'/);
    });
});

describe("deploy.yml", () => {
    const deploy = workflow("deploy");
    const job = deploy.jobs.deploy;

    test("runs on pushes to main, or by hand with a create input, after CI passes in the same run", () => {
        assert.deepEqual(Object.keys(deploy.on).sort(), ["push", "workflow_dispatch"]);
        assert.deepEqual(deploy.on.push, { branches: ["main"] });
        const inputs = deploy.on.workflow_dispatch?.inputs as Record<string, { required: boolean; default: string }>;
        assert.deepEqual(Object.keys(inputs), ["create"]);
        assert.equal(inputs.create.required, false);
        assert.equal(inputs.create.default, "");
        assert.equal(deploy.jobs.ci.uses, "./.github/workflows/ci.yml");
        assert.equal(job.needs, "ci");
    });

    test("deploys in the dev environment with OIDC credentials, buildx and pulumi up", () => {
        assert.equal(environmentName(job), "dev");
        const steps = stepsOf(job);
        const aws = steps.find((s) => usesAction(s, "aws-actions/configure-aws-credentials"));
        assert.equal(aws?.with?.["role-to-assume"], "${{ env.AWS_ROLE_ARN }}");
        assert.equal(job.env?.AWS_ROLE_ARN, "${{ vars.AWS_DEPLOY_ROLE_ARN }}");
        assert.equal(aws?.with?.["aws-access-key-id"], undefined);
        assert.ok(
            steps.some((s) => usesAction(s, "docker/setup-buildx-action")),
            "buildx is set up",
        );
        assert.equal(
            steps.find((s) => usesAction(s, "pulumi/actions") && s.with?.command !== undefined)?.with?.command,
            "up",
        );
    });

    test("the policy pack runs with pulumi up, the add-on pins and the preview gate before it", () => {
        const steps = stepsOf(job);
        const up = steps.findIndex((s) => usesAction(s, "pulumi/actions") && s.with?.command === "up");
        const gate = steps.findIndex((s) => (s.run ?? "").includes("npm run --silent preview:gate"));
        const addons = steps.findIndex((s) => (s.run ?? "").includes("npm run --silent addons:check"));
        const pack = steps.findIndex((s) => s.run === "npm ci --no-audit --no-fund --prefix policy");
        assert.equal(steps[up].with?.policyPacks, "policy");
        assert.ok(
            pack >= 0 && pack < gate && addons >= 0 && addons < up && gate < up,
            `${pack} ${addons} ${gate} ${up}`,
        );
        assert.match(steps[gate].run ?? "", /pulumi preview --json .*--policy-pack policy/);
        assert.equal(
            stepsOf(workflow("preview").jobs.preview).find((s) => s.with?.command === "preview")?.with?.policyPacks,
            "policy",
        );
    });

    test("checks databaseUrl before any credential, then sets it from the environment secret before pulumi up", () => {
        const steps = stepsOf(job);
        const index = (predicate: (run: string) => boolean) => steps.findIndex((s) => predicate(s.run ?? ""));
        const check = index((run) => run === 'bash .github/scripts/stack-config check "$PULUMI_STACK"');
        const set = index((run) => run === 'bash .github/scripts/stack-config set-database-url "$PULUMI_STACK"');
        const credentials = steps.findIndex((s) => usesAction(s, "aws-actions/configure-aws-credentials"));
        const installCli = steps.findIndex((s) => usesAction(s, "pulumi/actions") && s.with?.command === undefined);
        const up = steps.findIndex((s) => usesAction(s, "pulumi/actions") && s.with?.command === "up");
        assert.ok(check >= 0 && check < credentials, "the check runs before AWS credentials are issued");
        assert.ok(
            installCli >= 0 && installCli < set && set < up,
            "the CLI is installed, then databaseUrl set, then pulumi up",
        );
        for (const i of [check, set]) assert.equal(steps[i].env?.DATABASE_URL, "${{ secrets.DATABASE_URL }}");
        assert.equal(job.env?.DATABASE_URL, undefined, "the secret reaches only the steps that need it");
        assert.equal(steps[installCli].with?.["pulumi-version"], steps[up].with?.["pulumi-version"]);
    });

    test("waits for the rollout with the stack's kubeconfig, kept in a private file", () => {
        const script = runs(job);
        assert.match(script, /umask 077 && pulumi stack output kubeconfig --show-secrets/);
        assert.match(
            script,
            /kubectl rollout status deployment\/fastapi-deployment --namespace fastapi-app --timeout=\d+m/,
        );
        assert.doesNotMatch(script, /cat "?\$(kubeconfig|KUBECONFIG)/);
    });

    test("smoke-tests with the script, given the url, the load balancer and the source ranges from the stack", () => {
        const steps = stepsOf(job);
        const smoke = steps.find(
            (s) => s.run === 'bash .github/scripts/smoke-test "$APP_URL" "$LOAD_BALANCER" "$SOURCE_RANGES"',
        );
        assert.ok(smoke, "the smoke test runs .github/scripts/smoke-test");
        assert.equal(smoke.if, undefined, "the smoke test always runs");
        assert.ok(!("continue-on-error" in smoke), "a failed smoke test fails the deploy");
        assert.deepEqual(smoke.env, {
            APP_URL: "${{ steps.stack.outputs.url }}",
            LOAD_BALANCER: "${{ steps.stack.outputs.load-balancer }}",
            SOURCE_RANGES: "${{ steps.stack.outputs.source-ranges }}",
        });
        const outputs = runs(job);
        assert.match(
            outputs,
            /"load-balancer=\$\(pulumi stack output loadBalancerHostname --stack "\$PULUMI_STACK"\)"/,
        );
        assert.match(outputs, /pulumi config get allowedSourceRanges --stack "\$PULUMI_STACK"/);
        const rollout = steps.findIndex((s) => /kubectl rollout status/.test(s.run ?? ""));
        assert.ok(rollout >= 0 && rollout < steps.indexOf(smoke), "the rollout is awaited before the smoke test");
        assert.doesNotMatch(outputs, /curl /, "every HTTP check goes through the tested script");
    });

    test("a push never creates the stack from nothing: the empty-stack check runs before pulumi up", () => {
        const steps = stepsOf(job);
        const guard = steps.findIndex(
            (s) => s.run === 'bash .github/scripts/stack-config check-not-torn-down "$PULUMI_STACK"',
        );
        const up = steps.findIndex((s) => usesAction(s, "pulumi/actions") && s.with?.command === "up");
        const installCli = steps.findIndex((s) => usesAction(s, "pulumi/actions") && s.with?.command === undefined);
        assert.ok(
            guard >= 0 && installCli < guard && guard < up && steps.indexOf(awsStep(job)!) < guard,
            "the check runs with the CLI and credentials, before pulumi up",
        );
        assert.deepEqual(steps[guard].env, { CREATE: "${{ inputs.create }}" });
    });

    test("its timeout covers a Kubernetes minor upgrade: the provider's control-plane and node-group waits", () => {
        // pulumi-aws's default update timeouts: 60 min for eks.Cluster, 60 for eks.NodeGroup, 20 for an add-on.
        const upgradeMinutes = 60 + 60 + 20;
        assert.ok(
            (job["timeout-minutes"] ?? 0) >= upgradeMinutes + 30,
            "plus image, migration, rollout and smoke test",
        );
    });
});

describe("the stack's lock: Pulumi operations on dev queue, none is ever cancelled", () => {
    const lockJobs = () =>
        jobsOf(workflows.values()).filter(({ workflow: w, job }) => runsPulumi(job) && !("pull_request" in w.on));

    test("deploy, destroy and the drift check are among the jobs that hold it", () => {
        const names = lockJobs().map(({ workflow: w, id }) => `${w.name}/${id}`);
        for (const name of ["Deploy/deploy", "Destroy/destroy", "Drift check/drift"])
            assert.ok(names.includes(name), name);
    });

    test("every job that runs Pulumi on dev outside a pull request waits in one group, in order, never cancelling", () => {
        for (const { workflow: w, id, job } of lockJobs()) {
            assert.deepEqual(
                job.concurrency,
                { group: "pulumi-dev", "cancel-in-progress": false, queue: "max" },
                `${w.name}/${id}: without queue: max a newer run cancels the pending one`,
            );
        }
    });

    test("no workflow-level group can cancel a pending run of a workflow that holds the lock", () => {
        for (const { workflow: w } of lockJobs()) {
            const group = w.concurrency;
            assert.ok(group === undefined || group.queue === "max", `${w.file}: workflow concurrency ${group?.group}`);
        }
    });

    test("every queue is single or max, and max is never combined with cancel-in-progress (GitHub refuses it)", () => {
        const blocks = [...workflows.values()].flatMap((w) => [
            w.concurrency,
            ...Object.values(w.jobs).map((job) => (typeof job.concurrency === "object" ? job.concurrency : undefined)),
        ]);
        const queued = blocks.filter((c) => c?.queue !== undefined);
        assert.ok(queued.length > 0, "no concurrency block sets queue");
        for (const c of queued) {
            assert.ok(c?.queue === "single" || c?.queue === "max", `queue: ${c?.queue}`);
            if (c?.queue === "max") assert.equal(c["cancel-in-progress"], false, c.group);
        }
    });

    test("actionlint ignores the unknown queue key by its one message only, until it knows the key", () => {
        const config = readFileSync(join(githubDir, "actionlint.yaml"), "utf8");
        const ignores = [...config.matchAll(/^\s+- '(.*)'$/gm)].map((m) => m[1]);
        assert.deepEqual(ignores, [
            'unexpected key "queue" for "concurrency" section\\. expected one of "cancel-in-progress", "group"',
        ]);
        assert.match(config, /rhysd\/actionlint#657/);
    });
});

describe("drift.yml", () => {
    const drift = workflow("drift");
    const job = drift.jobs.drift;
    const pulumi = () => stepsOf(job).find((s) => usesAction(s, "pulumi/actions") && s.with?.command !== undefined);

    test("is started by hand only", () => assert.deepEqual(Object.keys(drift.on), ["workflow_dispatch"]));

    test("previews the dev stack after reading it back, and fails on any change", () => {
        assert.equal(pulumi()?.with?.command, "preview");
        assert.equal(pulumi()?.with?.["stack-name"], "${{ env.PULUMI_STACK }}");
        assert.equal(drift.text.match(/^ {2}PULUMI_STACK: (\S+)$/m)?.[1], "dev");
        assert.equal(pulumi()?.with?.refresh, true);
        assert.equal(pulumi()?.with?.["expect-no-changes"], true);
    });

    test("never updates anything: no pulumi command but preview, no image build", () => {
        const commands = stepsOf(job)
            .filter((s) => usesAction(s, "pulumi/actions"))
            .map((s) => s.with?.command)
            .filter(Boolean);
        assert.deepEqual(commands, ["preview"]);
        assert.ok(!stepsOf(job).some((s) => usesAction(s, "docker/setup-buildx-action")), "no buildx");
        assert.doesNotMatch(runs(job), /pulumi (up|destroy|refresh)/);
    });

    test("runs like a deploy: dev environment, OIDC deploy role, databaseUrl checked before any credential", () => {
        assert.equal(environmentName(job), "dev");
        const steps = stepsOf(job);
        const aws = steps.find((s) => usesAction(s, "aws-actions/configure-aws-credentials"));
        assert.equal(aws?.with?.["role-to-assume"], "${{ env.AWS_ROLE_ARN }}");
        assert.equal(job.env?.AWS_ROLE_ARN, "${{ vars.AWS_DEPLOY_ROLE_ARN }}");
        const check = steps.findIndex((s) => s.run === 'bash .github/scripts/stack-config check "$PULUMI_STACK"');
        const set = steps.findIndex(
            (s) => s.run === 'bash .github/scripts/stack-config set-database-url "$PULUMI_STACK"',
        );
        const credentials = steps.indexOf(aws);
        assert.ok(
            check >= 0 && check < credentials && credentials < set && set < steps.indexOf(pulumi()!),
            "check, credentials, databaseUrl, preview: in that order",
        );
        assert.equal(job.env?.DATABASE_URL, undefined, "the secret reaches only the steps that need it");
    });
});

describe("destroy.yml", () => {
    const destroy = workflow("destroy");

    test("is started by hand only, with a required confirmation input", () => {
        assert.deepEqual(Object.keys(destroy.on), ["workflow_dispatch"]);
        const inputs = destroy.on.workflow_dispatch?.inputs as Record<string, { required: boolean }>;
        assert.equal(inputs.confirm.required, true);
    });

    test("checks the confirmation through env, without any permission, before the destroy job", () => {
        const confirm = destroy.jobs.confirm;
        assert.deepEqual(confirm.permissions, {});
        assert.equal(environmentName(confirm), undefined);
        assert.equal(stepsOf(confirm)[0].env?.CONFIRMATION, "${{ inputs.confirm }}");
        assert.match(runs(confirm), /"\$CONFIRMATION" != "\$PULUMI_STACK"/);
        assert.equal(destroy.jobs.destroy.needs, "confirm");
    });

    test("destroys the dev stack in the dev environment", () => {
        const job = destroy.jobs.destroy;
        assert.equal(environmentName(job), "dev");
        assert.ok(stepsOf(job).some((s) => usesAction(s, "pulumi/actions") && s.with?.command === "destroy"));
    });
    test("releases a managed database's protection only when the run asks, before the destroy; then clears the log group", () => {
        const steps = stepsOf(destroy.jobs.destroy);
        const release = steps.findIndex((s) => (s.run ?? "").includes("databaseDeletionProtection false"));
        const destroyStep = steps.findIndex((s) => s.with?.command === "destroy");
        const clear = steps.findIndex((s) => (s.run ?? "").includes("scripts/clear-control-plane-logs"));
        assert.ok(
            release >= 0 && release < destroyStep && destroyStep < clear,
            `${release} < ${destroyStep} < ${clear}`,
        );
        assert.equal(steps[release].if, "inputs.release_database");
        assert.match(steps[release].run ?? "", /--policy-pack-config policy\/teardown\.json/);
        const dispatch = destroy.on.workflow_dispatch as { inputs: Record<string, { default?: unknown }> };
        assert.equal(dispatch.inputs.release_database.default, false);
    });
});

describe("check-settings", () => {
    const script = join(githubDir, "scripts", "check-settings");
    const empty = { AWS_ROLE_ARN: "", PULUMI_ACCESS_TOKEN: "", PULUMI_BACKEND_URL: "", PULUMI_CONFIG_PASSPHRASE: "" };

    function check(settings: Partial<typeof empty>) {
        const env = { PATH: process.env.PATH ?? "", ...empty, ...settings };
        const result = spawnSync("bash", [script, "notice", "AWS_PREVIEW_ROLE_ARN"], { env, encoding: "utf8" });
        return { status: result.status, out: result.stdout };
    }

    const role = { AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/preview" };

    test("accepts a role with a Pulumi Cloud token", () => {
        assert.equal(check({ ...role, PULUMI_ACCESS_TOKEN: "pul-x" }).status, 0);
    });

    test("accepts a role with a self-managed backend and its passphrase", () => {
        assert.equal(check({ ...role, PULUMI_BACKEND_URL: "s3://state", PULUMI_CONFIG_PASSPHRASE: "p" }).status, 0);
    });

    test("names every missing setting in one annotation of the requested level", () => {
        const { status, out } = check({});
        assert.equal(status, 1);
        assert.match(out, /^::notice title=Pulumi settings missing::/);
        assert.match(out, /variable AWS_PREVIEW_ROLE_ARN/);
        assert.match(out, /secret PULUMI_ACCESS_TOKEN .* or variable PULUMI_BACKEND_URL/);
    });

    test("asks for the passphrase when a self-managed backend is set without one", () => {
        const { status, out } = check({ ...role, PULUMI_BACKEND_URL: "s3://state" });
        assert.equal(status, 1);
        assert.match(out, /secret PULUMI_CONFIG_PASSPHRASE/);
    });

    test("never prints a secret's value", () => {
        const { out } = check({ PULUMI_ACCESS_TOKEN: "pul-secret-value" });
        assert.doesNotMatch(out, /pul-secret-value/);
    });
});

describe("stack-config", () => {
    const script = join(githubDir, "scripts", "stack-config");
    const secretUrl = "postgresql://app:s3cr3t-pa55@db.example.com:5432/app";
    const saltOnly = "encryptionsalt: v1:abc:def\nconfig:\n  aws:region: ap-southeast-1\n";
    const managed = `${saltOnly}  fastapi-app:databaseMode: managed\n`;
    const external = `${saltOnly}  fastapi-app:databaseMode: external\n`;
    const withUrl = `${external}  fastapi-app:databaseUrl:\n    secure: v1:xyz\n`;

    /** Runs the script in a scratch directory with a recording stand-in for the pulumi CLI. */
    function run(action: string, stackFile: string | undefined, env: Record<string, string>) {
        const dir = mkdtempSync(join(tmpdir(), "stack-config-"));
        try {
            const bin = join(dir, "bin");
            const recorder = join(bin, "pulumi");
            mkdirSync(bin);
            writeFileSync(
                recorder,
                '#!/bin/sh\nprintf \'%s\\n\' "$*" > "$PULUMI_ARGS_LOG"\ncat > "$PULUMI_STDIN_LOG"\nprintf \'%s\' "${FAKE_PULUMI_STDOUT:-}"\n',
            );
            chmodSync(recorder, 0o755);
            if (stackFile !== undefined) writeFileSync(join(dir, "Pulumi.dev.yaml"), stackFile);
            const args = join(dir, "args"),
                stdin = join(dir, "stdin");
            const result = spawnSync("bash", [script, action, "dev"], {
                cwd: dir,
                encoding: "utf8",
                env: {
                    PATH: `${bin}:${process.env.PATH ?? ""}`,
                    PULUMI_ARGS_LOG: args,
                    PULUMI_STDIN_LOG: stdin,
                    ...env,
                },
            });
            const read = (file: string) => {
                try {
                    return readFileSync(file, "utf8");
                } catch {
                    return undefined;
                }
            };
            return { status: result.status, out: result.stdout + result.stderr, args: read(args), stdin: read(stdin) };
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    }

    test("databaseMode decides the database: a stack file without it stops the deploy with the line to add", () => {
        const { status, out } = run("check", saltOnly, { DATABASE_URL: secretUrl });
        assert.equal(status, 1);
        assert.match(
            out,
            /^::error title=databaseMode missing::.*pulumi config set --stack dev databaseMode external/m,
        );
    });

    test("managed mode goes ahead and says so; a DATABASE_URL it would ignore stops it", () => {
        const ok = run("check", managed, {});
        assert.equal(ok.status, 0);
        assert.match(
            ok.out,
            /^Managed database: databaseMode is managed, so the stack creates and uses its own PostgreSQL/m,
        );
        const ignored = run("check", managed, { DATABASE_URL: secretUrl });
        assert.equal(ignored.status, 1);
        assert.match(ignored.out, /^::error title=DATABASE_URL set in managed mode::/m);
        assert.doesNotMatch(ignored.out, /s3cr3t/);
    });

    test("external mode without the secret stops the deploy, naming it, instead of creating a database", () => {
        const { status, out } = run("check", external, {});
        assert.equal(status, 1);
        assert.match(
            out,
            /^::error title=databaseUrl missing::databaseMode is external, but neither the environment secret DATABASE_URL nor databaseUrl/m,
        );
    });

    test("external mode with either source of databaseUrl goes ahead, and says which source", () => {
        const fromSecret = run("check", external, { DATABASE_URL: secretUrl });
        assert.equal(fromSecret.status, 0);
        assert.match(
            fromSecret.out,
            /^External database: databaseUrl comes from the environment secret DATABASE_URL\./m,
        );
        assert.doesNotMatch(fromSecret.out, /s3cr3t/);
        const fromFile = run("check", withUrl, {});
        assert.equal(fromFile.status, 0);
        assert.match(fromFile.out, /^External database: databaseUrl comes from Pulumi\.dev\.yaml\./m);
    });

    test("a quoted databaseMode is read too; any other value stops the deploy", () => {
        assert.equal(run("check", `${saltOnly}  fastapi-app:databaseMode: "managed"\n`, {}).status, 0);
        const { status, out } = run("check", `${saltOnly}  fastapi-app:databaseMode: rds\n`, {});
        assert.equal(status, 1);
        assert.match(out, /^::error title=databaseMode invalid::/m);
    });

    test("a self-managed backend needs the committed encryptionsalt", () => {
        const noSalt = "config:\n  aws:region: ap-southeast-1\n  fastapi-app:databaseMode: external\n";
        const { status, out } = run("check", noSalt, {
            DATABASE_URL: secretUrl,
            PULUMI_BACKEND_URL: "s3://state",
        });
        assert.equal(status, 1);
        assert.match(out, /^::error title=Stack file incomplete::Pulumi\.dev\.yaml has no encryptionsalt/m);
        assert.equal(run("check", noSalt, { DATABASE_URL: secretUrl }).status, 0, "Pulumi Cloud needs no salt");
        assert.equal(run("check", external, { DATABASE_URL: secretUrl, PULUMI_BACKEND_URL: "s3://state" }).status, 0);
    });

    test("sets the secret through stdin only, never on the command line or in the output", () => {
        const { status, out, args, stdin } = run("set-database-url", external, { DATABASE_URL: secretUrl });
        assert.equal(status, 0);
        assert.equal(args, "config set --secret --stack dev databaseUrl\n");
        assert.equal(stdin, secretUrl, "exactly the value, without a trailing newline");
        assert.doesNotMatch(out, /s3cr3t/);
    });

    test("leaves the stack file's databaseUrl alone when DATABASE_URL is not set", () => {
        const { status, args } = run("set-database-url", withUrl, {});
        assert.equal(status, 0);
        assert.equal(args, undefined, "pulumi was not called");
    });

    test("never sets databaseUrl in managed mode", () => {
        const { status, args } = run("set-database-url", managed, { DATABASE_URL: secretUrl });
        assert.equal(status, 0);
        assert.equal(args, undefined, "pulumi was not called");
    });

    test("the region is the stack file's aws:region, or the project's default", () => {
        assert.equal(run("region", saltOnly.replace("ap-southeast-1", "eu-west-1"), {}).out, "AWS_REGION=eu-west-1\n");
        assert.equal(
            run("region", "config:\n  fastapi-app:vpcCidr: 10.0.0.0/16\n", {}).out,
            "AWS_REGION=ap-southeast-1\n",
        );
        assert.equal(run("region", undefined, {}).out, "AWS_REGION=ap-southeast-1\n");
    });

    const state = (resources: number) =>
        JSON.stringify({
            version: 3,
            deployment: {
                manifest: {},
                resources: Array.from({ length: resources }, (_, i) => ({ urn: `urn:${i}`, type: "t" })),
            },
        });

    test("a stack torn down by destroy.yml, or never deployed, is not created by a push", () => {
        for (const empty of [state(0), JSON.stringify({ version: 3, deployment: { manifest: {} } })]) {
            const { status, out, args } = run("check-not-torn-down", saltOnly, { FAKE_PULUMI_STDOUT: empty });
            assert.equal(args, "stack export --stack dev\n");
            assert.equal(status, 1);
            assert.match(
                out,
                /^::error title=Stack dev is empty::.*gh workflow run deploy\.yml --ref main -f create=dev/m,
            );
        }
        assert.equal(run("check-not-torn-down", saltOnly, { FAKE_PULUMI_STDOUT: state(0), CREATE: "prod" }).status, 1);
    });

    test("an empty stack is created when the run was started with create = the stack's name; a live stack is updated", () => {
        const create = run("check-not-torn-down", saltOnly, { FAKE_PULUMI_STDOUT: state(0), CREATE: "dev" });
        assert.equal(create.status, 0);
        assert.match(create.out, /creates them, as its create input asks/);
        const update = run("check-not-torn-down", saltOnly, { FAKE_PULUMI_STDOUT: state(42) });
        assert.equal(update.status, 0);
        assert.match(update.out, /holds 42 resources: this run updates it/);
    });
});
