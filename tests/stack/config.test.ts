// Configuration: seed defaults, and every bad value rejected with a message naming the key.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { FAKE_DATABASE_URL, errorOf, installMocks, setStackConfig, valueOf } from "./mocks";
import { ConfigError, checkUpgradeStep, loadConfig, validateDatabaseUrl } from "../../config";
import { KUBERNETES_RELEASES, minorOf } from "../../versions";

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
    test("network: 10.0.0.0/16 in ap-southeast-1, 10.0.1.0/24 + 10.0.2.0/24; zones left to the deploy-time lookup", () => {
        const config = loadWith({});
        assert.equal(config.region, "ap-southeast-1");
        assert.equal(config.vpcCidr, "10.0.0.0/16");
        assert.equal(config.availabilityZones, undefined);
        assert.deepEqual(config.publicSubnetCidrs, ["10.0.1.0/24", "10.0.2.0/24"]);
    });
    test("nodes: t3.medium on-demand, desired 2, min 1, max 3, 20 GB; Kubernetes 1.36", () => {
        const config = loadWith({});
        assert.deepEqual(
            [config.nodeInstanceType, config.nodeCapacityType, config.nodeDesiredSize, config.nodeMinSize, config.nodeMaxSize, config.nodeDiskSizeGb, config.kubernetesVersion],
            ["t3.medium", "ON_DEMAND", 2, 1, 3, 20, "1.36"]);
    });
    test("standard support only, control-plane logs kept 30 days", () => {
        const config = loadWith({});
        assert.equal(config.kubernetesSupportType, "STANDARD");
        assert.equal(config.controlPlaneLogRetentionDays, 30);
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
    test("only aws:region set to another region: accepted, zones chosen at deploy time", () => {
        const config = loadWith({ "aws:region": "us-east-1" });
        assert.equal(config.region, "us-east-1");
        assert.equal(config.availabilityZones, undefined);
    });
    test("availability zones named explicitly", () =>
        assert.deepEqual(loadWith({ availabilityZones: '["ap-southeast-1b","ap-southeast-1c"]' }).availabilityZones, ["ap-southeast-1b", "ap-southeast-1c"]));
    test("spot capacity", () => assert.equal(loadWith({ nodeCapacityType: "SPOT" }).nodeCapacityType, "SPOT"));
    test("cluster admins: a laptop user and the GitHub deploy role", () => {
        const admins = ["arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:role/github-deploy"];
        assert.deepEqual(loadWith({ clusterAdmins: JSON.stringify(admins) }).clusterAdmins, admins);
    });
    test("extended support and a longer log retention, when chosen", () => {
        const config = loadWith({ kubernetesSupportType: "EXTENDED", controlPlaneLogRetentionDays: "365" });
        assert.deepEqual([config.kubernetesSupportType, config.controlPlaneLogRetentionDays], ["EXTENDED", 365]);
    });
    test("image: an existing image by digest (rollback)", () => {
        const image = `123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/fastapi-app@sha256:${"0".repeat(64)}`;
        assert.equal(loadWith({ image }).image, image);
    });
});

describe("bad values fail with a message naming the key", () => {
    test("vpcCidr not a CIDR", () => assertRejected({ vpcCidr: "10.0.0.0" }, "vpcCidr", /not an IPv4 CIDR/));
    test("vpcCidr with an octet above 255", () => assertRejected({ vpcCidr: "10.300.0.0/16" }, "vpcCidr", /not an IPv4 CIDR/));
    test("vpcCidr with host bits set names the network address", () => assertRejected({ vpcCidr: "10.0.0.1/16" }, "vpcCidr", /host bits set; the network address is 10\.0\.0\.0\/16/));
    test("vpcCidr in a short, octal or hexadecimal spelling", () => {
        for (const vpcCidr of ["10.1/16", "010.0.0.0/16", "0xa.0.0.0/16", "10.0.0.0/16/16"]) {
            assertRejected({ vpcCidr }, "vpcCidr", /not an IPv4 CIDR/);
        }
    });
    test("vpcCidr with a prefix beyond /32", () => assertRejected({ vpcCidr: "10.0.0.0/33" }, "vpcCidr", /not an IPv4 CIDR/));
    test("vpcCidr larger than AWS allows", () => assertRejected({ vpcCidr: "10.0.0.0/8" }, "vpcCidr", /\/16 and \/28/));
    test("subnet outside the VPC", () => assertRejected({ publicSubnetCidrs: '["10.0.1.0/24","10.1.2.0/24"]' }, "publicSubnetCidrs", /not inside vpcCidr/));
    test("overlapping subnets", () => assertRejected({ publicSubnetCidrs: '["10.0.0.0/23","10.0.1.0/24"]' }, "publicSubnetCidrs", /overlaps/));
    test("subnet smaller than AWS allows", () =>
        assertRejected({ publicSubnetCidrs: '["10.0.1.0/24","10.0.2.0/30"]' }, "publicSubnetCidrs", /10\.0\.2\.0\/30: AWS subnets take a prefix between \/16 and \/28/));
    test("subnet larger than AWS allows", () =>
        assertRejected({ vpcCidr: "10.0.0.0/16", publicSubnetCidrs: '["10.0.0.0/15","10.2.0.0/24"]' }, "publicSubnetCidrs", /\/16 and \/28/));
    test("subnet count differs from the AZ count", () => assertRejected({ availabilityZones: '["ap-southeast-1a","ap-southeast-1b"]', publicSubnetCidrs: '["10.0.1.0/24"]' }, "publicSubnetCidrs", /one block per availability zone \(2\), got 1/));
    test("fewer than two availability zones", () => assertRejected({ availabilityZones: '["ap-southeast-1a"]', publicSubnetCidrs: '["10.0.1.0/24"]' }, "availabilityZones", /at least two/));
    test("availability zone from another region", () => assertRejected({ availabilityZones: '["ap-southeast-1a","us-east-1b"]' }, "availabilityZones", /us-east-1b not in region ap-southeast-1/));
    test("a single public subnet when zones are looked up", () =>
        assertRejected({ publicSubnetCidrs: '["10.0.1.0/24"]' }, "publicSubnetCidrs", /at least two blocks/));
    test("nodeCapacityType not ON_DEMAND or SPOT", () => assertRejected({ nodeCapacityType: "spot" }, "nodeCapacityType", /'spot' is not valid, expected ON_DEMAND or SPOT/));
    test("spot with an instance type that has no interchangeable types", () =>
        assertRejected({ nodeCapacityType: "SPOT", nodeInstanceType: "m6g.large" }, "nodeCapacityType", /none are known for m6g\.large; use a type from t3\/t3a micro\|small/));
    test("nodeMinSize greater than nodeMaxSize", () => assertRejected({ nodeMinSize: "4", nodeMaxSize: "3", nodeDesiredSize: "3" }, "nodeMinSize", /must not exceed nodeMaxSize/));
    test("nodeDesiredSize above nodeMaxSize", () => assertRejected({ nodeDesiredSize: "4" }, "nodeDesiredSize", /must not exceed nodeMaxSize/));
    test("nodeDesiredSize below nodeMinSize", () => assertRejected({ nodeDesiredSize: "0" }, "nodeMinSize", /must not exceed nodeDesiredSize/));
    test("fractional node count", () => assertRejected({ nodeMaxSize: "2.5" }, "nodeMaxSize", /whole number/));
    test("root volume below 20 GB", () => assertRejected({ nodeDiskSizeGb: "8" }, "nodeDiskSizeGb", /from 20/));
    test("instance type format", () => assertRejected({ nodeInstanceType: "t3medium" }, "nodeInstanceType", /expected something like t3.medium/));
    test("instance type with unknown size", () => assertRejected({ nodeInstanceType: "t3.huge" }, "nodeInstanceType", /not valid/));
    test("unsupported Kubernetes version: the message lists the versions and their end of standard support", () =>
        assertRejected({ kubernetesVersion: "1.29" }, "kubernetesVersion", /not supported; use one of 1\.35 \(standard support until 2027-03-27\), 1\.36 \(standard support until 2027-08-02\)/));
    test("1.34 is refused: its standard support ends on 2026-12-02, then EKS bills extended support", () =>
        assertRejected({ kubernetesVersion: "1.34" }, "kubernetesVersion", /not supported/));
    test("support type other than STANDARD or EXTENDED", () =>
        assertRejected({ kubernetesSupportType: "standard" }, "kubernetesSupportType", /must be STANDARD .* or EXTENDED/));
    test("log retention CloudWatch does not accept", () =>
        assertRejected({ controlPlaneLogRetentionDays: "31" }, "controlPlaneLogRetentionDays", /one of the periods CloudWatch Logs accepts .*30, 60/));
    test("the same admin twice (EKS takes one access entry per principal)", () =>
        assertRejected({ clusterAdmins: '["arn:aws:iam::123456789012:user/alice","arn:aws:iam::123456789012:user/alice"]' }, "clusterAdmins", /user\/alice is listed twice/));
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

describe("edge: HTTPS and who may connect", () => {
    const certificate = "arn:aws:acm:ap-southeast-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
    test("defaults: plain HTTP, open to every address", () => {
        assert.deepEqual(loadWith({}).edge, { certificateArn: undefined, keepHttpPort: false, allowedSourceRanges: [] });
    });
    test("a certificate in the stack's region, port 80 kept, two source ranges", () => {
        const edge = loadWith({ certificateArn: certificate, keepHttpPort: "true", allowedSourceRanges: '["203.0.113.0/24","198.51.100.7/32"]' }).edge;
        assert.deepEqual(edge, { certificateArn: certificate, keepHttpPort: true, allowedSourceRanges: ["203.0.113.0/24", "198.51.100.7/32"] });
    });
    test("certificateArn that is not an ACM certificate ARN", () =>
        assertRejected({ certificateArn: "arn:aws:iam::123456789012:server-certificate/x" }, "certificateArn", /not an ACM certificate ARN/));
    test("certificateArn in another region than the load balancer", () =>
        assertRejected({ certificateArn: certificate.replace("ap-southeast-1", "us-east-1") }, "certificateArn", /in us-east-1, but the load balancer is in ap-southeast-1/));
    test("keepHttpPort without a certificate", () => assertRejected({ keepHttpPort: "true" }, "keepHttpPort", /only applies with certificateArn/));
    test("allowedSourceRanges entry that is not a CIDR, has host bits set, or repeats", () => {
        assertRejected({ allowedSourceRanges: '["203.0.113.7"]' }, "allowedSourceRanges", /not an IPv4 CIDR/);
        assertRejected({ allowedSourceRanges: '["203.0.113.7/24"]' }, "allowedSourceRanges", /host bits set/);
        assertRejected({ allowedSourceRanges: '["203.0.113.0/24","203.0.113.0/24"]' }, "allowedSourceRanges", /twice/);
        assertRejected({ allowedSourceRanges: '"203.0.113.0/24"' }, "allowedSourceRanges", /must be a list of strings/);
    });
});

describe("bearer tokens", () => {
    const token = "0123456789abcdef-ROTATE.me~";
    test("unset: the stack generates them; reads stay public", () => {
        const tokens = loadWith({}).tokens;
        assert.deepEqual([tokens.apiTokens, tokens.metricsTokens, tokens.readsNeedToken], [undefined, undefined, false]);
    });
    test("configured lists are secrets, spaces around commas dropped", async () => {
        const tokens = loadWith({ apiTokens: `${token}1 , ${token}2`, metricsTokens: `${token}3`, apiReadsNeedToken: "true" }).tokens;
        assert.ok(tokens.apiTokens && tokens.metricsTokens);
        assert.equal(await pulumi.isSecret(tokens.apiTokens), true);
        assert.equal(await valueOf(tokens.apiTokens), `${token}1,${token}2`);
        assert.equal(await valueOf(tokens.metricsTokens), `${token}3`);
        assert.equal(tokens.readsNeedToken, true);
    });
    test("a short or empty token is refused by position, never echoed", async () => {
        for (const apiTokens of [`${token},short`, `${token},`]) {
            const configured = loadWith({ apiTokens }).tokens.apiTokens;
            assert.ok(configured);
            const error = await errorOf(configured);
            assert.match(error.message, /^config 'apiTokens': token 2 of 2 is not 16-512 characters/);
            assert.doesNotMatch(error.message, new RegExp(token));
        }
    });
});

describe("kubernetesVersion moves one minor per update", () => {
    test("a new cluster takes any supported version", () => assert.doesNotThrow(() => checkUpgradeStep(undefined, "1.36")));
    test("the running version, or the next minor, is accepted", () => {
        assert.doesNotThrow(() => checkUpgradeStep("1.36", "1.36"));
        assert.doesNotThrow(() => checkUpgradeStep("1.35", "1.36"));
    });
    test("a jump of two minors is refused with the way to upgrade", () =>
        assert.throws(() => checkUpgradeStep("1.34", "1.36"), (error: Error) => {
            assert.ok(error instanceof ConfigError);
            assert.match(error.message, /^config 'kubernetesVersion': the cluster runs 1\.34; EKS upgrades one minor version at a time\. Set 1\.35, run pulumi up, then set 1\.36/);
            return true;
        }));
    test("a downgrade is refused", () =>
        assert.throws(() => checkUpgradeStep("1.36", "1.35"), /config 'kubernetesVersion': the cluster runs 1\.36; EKS cannot downgrade to 1\.35/));
});

describe("pinned versions agree with the Kubernetes minor they are pinned for (versions.ts)", () => {
    const releases = Object.entries(KUBERNETES_RELEASES);
    test("the supported minors are consecutive, so every upgrade goes through listed versions", () => {
        const minors = releases.map(([version]) => minorOf(version));
        assert.deepEqual(minors, minors.map((_, index) => minors[0] + index));
    });
    for (const [version, release] of releases) {
        test(`${version}: kube-proxy and the cluster autoscaler are releases of ${version}`, () => {
            assert.match(release.addons.kubeProxy, new RegExp(`^v${version.replace(".", "\\.")}\\.\\d+-eksbuild\\.\\d+$`));
            assert.match(release.clusterAutoscalerImage, new RegExp(`^v${version.replace(".", "\\.")}\\.\\d+$`));
        });
        test(`${version}: every EKS add-on pinned to an exact build, never "latest"`, () => {
            for (const pin of Object.values(release.addons)) {
                assert.match(pin, /^v\d+\.\d+\.\d+-eksbuild\.\d+$/);
            }
        });
        test(`${version}: in EKS standard support when the calendar was checked (2026-11-29)`, () =>
            assert.ok(release.endOfStandardSupport > "2026-11-29", release.endOfStandardSupport));
    }
    test("an add-on never goes back a version when the Kubernetes minor goes up", () => {
        const numbers = (pin: string): number[] => pin.replace(/^v/, "").split(/[.-]|eksbuild\./).filter(Boolean).map(Number);
        const newer = (a: number[], b: number[]): boolean => {
            const index = a.findIndex((part, i) => part !== b[i]);
            return index === -1 || a[index] > b[index];
        };
        for (let i = 1; i < releases.length; i++) {
            const [[, older], [version, current]] = [releases[i - 1], releases[i]];
            for (const [addon, pin] of Object.entries(current.addons)) {
                const before = older.addons[addon as keyof typeof older.addons];
                assert.ok(newer(numbers(pin), numbers(before)), `${addon} ${before} -> ${pin} at ${version}`);
            }
        }
    });
});
