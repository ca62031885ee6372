// scripts/clear-control-plane-logs, run after pulumi destroy, with a stand-in for the aws CLI that plays EKS and
// CloudWatch Logs: the group is absent, present, or re-created by EKS a while after the cluster is gone.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const SCRIPT = path.join(__dirname, "..", "..", "scripts", "clear-control-plane-logs");
const GROUP = "/aws/eks/fastapi-app-cluster/cluster";

// $STATE/clusters lists the clusters; $STATE/group exists while the log group does; $STATE/recreate_after counts
// the describe calls after which EKS writes its buffered logs again (the group reappears once).
const FAKE_AWS = `#!/usr/bin/env bash
printf 'aws %s\\n' "$*" >> "$STATE/calls"
case "$1 $2" in
  "eks list-clusters") cat "$STATE/clusters" ;;
  "logs describe-log-groups")
    if [ -f "$STATE/recreate_after" ]; then
      left=$(cat "$STATE/recreate_after")
      if [ "$left" -le 0 ]; then touch "$STATE/group"; rm "$STATE/recreate_after"; else echo $((left - 1)) > "$STATE/recreate_after"; fi
    fi
    if [ -f "$STATE/group" ]; then echo "${GROUP}"; fi ;;
  "logs delete-log-group") rm "$STATE/group" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`;

function run(world: { clusters?: string; group?: boolean; recreateAfter?: number }, args: string[] = []) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "clear-logs-"));
    try {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(bin, "aws"), FAKE_AWS, { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "clusters"), `${world.clusters ?? ""}\n`);
        fs.writeFileSync(path.join(dir, "calls"), "");
        if (world.group === true) {
            fs.writeFileSync(path.join(dir, "group"), "");
        }
        if (world.recreateAfter !== undefined) {
            fs.writeFileSync(path.join(dir, "recreate_after"), `${world.recreateAfter}\n`);
        }
        const result = spawnSync("bash", [SCRIPT, "fastapi-app-cluster", "ap-southeast-1", ...args], {
            encoding: "utf8",
            timeout: 30_000,
            env: { PATH: `${bin}:${process.env.PATH ?? ""}`, STATE: dir },
        });
        return {
            status: result.status,
            out: result.stdout + result.stderr,
            calls: fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n"),
            groupLeft: fs.existsSync(path.join(dir, "group")),
        };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("clear-control-plane-logs", () => {
    test("deletes the group EKS re-created once the cluster is gone", () => {
        const result = run({ group: true });
        assert.equal(result.status, 0);
        assert.equal(result.groupLeft, false);
        assert.ok(result.calls.includes(`aws logs delete-log-group --region ap-southeast-1 --log-group-name ${GROUP}`));
    });
    test("with nothing to delete, says the next deploy can create it", () => {
        const result = run({});
        assert.equal(result.status, 0);
        assert.match(result.out, /No \/aws\/eks\/fastapi-app-cluster\/cluster in ap-southeast-1/);
        assert.ok(!result.calls.some((call) => call.includes("delete-log-group")));
    });
    test("watching, it also deletes a group that EKS re-creates later", () => {
        const result = run({ recreateAfter: 2 }, ["3", "1"]);
        assert.equal(result.status, 0);
        assert.equal(result.groupLeft, false);
        assert.equal(result.calls.filter((call) => call.includes("delete-log-group")).length, 1);
        assert.ok(result.calls.filter((call) => call.includes("describe-log-groups")).length >= 3);
    });
    test("refuses while the cluster exists: the group is the stack's own then", () => {
        const result = run({ clusters: "other\tfastapi-app-cluster", group: true });
        assert.equal(result.status, 1);
        assert.equal(result.groupLeft, true);
        assert.match(result.out, /the cluster fastapi-app-cluster still exists/);
    });
    test("a cluster whose name only contains this one does not count", () =>
        assert.equal(run({ clusters: "fastapi-app-cluster-2", group: true }).groupLeft, false));
});
