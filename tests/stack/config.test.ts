// Configuration: seed defaults, and every bad value rejected with a message naming the key.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { FAKE_DATABASE_URL, errorOf, installMocks, setStackConfig, valueOf } from "./mocks";
import { ConfigError, loadConfig, validateDatabaseUrl } from "../../config";

installMocks();

function loadWith(values: Record<string, string>) {
    setStackConfig(values);
    return loadConfig();
}

function assertRejected(values: Record<string, string>, key: string, detail: RegExp): void {
    assert.throws(() => loadWith(values), (error: Error) => {
        assert.ok(error instanceof ConfigError, `a ConfigError, not ${error.name}`);
        assert.match(error.message, new RegExp(`^config '${key}'`));
        assert.match(error.message, detail);
        return true;
    });
}

describe("defaults are the seed's values", () => {
    test("network: 10.0.0.0/16, ap-southeast-1a/b, 10.0.1.0/24 + 10.0.2.0/24", () => {
        const config = loadWith({});
        assert.equal(config.region, "ap-southeast-1");
        assert.equal(config.vpcCidr, "10.0.0.0/16");
        assert.deepEqual(config.availabilityZones, ["ap-southeast-1a", "ap-southeast-1b"]);
        assert.deepEqual(config.publicSubnetCidrs, ["10.0.1.0/24", "10.0.2.0/24"]);
    });
    test("nodes: t3.medium, desired 2, min 2 (the seed's 1 would let the autoscaler pack every pod onto one node), max 3, 20 GB; Kubernetes 1.36", () => {
        const config = loadWith({});
        assert.deepEqual(
            [config.nodeInstanceType, config.nodeDesiredSize, config.nodeMinSize, config.nodeMaxSize, config.nodeDiskSizeGb, config.kubernetesVersion],
            ["t3.medium", 2, 2, 3, 20, "1.36"]);
    });
    test("app: HPA 2..10 at 70 % CPU; name prefix fastapi-app; builds the image; no extra admins", () => {
        const config = loadWith({});
        assert.deepEqual([config.appMinReplicas, config.appMaxReplicas, config.appTargetCpuPercent], [2, 10, 70]);
        assert.equal(config.namePrefix, "fastapi-app");
        assert.equal(config.image, undefined);
        assert.deepEqual(config.clusterAdmins, []);
    });
    test("databaseUrl is read as a secret", async () => {
        const config = loadWith({});
        assert.equal(await pulumi.isSecret(config.databaseUrl), true);
        assert.equal(await valueOf(config.databaseUrl), FAKE_DATABASE_URL);
    });
});

describe("overrides are honoured", () => {
    test("node sizes, instance type and Kubernetes version", () => {
        const config = loadWith({ nodeInstanceType: "m6i.large", nodeMinSize: "2", nodeDesiredSize: "3", nodeMaxSize: "5", kubernetesVersion: "1.35" });
        assert.deepEqual([config.nodeInstanceType, config.nodeMinSize, config.nodeDesiredSize, config.nodeMaxSize, config.kubernetesVersion],
            ["m6i.large", 2, 3, 5, "1.35"]);
    });
    test("cluster admins: a laptop user and the GitHub deploy role", () => {
        const admins = ["arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:role/github-deploy"];
        assert.deepEqual(loadWith({ clusterAdmins: JSON.stringify(admins) }).clusterAdmins, admins);
    });
    test("image: an existing image by digest (rollback)", () => {
        const image = `123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/fastapi-app@sha256:${"0".repeat(64)}`;
        assert.equal(loadWith({ image }).image, image);
    });
});

describe("bad values fail with a message naming the key", () => {
    test("vpcCidr not a CIDR", () => assertRejected({ vpcCidr: "10.0.0.0" }, "vpcCidr", /not an IPv4 CIDR/));
    test("vpcCidr with an octet above 255", () => assertRejected({ vpcCidr: "10.300.0.0/16" }, "vpcCidr", /not an IPv4 CIDR/));
    test("vpcCidr with host bits set", () => assertRejected({ vpcCidr: "10.0.0.1/16" }, "vpcCidr", /host bits/));
    test("vpcCidr larger than AWS allows", () => assertRejected({ vpcCidr: "10.0.0.0/8" }, "vpcCidr", /\/16 and \/28/));
    test("subnet outside the VPC", () => assertRejected({ publicSubnetCidrs: '["10.0.1.0/24","10.1.2.0/24"]' }, "publicSubnetCidrs", /not inside vpcCidr/));
    test("overlapping subnets", () => assertRejected({ publicSubnetCidrs: '["10.0.0.0/23","10.0.1.0/24"]' }, "publicSubnetCidrs", /overlaps/));
    test("subnet smaller than AWS allows", () =>
        assertRejected({ publicSubnetCidrs: '["10.0.1.0/24","10.0.2.0/30"]' }, "publicSubnetCidrs", /10\.0\.2\.0\/30: AWS subnets take a prefix between \/16 and \/28/));
    test("subnet larger than AWS allows", () =>
        assertRejected({ vpcCidr: "10.0.0.0/16", publicSubnetCidrs: '["10.0.0.0/15","10.2.0.0/24"]' }, "publicSubnetCidrs", /\/16 and \/28/));
    test("subnet count differs from the AZ count", () => assertRejected({ publicSubnetCidrs: '["10.0.1.0/24"]' }, "publicSubnetCidrs", /one block per availability zone/));
    test("fewer than two availability zones", () => assertRejected({ availabilityZones: '["ap-southeast-1a"]', publicSubnetCidrs: '["10.0.1.0/24"]' }, "availabilityZones", /at least two/));
    test("availability zone from another region", () => assertRejected({ availabilityZones: '["ap-southeast-1a","us-east-1b"]' }, "availabilityZones", /us-east-1b not in region ap-southeast-1/));
    test("nodeMinSize greater than nodeMaxSize", () => assertRejected({ nodeMinSize: "4", nodeMaxSize: "3", nodeDesiredSize: "3" }, "nodeMinSize", /must not exceed nodeMaxSize/));
    test("nodeDesiredSize above nodeMaxSize", () => assertRejected({ nodeDesiredSize: "4" }, "nodeDesiredSize", /must not exceed nodeMaxSize/));
    test("nodeDesiredSize below nodeMinSize", () => assertRejected({ nodeDesiredSize: "0" }, "nodeMinSize", /must not exceed nodeDesiredSize/));
    test("fractional node count", () => assertRejected({ nodeMaxSize: "2.5" }, "nodeMaxSize", /whole number/));
    test("a single node: losing it, or draining it, would take every pod", () =>
        assertRejected({ nodeMinSize: "1", nodeDesiredSize: "1" }, "nodeMinSize", /at least 2: the service's pods run on two nodes/));
    test("at most two nodes: a drain of one of them would have nowhere to put its pods", () =>
        assertRejected({ nodeMaxSize: "2", nodeDesiredSize: "2" }, "nodeMaxSize", /at least 3: draining one of two nodes needs a third/));
    test("root volume below 20 GB", () => assertRejected({ nodeDiskSizeGb: "8" }, "nodeDiskSizeGb", /from 20/));
    test("instance type format", () => assertRejected({ nodeInstanceType: "t3medium" }, "nodeInstanceType", /expected something like t3.medium/));
    test("instance type with unknown size", () => assertRejected({ nodeInstanceType: "t3.huge" }, "nodeInstanceType", /not valid/));
    test("unsupported Kubernetes version", () => assertRejected({ kubernetesVersion: "1.29" }, "kubernetesVersion", /not supported; use one of 1\.34, 1\.35, 1\.36/));
    test("Kubernetes version with a patch number", () => assertRejected({ kubernetesVersion: "1.36.2" }, "kubernetesVersion", /not supported/));
    test("appMinReplicas greater than appMaxReplicas", () => assertRejected({ appMinReplicas: "5", appMaxReplicas: "3" }, "appMinReplicas", /must not exceed appMaxReplicas/));
    test("a single app replica: every drain or node loss would take the service down", () =>
        assertRejected({ appMinReplicas: "1" }, "appMinReplicas", /at least 2: with one pod, every node drain/));
    test("appTargetCpuPercent out of range", () => assertRejected({ appTargetCpuPercent: "150" }, "appTargetCpuPercent", /10 to 100/));
    test("clusterAdmins entry is not an IAM role or user ARN", () => assertRejected({ clusterAdmins: '["alice"]' }, "clusterAdmins", /arn:aws:iam::123456789012:role/));
    test("image without a digest (tags can be moved; digests cannot)", () =>
        assertRejected({ image: "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/fastapi-app:latest" }, "image", /@sha256:/));
    test("clusterAdmins given as one string instead of a list", () =>
        assertRejected({ clusterAdmins: '"arn:aws:iam::123456789012:role/github-deploy"' }, "clusterAdmins", /must be a list of strings/));
    test("availabilityZones given as one string instead of a list", () =>
        assertRejected({ availabilityZones: '"ap-southeast-1a"' }, "availabilityZones", /must be a list of strings such as \["ap-southeast-1a","ap-southeast-1b"\]/));
    test("publicSubnetCidrs holding a non-string", () =>
        assertRejected({ publicSubnetCidrs: '["10.0.1.0/24", 24]' }, "publicSubnetCidrs", /must be a list of strings/));
    test("namePrefix with upper case", () => assertRejected({ namePrefix: "FastAPI" }, "namePrefix", /not valid/));
});

describe("databaseUrl", () => {
    test("missing: the message gives the exact command to set it", () => {
        setStackConfig({}, false);
        assert.throws(() => loadConfig(), /config 'databaseUrl': is required.*pulumi config set --secret databaseUrl postgresql:\/\//);
    });
    test("loadConfig validates the configured URL: a mysql:// URL is rejected", async () => {
        const config = loadWith({ databaseUrl: "mysql://u:p@h/d" });
        assert.match((await errorOf(config.databaseUrl)).message, /^config 'databaseUrl': must look like postgresql:\/\//);
    });
    test("not a postgresql:// URL: rejected without echoing the value", () => {
        assert.throws(() => validateDatabaseUrl("mysql://u:s3cret@h/db"), (error: Error) => {
            assert.match(error.message, /^config 'databaseUrl': must look like postgresql:\/\//);
            assert.doesNotMatch(error.message, /s3cret/);
            return true;
        });
    });
    test("not a URL at all: rejected", () => assert.throws(() => validateDatabaseUrl("s3cret"), /config 'databaseUrl': is not a URL/));
    test("a postgresql:// URL is accepted", () => assert.doesNotThrow(() => validateDatabaseUrl(FAKE_DATABASE_URL)));
});
