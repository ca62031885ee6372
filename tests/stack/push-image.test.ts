// scripts/push-image, the step that puts the service image in ECR, run with stand-ins for the aws and docker CLIs
// that record their arguments and play ECR: a tag is found, absent, pushed meanwhile, or ECR refuses to answer.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const SCRIPT = path.join(__dirname, "..", "..", "scripts", "push-image");
const REPOSITORY = "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/fastapi-app";
const TAG = "0123456789abcdef";
const FOUND = `sha256:${"f".repeat(64)}`;
const PUSHED = `sha256:${"b".repeat(64)}`;

// ECR as the stand-ins see it: the digest under the tag lives in $ECR_DIR/tag (absent: ImageNotFoundException).
const FAKE_AWS = `#!/usr/bin/env bash
printf 'aws %s\\n' "$*" >> "$CALLS"
case "$1 $2" in
  "ecr describe-images")
    if [ -n "\${ECR_ERROR:-}" ]; then echo "An error occurred ($ECR_ERROR) when calling the DescribeImages operation" >&2; exit 254; fi
    if [ -f "$ECR_DIR/tag" ]; then cat "$ECR_DIR/tag"; exit 0; fi
    echo "An error occurred (ImageNotFoundException) when calling the DescribeImages operation" >&2; exit 254 ;;
  "ecr get-login-password") echo "registry-password" ;;
esac
`;
const FAKE_DOCKER = `#!/usr/bin/env bash
printf 'docker %s\\n' "$*" >> "$CALLS"
if [ "$1" = login ]; then printf 'stdin %s\\n' "$(cat)" >> "$CALLS"; exit 0; fi
if [ "$1 $2" = "buildx build" ]; then
  case "\${DOCKER_OUTCOME:-pushed}" in
    pushed) echo "${PUSHED}" > "$ECR_DIR/tag" ;;
    raced) echo "${FOUND}" > "$ECR_DIR/tag"; echo "tag invalid: already exists" >&2; exit 1 ;;
    failed) echo "build failed" >&2; exit 1 ;;
  esac
fi
`;

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
    calls: string[];
}

function run(ecr: { digest?: string; error?: string }, dockerOutcome = "pushed"): Run {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "push-image-"));
    try {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(bin, "aws"), FAKE_AWS, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "docker"), FAKE_DOCKER, { mode: 0o755 });
        if (ecr.digest !== undefined) {
            fs.writeFileSync(path.join(dir, "tag"), `${ecr.digest}\n`);
        }
        const calls = path.join(dir, "calls");
        fs.writeFileSync(calls, "");
        const result = spawnSync("bash", [SCRIPT], {
            encoding: "utf8",
            timeout: 30_000,
            env: {
                PATH: `${bin}:${process.env.PATH ?? ""}`,
                CALLS: calls,
                ECR_DIR: dir,
                DOCKER_OUTCOME: dockerOutcome,
                ...(ecr.error ? { ECR_ERROR: ecr.error } : {}),
                IMAGE_REPOSITORY: REPOSITORY,
                IMAGE_TAG: TAG,
                BUILD_CONTEXT: "app",
                PLATFORM: "linux/amd64",
            },
        });
        return {
            status: result.status,
            stdout: result.stdout,
            stderr: result.stderr,
            calls: fs.readFileSync(calls, "utf8").trim().split("\n").filter(Boolean),
        };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("scripts/push-image", () => {
    test("a tag already in ECR is deployed as it is: nothing is built, logged in to or pushed", () => {
        const { status, stdout, calls } = run({ digest: FOUND });
        assert.equal(status, 0);
        assert.equal(stdout, `${REPOSITORY}@${FOUND}\n`);
        assert.deepEqual(calls, [
            `aws ecr describe-images --region ap-southeast-1 --repository-name fastapi-app --image-ids imageTag=${TAG} --query imageDetails[0].imageDigest --output text`,
        ]);
    });
    test("a new tag is built for the platform and pushed; the digest ECR then holds is the output", () => {
        const { status, stdout, calls } = run({});
        assert.equal(status, 0);
        assert.equal(stdout, `${REPOSITORY}@${PUSHED}\n`);
        assert.deepEqual(
            calls.filter((call) => call.startsWith("docker")),
            [
                "docker login --username AWS --password-stdin 123456789012.dkr.ecr.ap-southeast-1.amazonaws.com",
                `docker buildx build --platform linux/amd64 --provenance=false --sbom=false --tag ${REPOSITORY}:${TAG} --push app`,
            ],
        );
    });
    test("the registry password reaches docker through stdin, never as an argument", () => {
        const { calls } = run({});
        assert.ok(calls.includes("stdin registry-password"));
        assert.equal(
            calls.filter((call) => !call.startsWith("stdin")).some((call) => call.includes("registry-password")),
            false,
        );
    });
    test("a push refused because another run pushed the tag meanwhile deploys that run's image", () => {
        const { status, stdout } = run({}, "raced");
        assert.equal(status, 0);
        assert.equal(stdout, `${REPOSITORY}@${FOUND}\n`);
    });
    test("a failed build fails the step, with nothing on stdout", () => {
        const { status, stdout, stderr } = run({}, "failed");
        assert.notEqual(status, 0);
        assert.equal(stdout, "");
        assert.match(stderr, /build failed/);
    });
    test("when ECR cannot be asked, nothing is built and its error is shown", () => {
        const { status, stderr, calls } = run({ error: "AccessDeniedException" });
        assert.notEqual(status, 0);
        assert.match(stderr, /AccessDeniedException/);
        assert.equal(
            calls.some((call) => call.startsWith("docker")),
            false,
        );
    });
});
