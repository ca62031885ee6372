// Each ComponentResource on its own, with fake inputs instead of the other parts of the stack.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import { createHash, createHmac } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
    API_ENDPOINT,
    CLUSTER_CA_PEM,
    FAKE_DIGEST,
    Json,
    SCRAPER_TOKEN,
    dependsOn,
    eksClusters,
    generatedPassword,
    inputsOf,
    installMocks,
    isSecretInput,
    plain,
    resourceOf,
    resourcesOfType,
    setStackConfig,
    settled,
    valueOf,
} from "./mocks";
import { Network, zonesForEks } from "../../network";
import { Cluster, ClusterArgs, accessEntryKey } from "../../cluster";
import { KUBERNETES_RELEASES } from "../../versions";
import { Registry, checkImageInRegistry } from "../../registry";
import { buildContextFiles, contentHash, parseDockerignore } from "../../build-context";
import {
    ENVIRONMENT_ANNOTATION,
    KUBERNETES_API_ANNOTATION,
    TLS_POLICY,
    TOKENS_FINGERPRINT_ANNOTATION,
    Workload,
    WorkloadArgs,
    hostAndPort,
    migrationJobName,
} from "../../workload";
import { METRICS_PORT, METRICS_SCRAPER } from "../../workload-names";
import { Database, DatabaseArgs } from "../../database";

installMocks();
setStackConfig();

const clusterArgs: ClusterArgs = {
    clusterName: "demo-cluster",
    kubernetesVersion: "1.35",
    region: "eu-west-1",
    vpcId: "vpc-fake",
    subnetIds: ["subnet-1", "subnet-2", "subnet-3"],
    nodeInstanceType: "m6i.large",
    nodeCapacityType: "ON_DEMAND",
    nodeGroupSize: { desired: 3, min: 2, max: 6 },
    nodeDiskSizeGb: 50,
    clusterAdmins: ["arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:role/github-deploy"],
    supportType: "STANDARD",
    logRetentionDays: 30,
};

describe("Network alone", () => {
    test("lays out the given subnets and tags them for the given cluster", async () => {
        const network = new Network("net-alone", {
            cidrBlock: "172.16.0.0/20",
            availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
            publicSubnetCidrs: ["172.16.0.0/24", "172.16.1.0/24", "172.16.2.0/24"],
            clusterName: "demo-cluster",
        });
        assert.equal(await valueOf(network.vpcId), "vpc-0a1b2c3d4e5f60718");
        assert.equal((await valueOf(network.publicSubnetIds)).length, 2);
        await settled();
        const vpc = inputsOf("awsx:ec2:Vpc", "net-alone");
        assert.equal(vpc.cidrBlock, "172.16.0.0/20");
        assert.deepEqual(vpc.subnetSpecs[0].cidrBlocks, ["172.16.0.0/24", "172.16.1.0/24", "172.16.2.0/24"]);
        assert.equal(vpc.subnetSpecs[0].tags["kubernetes.io/cluster/demo-cluster"], "shared");
    });
});

describe("Network with isolated subnets", () => {
    test("lays out the isolated blocks after the public ones and hands out their ids", async () => {
        const network = new Network("net-isolated", {
            cidrBlock: "172.16.0.0/20",
            availabilityZones: ["eu-west-1a", "eu-west-1b"],
            publicSubnetCidrs: ["172.16.0.0/24", "172.16.1.0/24"],
            isolatedSubnetCidrs: ["172.16.8.0/24", "172.16.9.0/24"],
            clusterName: "demo-cluster",
        });
        assert.equal((await valueOf(network.isolatedSubnetIds)).length, 2);
        await settled();
        const specs = inputsOf("awsx:ec2:Vpc", "net-isolated").subnetSpecs.map((spec: Json) => [
            spec.type,
            spec.cidrBlocks,
            spec.tags,
        ]);
        assert.deepEqual(
            specs[1],
            ["Isolated", ["172.16.8.0/24", "172.16.9.0/24"], undefined],
            "no load-balancer or cluster tags",
        );
    });
});

describe("Database alone", () => {
    const databaseArgs: DatabaseArgs = {
        namePrefix: "demo",
        vpcId: "vpc-fake",
        subnetIds: ["subnet-a", "subnet-b"],
        clientSecurityGroupId: "sg-pods",
        postgresVersion: "16",
        instanceClass: "db.m7g.large",
        storageGb: 50,
        maxStorageGb: 200,
        deletionProtection: true,
        finalSnapshot: false,
        applyImmediately: false,
        passwordRotation: "",
    };
    test("class, storage and destroy-time settings come from its arguments", async () => {
        const database = new Database("db-alone", databaseArgs);
        assert.match(await valueOf(database.endpoint), /^demo-db\..+:5432$/);
        await settled();
        const instance = inputsOf("aws:rds/instance:Instance", "db-alone");
        assert.deepEqual(
            [instance.identifier, instance.instanceClass, instance.allocatedStorage, instance.maxAllocatedStorage],
            ["demo-db", "db.m7g.large", 50, 200],
        );
        assert.equal(instance.deletionProtection, true);
        assert.equal(instance.skipFinalSnapshot, true, "a throwaway stack keeps no snapshot");
        assert.equal(instance.finalSnapshotIdentifier, undefined);
        assert.equal(
            inputsOf("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "db-alone-from-pods")
                .referencedSecurityGroupId,
            "sg-pods",
        );
    });
    test("the URL is a secret", async () => {
        const database = new Database("db-secret", { ...databaseArgs, namePrefix: "secret" });
        assert.equal(await pulumi.isSecret(database.url), true);
    });
    test("the service connects as its own role; the master's URL, for migrations, is a secret apart", async () => {
        const database = new Database("db-roles", { ...databaseArgs, namePrefix: "roles" });
        assert.equal(await pulumi.isSecret(database.migrationUrl), true);
        const [service, migrator] = [await valueOf(database.url), await valueOf(database.migrationUrl)];
        assert.match(service, /^postgresql:\/\/fastapi_app:[A-Za-z0-9]{40}@roles-db\./);
        assert.match(migrator, /^postgresql:\/\/app:[A-Za-z0-9]{40}@roles-db\./);
        assert.notEqual(new URL(service).password, new URL(migrator).password);
    });
    test("a new rotation value generates a new service password; the master's stays", async () => {
        const [before, after] = [
            new Database("db-rotate-a", { ...databaseArgs, namePrefix: "rotate-a", passwordRotation: "1" }),
            new Database("db-rotate-b", { ...databaseArgs, namePrefix: "rotate-b", passwordRotation: "2" }),
        ];
        await settled();
        assert.deepEqual(
            ["db-rotate-a-service", "db-rotate-b-service"].map(
                (name) => inputsOf("random:index/randomPassword:RandomPassword", name).keepers,
            ),
            [{ rotation: "1" }, { rotation: "2" }],
        );
        const password = async (url: pulumi.Output<string>): Promise<string> => new URL(await valueOf(url)).password;
        assert.notEqual(await password(before.url), await password(after.url));
    });
});

describe("Network alone, zones from the region", () => {
    // Zone lookups answer for the configured aws:region; each test sets its own and the seed's comes back after.
    after(() => setStackConfig());

    test("without configured zones: the first zones EKS accepts, skipping the refused zone ID and a Local Zone", async () => {
        setStackConfig({ "aws:region": "us-east-1" });
        new Network("net-us-east-1", {
            cidrBlock: "10.0.0.0/16",
            publicSubnetCidrs: ["10.0.1.0/24", "10.0.2.0/24"],
            clusterName: "demo-cluster",
        });
        await settled();
        assert.deepEqual(inputsOf("awsx:ec2:Vpc", "net-us-east-1").availabilityZoneNames, ["us-east-1a", "us-east-1c"]);
    });
    test("one zone per public subnet", async () => {
        setStackConfig({ "aws:region": "eu-west-1" });
        new Network("net-three", {
            cidrBlock: "10.0.0.0/16",
            publicSubnetCidrs: ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"],
            clusterName: "demo-cluster",
        });
        await settled();
        assert.deepEqual(inputsOf("awsx:ec2:Vpc", "net-three").availabilityZoneNames, [
            "eu-west-1a",
            "eu-west-1b",
            "eu-west-1c",
        ]);
    });
    test("more subnets than usable zones: fails naming the zones and the settings to change", async () => {
        setStackConfig({ "aws:region": "eu-west-1" });
        await assert.rejects(
            zonesForEks(4),
            /3 availability zones that can host EKS \(eu-west-1a, eu-west-1b, eu-west-1c\), 4 are needed.*configure availabilityZones and publicSubnetCidrs/,
        );
    });
});

describe("Cluster alone", () => {
    test("sizes, version, disk and instance type come from its arguments", async () => {
        const cluster = new Cluster("cluster-alone", clusterArgs);
        assert.equal(await valueOf(cluster.clusterName), "demo-cluster");
        await settled();
        const nodeGroup = inputsOf("eks:index:ManagedNodeGroup", "cluster-alone-nodes");
        assert.deepEqual(nodeGroup.scalingConfig, { desiredSize: 3, minSize: 2, maxSize: 6 });
        assert.deepEqual(nodeGroup.instanceTypes, ["m6i.large"]);
        assert.deepEqual(nodeGroup.subnetIds, ["subnet-1", "subnet-2", "subnet-3"]);
        assert.equal(
            inputsOf("aws:ec2/launchTemplate:LaunchTemplate", "cluster-alone-nodes").blockDeviceMappings[0].ebs
                .volumeSize,
            50,
        );
        assert.equal(inputsOf("eks:index:Cluster", "cluster-alone").version, "1.35");
        const release = inputsOf("kubernetes:helm.sh/v3:Release", "cluster-alone-cluster-autoscaler");
        assert.equal(release.values.image.tag, "v1.35.2");
        assert.equal(release.values.awsRegion, "eu-west-1");
    });
    test("spot: the node group offers every type of the same shape, configured type first", async () => {
        new Cluster("cluster-spot", {
            ...clusterArgs,
            clusterName: "spot-cluster",
            nodeInstanceType: "t3.medium",
            nodeCapacityType: "SPOT",
        });
        await settled();
        const nodeGroup = inputsOf("eks:index:ManagedNodeGroup", "cluster-spot-nodes");
        assert.equal(nodeGroup.capacityType, "SPOT");
        assert.deepEqual(nodeGroup.instanceTypes, ["t3.medium", "t3a.medium", "t2.medium"]);
        assert.equal(
            inputsOf("aws:ec2/launchTemplate:LaunchTemplate", "cluster-spot-nodes").instanceType,
            undefined,
            "the types are the node group's alone",
        );
    });
    test("on-demand: exactly the configured type", async () => {
        await settled();
        assert.equal(inputsOf("eks:index:ManagedNodeGroup", "cluster-alone-nodes").capacityType, "ON_DEMAND");
    });
    test("every add-on at the version pinned for its Kubernetes minor (1.35 here)", async () => {
        new Cluster("cluster-pins", { ...clusterArgs, clusterName: "pins-cluster" });
        await settled();
        const pins = KUBERNETES_RELEASES["1.35"];
        const cluster = inputsOf("eks:index:Cluster", "cluster-pins");
        assert.equal(cluster.vpcCniOptions.addonVersion, pins.addons.vpcCni);
        assert.equal(cluster.kubeProxyAddonOptions.version, pins.addons.kubeProxy);
        assert.equal(inputsOf("aws:eks/addon:Addon", "cluster-pins-coredns").addonVersion, pins.addons.coreDns);
        assert.equal(
            inputsOf("aws:eks/addon:Addon", "cluster-pins-metrics-server").addonVersion,
            pins.addons.metricsServer,
        );
        assert.equal(
            inputsOf("kubernetes:helm.sh/v3:Release", "cluster-pins-cluster-autoscaler").values.image.tag,
            pins.clusterAutoscalerImage,
        );
    });
    test("support type and log retention come from its arguments", async () => {
        new Cluster("cluster-policy", {
            ...clusterArgs,
            clusterName: "policy-cluster",
            supportType: "EXTENDED",
            logRetentionDays: 90,
        });
        await settled();
        assert.deepEqual(inputsOf("eks:index:Cluster", "cluster-policy").upgradePolicy, { supportType: "EXTENDED" });
        const logGroup = inputsOf("aws:cloudwatch/logGroup:LogGroup", "cluster-policy-control-plane-logs");
        assert.deepEqual([logGroup.name, logGroup.retentionInDays], ["/aws/eks/policy-cluster/cluster", 90]);
    });
    test("upgrades a running cluster by one minor: control plane at the new version, nodes following it", async () => {
        eksClusters.set("upgrade-cluster", "1.35");
        new Cluster("cluster-upgrade", { ...clusterArgs, clusterName: "upgrade-cluster", kubernetesVersion: "1.36" });
        await settled();
        assert.equal(inputsOf("eks:index:Cluster", "cluster-upgrade").version, "1.36");
        assert.equal(inputsOf("eks:index:ManagedNodeGroup", "cluster-upgrade-nodes").version, "1.36");
    });
    test("every configured admin gets an access entry with the cluster-admin policy", async () => {
        new Cluster("cluster-admins", { ...clusterArgs, clusterName: "admins-cluster" });
        await settled();
        const accessEntries = inputsOf("eks:index:Cluster", "cluster-admins").accessEntries as Record<string, Json>;
        const entries = Object.values(accessEntries);
        assert.deepEqual(
            entries.map((entry) => entry.principalArn),
            clusterArgs.clusterAdmins,
        );
        assert.deepEqual(
            Object.keys(accessEntries),
            clusterArgs.clusterAdmins.map(accessEntryKey),
            "keyed by principal, not by position",
        );
        for (const entry of entries) {
            assert.deepEqual(entry.accessPolicies.clusterAdmin, {
                policyArn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                accessScope: { type: "cluster" },
            });
        }
    });
    test("an access-entry key belongs to one principal: readable, distinct for the same name under other accounts or paths", () => {
        assert.equal(
            accessEntryKey("arn:aws:iam::123456789012:role/github-deploy").startsWith("admin-github-deploy-"),
            true,
        );
        const keys = [
            "arn:aws:iam::123456789012:role/deploy",
            "arn:aws:iam::210987654321:role/deploy",
            "arn:aws:iam::123456789012:role/ci/deploy",
            "arn:aws:iam::123456789012:user/deploy",
        ].map(accessEntryKey);
        assert.equal(new Set(keys).size, keys.length);
        assert.ok(
            keys.every((key) => /^admin-[A-Za-z0-9-]+$/.test(key)),
            keys.join(" "),
        );
    });
    test("docs/operating.md computes the same access-entry keys in bash, for renaming position-keyed entries", () => {
        const guide = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "operating.md"), "utf8");
        const lines = [
            "name=${arn##*/}",
            guide
                .split("\n")
                .map((line) => line.trim())
                .find((line) => line.startsWith("key=")) ?? "",
            'printf "%s" "$key"',
        ];
        for (const arn of [
            "arn:aws:iam::123456789012:role/github-deploy",
            "arn:aws:iam::123456789012:user/team/bob.smith@example.com",
        ]) {
            const result = spawnSync("bash", ["-c", lines.join("\n")], {
                env: { PATH: process.env.PATH, arn },
                encoding: "utf8",
            });
            assert.equal(result.stdout, accessEntryKey(arn), arn);
        }
    });
    test("kubeconfig output is a secret", async () => {
        const cluster = new Cluster("cluster-kubeconfig", { ...clusterArgs, clusterName: "other-cluster" });
        assert.equal(await pulumi.isSecret(cluster.kubeconfig), true);
    });
    test("the API endpoint and the CA certificate (PEM, decoded) are what monitoring needs to reach the pods", async () => {
        const cluster = new Cluster("cluster-api", { ...clusterArgs, clusterName: "api-cluster" });
        assert.equal(await valueOf(cluster.apiEndpoint), API_ENDPOINT);
        assert.equal(await valueOf(cluster.certificateAuthority), CLUSTER_CA_PEM);
    });
    test("pods' security group is the cluster security group EKS creates (no groups of pulumi-eks's own)", async () => {
        const cluster = new Cluster("cluster-pod-sg", { ...clusterArgs, clusterName: "sg-cluster" });
        assert.equal(await valueOf(cluster.podSecurityGroupId), "sg-0e1k5c1u5t3r00001");
        await settled();
        assert.equal(inputsOf("eks:index:Cluster", "cluster-pod-sg").skipDefaultSecurityGroups, true);
        assert.equal(
            inputsOf("aws:ec2/launchTemplate:LaunchTemplate", "cluster-pod-sg-nodes").vpcSecurityGroupIds,
            undefined,
            "a launch template naming groups would take the nodes out of the cluster security group",
        );
    });
    test("takes only a Kubernetes version with pinned add-ons (the compiler refuses others)", () => {
        // @ts-expect-error 1.20 has no pinned add-ons here; tsc fails if the type ever accepts any string.
        const unsupported: ClusterArgs["kubernetesVersion"] = "1.20";
        assert.equal(unsupported in KUBERNETES_RELEASES, false);
    });
});

describe("Registry alone", () => {
    function tempApp(files: Record<string, string>): string {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-test-"));
        for (const [name, content] of Object.entries(files)) {
            fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
            fs.writeFileSync(path.join(dir, name), content);
        }
        return dir;
    }

    test("puts the given directory's image in ECR under its content tag and hands it out by digest", async () => {
        const dir = tempApp({ Dockerfile: "FROM scratch\n", "src/main.py": "print('hi')\n" });
        const registry = new Registry("registry-build", {
            repositoryName: "demo",
            appDirectory: dir,
            platform: "linux/arm64",
            keepImages: 3,
        });
        assert.equal(
            await valueOf(registry.image),
            `123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/demo@${FAKE_DIGEST}`,
        );
        await settled();
        const image = inputsOf("docker-build:index:Image", "registry-build-image");
        const tag = contentHash(dir, "linux/arm64");
        assert.deepEqual(image.tags, [`123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/demo:${tag}`]);
        assert.deepEqual(image.platforms, ["linux/arm64"]);
        assert.equal(image.context.location, `build/image-context/${tag}`);
        const rule = JSON.parse(inputsOf("aws:ecr/lifecyclePolicy:LifecyclePolicy", "registry-build").policy).rules[0];
        assert.equal(rule.selection.countNumber, 3);
    });
    test("with an existing image it deploys that image and builds nothing", async () => {
        const existing = `123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/demo@sha256:${"1".repeat(64)}`;
        const registry = new Registry("registry-rollback", {
            repositoryName: "demo-rollback",
            appDirectory: "/nonexistent",
            platform: "linux/amd64",
            keepImages: 10,
            existingImage: existing,
        });
        assert.equal(await valueOf(registry.image), existing);
        await settled();
        assert.deepEqual(resourcesOfType("docker-build:index:Image", "registry-rollback-image"), []);
        assert.equal(inputsOf("aws:ecr/repository:Repository", "registry-rollback").name, "demo-rollback");
    });
    test("an image ECR no longer holds stops the run, naming the command that pushes it again", () => {
        const image = {
            repositoryUrl: "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/demo",
            digest: FAKE_DIGEST,
            tag: "0123456789abcdef",
            urn: "urn:pulumi:dev::fastapi-app::fastapi:index:Registry$docker-build:index:Image::demo-image",
        };
        assert.doesNotThrow(() =>
            checkImageInRegistry({ ...image, pushedDigests: [`sha256:${"0".repeat(64)}`, FAKE_DIGEST] }),
        );
        assert.throws(
            () => checkImageInRegistry({ ...image, pushedDigests: [`sha256:${"0".repeat(64)}`] }),
            (error: Error) =>
                error instanceof pulumi.RunError &&
                error.message.includes(
                    `ECR no longer holds ${image.repositoryUrl}@${FAKE_DIGEST} (tag ${image.tag})`,
                ) &&
                error.message.includes(`pulumi up --replace '${image.urn}'`),
        );
    });
    // The service's own ignore file, so these tests follow it when it changes.
    const dockerignore = fs.readFileSync(path.join(__dirname, "..", "..", "app", ".dockerignore"), "utf8");
    const appFiles = {
        ".dockerignore": dockerignore,
        Dockerfile: "FROM scratch\n",
        "requirements.txt": "fastapi\n",
        "pyproject.toml": "[project]\n",
        "alembic.ini": "[alembic]\n",
        "migrations/env.py": "env = 1\n",
        "src/app/main.py": "a = 1\n",
    };

    test("content hash covers exactly the build context: excluded paths never change it", () => {
        const dir = tempApp(appFiles);
        const original = contentHash(dir, "linux/amd64");
        assert.match(original, /^[0-9a-f]{16}$/);
        for (const [name, content] of Object.entries({
            ".hypothesis/examples/abc": "written by a test run",
            "tests/test_items.py": "def test(): pass\n",
            "bench/run.py": "print()\n",
            "requirements-dev.txt": "pytest\n",
            ".venv/pyvenv.cfg": "home = /usr\n",
            "src/app/__pycache__/main.cpython-311.pyc": "bytecode",
            "src/fastapi_app.egg-info/PKG-INFO": "Name: x\n",
        })) {
            fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
            fs.writeFileSync(path.join(dir, name), content);
            assert.equal(contentHash(dir, "linux/amd64"), original, `${name} is outside the build context`);
        }
    });
    test("content hash changes with the sources, the migrations and the Dockerfile", () => {
        for (const [name, content] of [
            ["src/app/main.py", "a = 2\n"],
            ["migrations/versions/0002.py", "x = 1\n"],
            ["Dockerfile", "FROM busybox\n"],
        ]) {
            const dir = tempApp(appFiles);
            const original = contentHash(dir, "linux/amd64");
            fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
            fs.writeFileSync(path.join(dir, name), content);
            assert.notEqual(contentHash(dir, "linux/amd64"), original, name);
        }
        const dir = tempApp(appFiles);
        const original = contentHash(dir, "linux/amd64");
        fs.renameSync(path.join(dir, "src", "app", "main.py"), path.join(dir, "src", "app", "renamed.py"));
        assert.notEqual(contentHash(dir, "linux/amd64"), original, "a rename");
    });
    test("content hash ignores read/write bits (umask differs between a laptop and CI)", () => {
        const dir = tempApp(appFiles);
        const original = contentHash(dir, "linux/amd64");
        fs.chmodSync(path.join(dir, "src", "app", "main.py"), 0o664);
        fs.chmodSync(path.join(dir, "alembic.ini"), 0o600);
        assert.equal(contentHash(dir, "linux/amd64"), original);
    });
    test("content hash changes when a file becomes executable (the image would differ)", () => {
        const dir = tempApp(appFiles);
        const file = path.join(dir, "src", "app", "main.py");
        fs.chmodSync(file, 0o644);
        const original = contentHash(dir, "linux/amd64");
        fs.chmodSync(file, 0o755);
        assert.notEqual(contentHash(dir, "linux/amd64"), original);
    });
    test("the service's build context holds only what its Dockerfile copies", () => {
        const files = buildContextFiles(path.join(__dirname, "..", "..", "app"));
        assert.ok(
            files.some((file) => file.startsWith("src/")),
            "sources admitted",
        );
        const outside = files.filter(
            (file) => !/^(src\/|migrations\/|certs\/|alembic\.ini$|pyproject\.toml$|requirements\.txt$)/.test(file),
        );
        assert.deepEqual(outside, []);
    });
    test("content hash differs per target platform: an arm64 image never reuses the amd64 tag", () => {
        const dir = tempApp(appFiles);
        assert.notEqual(contentHash(dir, "linux/arm64"), contentHash(dir, "linux/amd64"));
    });
    test(".dockerignore character classes and escapes decide what the hash covers, as in BuildKit", () => {
        const dir = tempApp({ ...appFiles, ".dockerignore": "*\n!src/\n!Dockerfile\nsrc/app/[^m]*.py\nsrc/\\[x\\]\n" });
        for (const name of ["src/app/util.py", "src/[x]", "src/app/main.py"]) {
            fs.writeFileSync(path.join(dir, name), "z = 1\n");
        }
        assert.deepEqual(buildContextFiles(dir), ["Dockerfile", "src/app/main.py"]);
        const original = contentHash(dir, "linux/amd64");
        fs.writeFileSync(path.join(dir, "src", "app", "util.py"), "z = 2\n");
        assert.equal(contentHash(dir, "linux/amd64"), original, "an excluded file");
    });
    test(".dockerignore syntax BuildKit reads as a regular expression is refused, not guessed", () =>
        assert.throws(() => parseDockerignore("*\n!src/\\d*.py\n"), /regular-expression feature/));
});

/** Stands in for the cluster the workload must not outlive. */
class FakeNodes extends pulumi.CustomResource {
    constructor(name: string) {
        super("test:index:Nodes", name, {});
    }
}

describe("Workload alone", () => {
    const image = `registry.example.com/app@sha256:${"2".repeat(64)}`;
    const metricsScrape = {
        apiEndpoint: "https://api.example.internal:6443",
        environment: "staging",
        sourceCidrs: ["10.20.0.0/16"],
    };
    /** A Workload's arguments, in the namespace `<name>-ns` unless `extra` names another. */
    const workloadArgs = (name: string, extra: Partial<WorkloadArgs> = {}): WorkloadArgs => ({
        namespace: `${name}-ns`,
        image,
        databaseUrl: "postgresql://u:p@h:5432/d",
        minReplicas: 2,
        maxReplicas: 3,
        targetCpuPercent: 70,
        loadBalancerDependsOn: [],
        metricsScrape,
        ...extra,
    });

    test("runs the given image with the given scaling, in the given namespace", async () => {
        const workload = new Workload(
            "workload-alone",
            workloadArgs("workload-alone", {
                namespace: "demo-ns",
                databaseUrl: pulumi.secret("postgresql://u:p@h:5432/d"),
                minReplicas: 3,
                maxReplicas: 7,
                targetCpuPercent: 55,
            }),
        );
        assert.equal(await valueOf(workload.namespace), "demo-ns");
        assert.match(await valueOf(workload.url), /^http:\/\/.+\.elb\.amazonaws\.com$/);
        await settled();
        const deployment = inputsOf("kubernetes:apps/v1:Deployment", "workload-alone-deployment");
        assert.equal(deployment.metadata.namespace, "demo-ns");
        assert.equal(deployment.spec.template.spec.containers[0].image, image);
        const hpa = inputsOf("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "workload-alone-hpa");
        assert.deepEqual(
            [hpa.spec.minReplicas, hpa.spec.maxReplicas, hpa.spec.metrics[0].resource.target.averageUtilization],
            [3, 7, 55],
        );
        assert.equal(
            inputsOf("kubernetes:batch/v1:Job", "workload-alone-migrate").metadata.name,
            migrationJobName(image),
        );
    });
    test("the LoadBalancer Service itself depends on what it is given to outlive", async () => {
        const nodes = new FakeNodes("workload-nodes");
        new Workload("workload-ordered", workloadArgs("workload-ordered", { loadBalancerDependsOn: [nodes] }));
        await settled();
        assert.ok(
            dependsOn(
                resourceOf("kubernetes:core/v1:Service", "workload-ordered-service"),
                "test:index:Nodes",
                "workload-nodes",
            ),
        );
    });
    const certificateArn = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
    const serviceOf = async (name: string, loadBalancer: WorkloadArgs["loadBalancer"]) => {
        const workload = new Workload(name, workloadArgs(name, { loadBalancer }));
        const url = await valueOf(workload.url);
        await settled();
        return { url, service: inputsOf("kubernetes:core/v1:Service", `${name}-service`) };
    };
    test("a certificate: TLS 1.2+ on 443 at the load balancer, plain HTTP to the pods, port 80 dropped, https:// url", async () => {
        const { url, service } = await serviceOf("edge-tls", { certificateArn });
        assert.deepEqual(service.spec.ports, [{ name: "https", protocol: "TCP", port: 443, targetPort: 8000 }]);
        const annotations = service.metadata.annotations;
        assert.equal(annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"], certificateArn);
        assert.equal(annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"], "https");
        assert.equal(annotations["service.beta.kubernetes.io/aws-load-balancer-backend-protocol"], "http");
        assert.equal(annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy"], TLS_POLICY);
        assert.match(url, /^https:\/\//);
    });
    test("a public host name: the url names it, https with a certificate, http without", async () => {
        const publicHostname = "api.example.com";
        assert.equal(
            (await serviceOf("edge-name-tls", { certificateArn, publicHostname })).url,
            "https://api.example.com",
        );
        assert.equal((await serviceOf("edge-name-http", { publicHostname })).url, "http://api.example.com");
    });
    test("a certificate with port 80 kept: both listeners, TLS on 443 only", async () => {
        const { service } = await serviceOf("edge-both", { certificateArn, keepHttpPort: true });
        assert.deepEqual(
            service.spec.ports.map((port: Json) => [port.name, port.port]),
            [
                ["https", 443],
                ["http", 80],
            ],
        );
        assert.equal(service.metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"], "https");
    });
    test("allowed source ranges become the load balancer's source ranges", async () => {
        const { url, service } = await serviceOf("edge-ranges", {
            allowedSourceRanges: ["203.0.113.0/24", "198.51.100.7/32"],
        });
        assert.deepEqual(service.spec.loadBalancerSourceRanges, ["203.0.113.0/24", "198.51.100.7/32"]);
        assert.deepEqual(service.spec.ports, [{ name: "http", protocol: "TCP", port: 80, targetPort: 8000 }]);
        assert.match(url, /^http:\/\//);
    });
    test("configured tokens are used as given, and nothing is generated for them", async () => {
        const generatedTokens = (): number =>
            resourcesOfType("random:index/randomPassword:RandomPassword").filter((r) => r.name.endsWith("-token"))
                .length;
        const before = generatedTokens();
        const workload = new Workload(
            "tokens-given",
            workloadArgs("tokens-given", {
                tokens: {
                    apiTokens: pulumi.secret("a".repeat(20)),
                    metricsTokens: pulumi.secret("m".repeat(20)),
                    readsNeedToken: true,
                },
            }),
        );
        assert.equal(await valueOf(workload.apiTokens), "a".repeat(20));
        await settled();
        assert.equal(generatedTokens(), before);
        const template = inputsOf("kubernetes:apps/v1:Deployment", "tokens-given-deployment").spec.template;
        const env = template.spec.containers[0].env;
        assert.deepEqual(
            env.find((variable: Json) => variable.name === "API_READS_NEED_TOKEN"),
            { name: "API_READS_NEED_TOKEN", value: "true" },
        );
        const fingerprint = plain<string>(template.metadata.annotations[TOKENS_FINGERPRINT_ANNOTATION]);
        assert.equal(
            isSecretInput(template.metadata.annotations[TOKENS_FINGERPRINT_ANNOTATION]),
            false,
            "the spec stays readable in previews",
        );
        assert.match(fingerprint, /^[0-9a-f]{64}$/);
        assert.equal(
            JSON.stringify(template).includes("a".repeat(20)),
            false,
            "the pod template holds a digest, not the tokens",
        );
    });
    test("the pod template's token digest is keyed with a secret of the state, not a bare hash of the tokens", async () => {
        new Workload(
            "fingerprint-keyed",
            workloadArgs("fingerprint-keyed", {
                tokens: { apiTokens: pulumi.secret("a".repeat(20)), metricsTokens: pulumi.secret("m".repeat(20)) },
            }),
        );
        await settled();
        const fingerprint = plain<string>(
            inputsOf("kubernetes:apps/v1:Deployment", "fingerprint-keyed-deployment").spec.template.metadata
                .annotations[TOKENS_FINGERPRINT_ANNOTATION],
        );
        const bare = createHash("sha256")
            .update(`${"a".repeat(20)}\n${"m".repeat(20)}`)
            .digest("hex");
        assert.notEqual(fingerprint, bare, "a bare digest of a weak token can be guessed offline");
        const key = resourceOf(
            "random:index/randomPassword:RandomPassword",
            "fingerprint-keyed-tokens-fingerprint-key",
        );
        assert.ok(Number(key.inputs.length) >= 32);
    });
    test("a changed token list changes the pod template, so the pods restart with it", async () => {
        const name = "rotation";
        new Workload(
            name,
            workloadArgs(name, {
                tokens: { apiTokens: pulumi.secret("a".repeat(20)), metricsTokens: pulumi.secret("m".repeat(20)) },
            }),
        );
        await settled();
        const fingerprint = plain<string>(
            inputsOf("kubernetes:apps/v1:Deployment", `${name}-deployment`).spec.template.metadata.annotations[
                TOKENS_FINGERPRINT_ANNOTATION
            ],
        );
        const key = resourceOf("random:index/randomPassword:RandomPassword", `${name}-tokens-fingerprint-key`);
        const keyed = (apiTokens: string): string =>
            createHmac("sha256", generatedPassword(key.name, Number(key.inputs.length)))
                .update(`${apiTokens}\n${"m".repeat(20)}`)
                .digest("hex");
        assert.equal(fingerprint, keyed("a".repeat(20)), "the digest of exactly these tokens under the state's key");
        assert.notEqual(
            keyed(`${"a".repeat(20)},${"b".repeat(20)}`),
            fingerprint,
            "a token added to the list changes it",
        );
    });
    test("without a migrator URL the Job migrates with the service's URL and makes no role", async () => {
        const name = "one-url";
        new Workload(name, workloadArgs(name));
        await settled();
        const job = inputsOf("kubernetes:batch/v1:Job", `${name}-migrate`).spec.template.spec.containers[0];
        assert.deepEqual(job.env, [
            { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "fastapi-database", key: "DATABASE_URL" } } },
        ]);
        assert.equal(resourcesOfType("kubernetes:core/v1:Secret", `${name}-database-migrator`).length, 0);
    });
    test("with a migrator URL it goes in a Secret of its own that only the Job reads", async () => {
        const name = "two-urls";
        new Workload(name, workloadArgs(name, { migrationDatabaseUrl: pulumi.secret("postgresql://m:q@h:5432/d") }));
        await settled();
        const secret = inputsOf("kubernetes:core/v1:Secret", `${name}-database-migrator`);
        assert.equal(secret.metadata.name, "fastapi-database-migrator");
        assert.deepEqual(plain(secret.stringData), { DATABASE_URL: "postgresql://m:q@h:5432/d" });
        const env = inputsOf("kubernetes:batch/v1:Job", `${name}-migrate`).spec.template.spec.containers[0]
            .env as Json[];
        assert.deepEqual(
            env.map((e) => [e.name, e.valueFrom.secretKeyRef.name]),
            [
                ["DATABASE_URL", "fastapi-database-migrator"],
                ["SERVICE_DATABASE_URL", "fastapi-database"],
            ],
        );
        const deployment = JSON.stringify(inputsOf("kubernetes:apps/v1:Deployment", `${name}-deployment`));
        assert.equal(deployment.includes("fastapi-database-migrator"), false);
    });
    test("the metrics scraper may list and watch the namespace's pods and proxy to them, and nothing else", async () => {
        const workload = new Workload("scraper", workloadArgs("scraper", { namespace: "scraper-ns" }));
        assert.equal(await valueOf(workload.metricsScraperToken), SCRAPER_TOKEN);
        assert.equal(await pulumi.isSecret(workload.metricsScraperToken), true);
        await settled();
        const role = inputsOf("kubernetes:rbac.authorization.k8s.io/v1:Role", "scraper-metrics-scraper");
        assert.equal(role.metadata.namespace, "scraper-ns");
        assert.deepEqual(role.rules, [
            { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
            { apiGroups: [""], resources: ["pods/proxy"], verbs: ["get"] },
        ]);
        const binding = inputsOf("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "scraper-metrics-scraper");
        assert.deepEqual(binding.roleRef, {
            apiGroup: "rbac.authorization.k8s.io",
            kind: "Role",
            name: METRICS_SCRAPER,
        });
        assert.deepEqual(binding.subjects, [
            { kind: "ServiceAccount", name: METRICS_SCRAPER, namespace: "scraper-ns" },
        ]);
        const account = inputsOf("kubernetes:core/v1:ServiceAccount", "scraper-metrics-scraper");
        assert.equal(account.automountServiceAccountToken, false, "no pod runs as the scraper");
        const tokenSecret = inputsOf("kubernetes:core/v1:Secret", "scraper-metrics-scraper-token");
        assert.equal(tokenSecret.type, "kubernetes.io/service-account-token");
        assert.equal(tokenSecret.metadata.annotations["kubernetes.io/service-account.name"], METRICS_SCRAPER);
        assert.ok(
            dependsOn(
                resourceOf("kubernetes:core/v1:Secret", "scraper-metrics-scraper-token"),
                "kubernetes:core/v1:ServiceAccount",
                "scraper-metrics-scraper",
            ),
            "the token controller fills the Secret only once its ServiceAccount exists",
        );
    });
    test("the pods serve token-free metrics on a port the load balancer never publishes, reachable from the VPC only", async () => {
        new Workload("metrics-port", workloadArgs("metrics-port"));
        await settled();
        const template = inputsOf("kubernetes:apps/v1:Deployment", "metrics-port-deployment").spec.template;
        const container = template.spec.containers[0];
        assert.deepEqual(
            container.ports.map((port: Json) => [port.name, port.containerPort]),
            [
                ["http", 8000],
                ["metrics", METRICS_PORT],
            ],
        );
        assert.deepEqual(
            container.env.find((variable: Json) => variable.name === "METRICS_PORT"),
            { name: "METRICS_PORT", value: String(METRICS_PORT) },
        );
        assert.equal(template.metadata.annotations[KUBERNETES_API_ANNOTATION], "api.example.internal:6443");
        assert.equal(template.metadata.annotations[ENVIRONMENT_ANNOTATION], "staging", "the series' environment label");
        const service = inputsOf("kubernetes:core/v1:Service", "metrics-port-service");
        assert.deepEqual(
            service.spec.ports.map((port: Json) => port.targetPort),
            [8000],
            "the load balancer reaches port 8000 only",
        );
        const ingress = inputsOf("kubernetes:networking.k8s.io/v1:NetworkPolicy", "metrics-port-allow-http").spec
            .ingress;
        assert.deepEqual(ingress, [
            { ports: [{ protocol: "TCP", port: 8000 }] },
            { from: [{ ipBlock: { cidr: "10.20.0.0/16" } }], ports: [{ protocol: "TCP", port: METRICS_PORT }] },
        ]);
    });
    test("the API server's address on the pod template is host:port, 443 when the URL names none; plain http is refused", () => {
        assert.equal(
            hostAndPort("https://0A1B2C.gr7.ap-southeast-1.eks.amazonaws.com"),
            "0a1b2c.gr7.ap-southeast-1.eks.amazonaws.com:443",
        );
        assert.equal(hostAndPort("https://127.0.0.1:6443"), "127.0.0.1:6443");
        assert.throws(() => hostAndPort("http://api.example.internal"), /must be https/);
    });
    test("a new image gets a new migration Job name; the same image keeps it", () => {
        const other = `registry.example.com/app@sha256:${"3".repeat(64)}`;
        assert.notEqual(migrationJobName(image), migrationJobName(other));
        assert.equal(migrationJobName(image), migrationJobName(image));
        assert.ok(migrationJobName(image).length <= 63, "a valid Kubernetes name");
    });
});

describe("components receive everything through their arguments", () => {
    for (const file of [
        "network.ts",
        "cluster.ts",
        "cluster-autoscaler.ts",
        "registry.ts",
        "workload.ts",
        "service-tokens.ts",
        "metrics-scraper.ts",
        "network-policies.ts",
        "database.ts",
    ]) {
        test(`${file} never reads Pulumi configuration`, () => {
            const source = fs.readFileSync(path.join(__dirname, "..", "..", file), "utf8");
            assert.doesNotMatch(source, /\bConfig\s*\(|getConfig|requireSecret|getSecret/);
        });
    }
});
