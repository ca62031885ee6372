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

    test("gives every job that runs steps a timeout of at most an hour", () => {
        for (const [id, job] of jobsWithSteps()) {
            const timeout = job["timeout-minutes"];
            assert.ok(typeof timeout === "number" && timeout > 0 && timeout <= 60, `${id}: timeout-minutes ${timeout}`);
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
        assert.ok(checkouts.length > 0);
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

    test("cancels superseded runs of a pull request only", () => {
        assert.equal(ci.concurrency?.["cancel-in-progress"], "${{ github.event_name == 'pull_request' }}");
        assert.match(ci.concurrency?.group ?? "", /^ci-/);
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

    test("previews the dev stack and comments on the pull request", () => {
        const step = stepsOf(preview.jobs.preview).find((s) => usesAction(s, "pulumi/actions"));
        assert.equal(step?.with?.command, "preview");
        assert.equal(step?.with?.["stack-name"], "${{ env.PULUMI_STACK }}");
        assert.equal(preview.text.match(/^ {2}PULUMI_STACK: (\S+)$/m)?.[1], "dev");
    });

    test("runs only when the settings check found its secrets, and says so otherwise", () => {
        assert.equal(preview.jobs.preview.if, "needs.settings.outputs.ready == 'true'");
        const check = runs(preview.jobs.settings);
        assert.match(check, /check-settings notice AWS_PREVIEW_ROLE_ARN \|\| ready=false/);
        assert.match(check, /stack-config check-preview "\$PULUMI_STACK" \|\| ready=false/);
        assert.match(check, /::notice title=Preview skipped::/);
        assert.deepEqual(preview.jobs.settings.permissions, { contents: "read" });
    });

    test("runs outside any GitHub environment with the read-only preview role, never with DATABASE_URL", () => {
        for (const job of Object.values(preview.jobs)) assert.equal(environmentName(job), undefined);
        const aws = stepsOf(preview.jobs.preview).find((s) => usesAction(s, "aws-actions/configure-aws-credentials"));
        assert.equal(aws?.with?.["role-to-assume"], "${{ vars.AWS_PREVIEW_ROLE_ARN }}");
        assert.doesNotMatch(preview.text, /secrets\.DATABASE_URL/);
    });
});

describe("deploy.yml", () => {
    const deploy = workflow("deploy");
    const job = deploy.jobs.deploy;

    test("runs on pushes to main only, after CI passes in the same run", () => {
        assert.deepEqual(deploy.on, { push: { branches: ["main"] } });
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
        assert.ok(steps.some((s) => usesAction(s, "docker/setup-buildx-action")));
        assert.equal(
            steps.find((s) => usesAction(s, "pulumi/actions") && s.with?.command !== undefined)?.with?.command,
            "up",
        );
    });

    test("checks databaseUrl before any credential, then sets it from the environment secret before pulumi up", () => {
        const steps = stepsOf(job);
        const index = (predicate: (run: string) => boolean) => steps.findIndex((s) => predicate(s.run ?? ""));
        const check = index((run) => run === 'bash .github/scripts/stack-config check-deploy "$PULUMI_STACK"');
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

    test("polls /health and /ready through the load balancer for a bounded time", () => {
        const script = runs(job);
        assert.match(script, /for attempt in \$\(seq 1 60\)/);
        assert.match(script, /"\$APP_URL\/health"/);
        assert.match(script, /"\$APP_URL\/ready"/);
    });

    test("shares one lock with destroy.yml and the drift check, and never cancels a running update", () => {
        const destroyJob = workflow("destroy").jobs.destroy;
        for (const j of [job, destroyJob, workflow("drift").jobs.drift]) {
            assert.deepEqual(j.concurrency, { group: "pulumi-dev", "cancel-in-progress": false });
        }
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
        assert.ok(!stepsOf(job).some((s) => usesAction(s, "docker/setup-buildx-action")));
        assert.doesNotMatch(runs(job), /pulumi (up|destroy|refresh)/);
    });

    test("runs like a deploy: dev environment, OIDC deploy role, databaseUrl checked before any credential", () => {
        assert.equal(environmentName(job), "dev");
        const steps = stepsOf(job);
        const aws = steps.find((s) => usesAction(s, "aws-actions/configure-aws-credentials"));
        assert.equal(aws?.with?.["role-to-assume"], "${{ env.AWS_ROLE_ARN }}");
        assert.equal(job.env?.AWS_ROLE_ARN, "${{ vars.AWS_DEPLOY_ROLE_ARN }}");
        const check = steps.findIndex(
            (s) => s.run === 'bash .github/scripts/stack-config check-deploy "$PULUMI_STACK"',
        );
        const set = steps.findIndex(
            (s) => s.run === 'bash .github/scripts/stack-config set-database-url "$PULUMI_STACK"',
        );
        const credentials = steps.indexOf(aws);
        assert.ok(check >= 0 && check < credentials && credentials < set && set < steps.indexOf(pulumi()!));
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
        assert.equal(stepsOf(job).find((s) => usesAction(s, "pulumi/actions"))?.with?.command, "destroy");
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
    const withUrl = `${saltOnly}  fastapi-app:databaseUrl:\n    secure: v1:xyz\n`;

    /** Runs the script in a scratch directory with a recording stand-in for the pulumi CLI. */
    function run(action: string, stackFile: string | undefined, env: Record<string, string>) {
        const dir = mkdtempSync(join(tmpdir(), "stack-config-"));
        try {
            const bin = join(dir, "bin");
            const recorder = join(bin, "pulumi");
            mkdirSync(bin);
            writeFileSync(
                recorder,
                '#!/bin/sh\nprintf \'%s\\n\' "$*" > "$PULUMI_ARGS_LOG"\ncat > "$PULUMI_STDIN_LOG"\n',
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

    test("a deploy without DATABASE_URL nor databaseUrl in the stack file goes ahead with the managed database, and says so", () => {
        const { status, out } = run("check-deploy", saltOnly, {});
        assert.equal(status, 0);
        assert.match(out, /^Managed database: no databaseUrl .* the stack creates and uses its own PostgreSQL/m);
    });

    test("a deploy with either source of databaseUrl uses the external database, and says which source", () => {
        const fromSecret = run("check-deploy", saltOnly, { DATABASE_URL: secretUrl });
        assert.equal(fromSecret.status, 0);
        assert.match(
            fromSecret.out,
            /^External database: databaseUrl comes from the environment secret DATABASE_URL\./m,
        );
        assert.doesNotMatch(fromSecret.out, /s3cr3t/);
        const fromFile = run("check-deploy", withUrl, {});
        assert.equal(fromFile.status, 0);
        assert.match(fromFile.out, /^External database: databaseUrl comes from Pulumi\.dev\.yaml\./m);
    });

    test("a self-managed backend needs the committed encryptionsalt", () => {
        const noSalt = "config:\n  aws:region: ap-southeast-1\n";
        const { status, out } = run("check-deploy", noSalt, {
            DATABASE_URL: secretUrl,
            PULUMI_BACKEND_URL: "s3://state",
        });
        assert.equal(status, 1);
        assert.match(out, /^::error title=Stack file incomplete::Pulumi\.dev\.yaml has no encryptionsalt/m);
        assert.equal(run("check-deploy", noSalt, { DATABASE_URL: secretUrl }).status, 0, "Pulumi Cloud needs no salt");
        assert.equal(
            run("check-deploy", saltOnly, { DATABASE_URL: secretUrl, PULUMI_BACKEND_URL: "s3://state" }).status,
            0,
        );
    });

    test("sets the secret through stdin only, never on the command line or in the output", () => {
        const { status, out, args, stdin } = run("set-database-url", saltOnly, { DATABASE_URL: secretUrl });
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

    test("a preview without databaseUrl in the stack file is skipped with a notice, whatever the environment holds", () => {
        const { status, out } = run("check-preview", saltOnly, { DATABASE_URL: secretUrl });
        assert.equal(status, 1);
        assert.match(out, /^::notice title=databaseUrl not in Pulumi\.dev\.yaml::/m);
        assert.equal(run("check-preview", withUrl, {}).status, 0);
    });
});
