// Each ComponentResource on its own, with fake inputs instead of the other parts of the stack.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
    FAKE_DIGEST, Json, dependsOn, ecrImages, inputsOf, installMocks, isSecretInput, resourceOf, resourcesOfType, setStackConfig, settled, valueOf,
} from "./mocks";
import { Network, zonesForEks } from "../../vpc";
import { CLUSTER_AUTOSCALER_IMAGE_TAGS, Cluster, ClusterArgs } from "../../cluster";
import { Registry, buildContextFiles, contentHash, parseDockerignore } from "../../registry";
import { Workload, migrationJobName } from "../../workload";

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

describe("Network alone, zones from the region", () => {
    // Zone lookups answer for the configured aws:region; each test sets its own and the seed's comes back after.
    after(() => setStackConfig());

    test("without configured zones: the first zones EKS accepts, skipping the refused zone ID and a Local Zone", async () => {
        setStackConfig({ "aws:region": "us-east-1" });
        new Network("net-us-east-1", { cidrBlock: "10.0.0.0/16", publicSubnetCidrs: ["10.0.1.0/24", "10.0.2.0/24"], clusterName: "demo-cluster" });
        await settled();
        assert.deepEqual(inputsOf("awsx:ec2:Vpc", "net-us-east-1").availabilityZoneNames, ["us-east-1a", "us-east-1c"]);
    });
    test("one zone per public subnet", async () => {
        setStackConfig({ "aws:region": "eu-west-1" });
        new Network("net-three", { cidrBlock: "10.0.0.0/16", publicSubnetCidrs: ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"], clusterName: "demo-cluster" });
        await settled();
        assert.deepEqual(inputsOf("awsx:ec2:Vpc", "net-three").availabilityZoneNames, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
    });
    test("more subnets than usable zones: fails naming the zones and the settings to change", async () => {
        setStackConfig({ "aws:region": "eu-west-1" });
        await assert.rejects(zonesForEks(4),
            /3 availability zones that can host EKS \(eu-west-1a, eu-west-1b, eu-west-1c\), 4 are needed.*configure availabilityZones and publicSubnetCidrs/);
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
        assert.equal(inputsOf("aws:ec2/launchTemplate:LaunchTemplate", "cluster-alone-nodes").blockDeviceMappings[0].ebs.volumeSize, 50);
        assert.equal(inputsOf("eks:index:Cluster", "cluster-alone").version, "1.35");
        const release = inputsOf("kubernetes:helm.sh/v3:Release", "cluster-alone-cluster-autoscaler");
        assert.equal(release.values.image.tag, "v1.35.2");
        assert.equal(release.values.awsRegion, "eu-west-1");
    });
    test("spot: the node group offers every type of the same shape, configured type first", async () => {
        new Cluster("cluster-spot", { ...clusterArgs, clusterName: "spot-cluster", nodeInstanceType: "t3.medium", nodeCapacityType: "SPOT" });
        await settled();
        const nodeGroup = inputsOf("eks:index:ManagedNodeGroup", "cluster-spot-nodes");
        assert.equal(nodeGroup.capacityType, "SPOT");
        assert.deepEqual(nodeGroup.instanceTypes, ["t3.medium", "t3a.medium", "t2.medium"]);
        assert.equal(inputsOf("aws:ec2/launchTemplate:LaunchTemplate", "cluster-spot-nodes").instanceType, undefined, "the types are the node group's alone");
    });
    test("on-demand: exactly the configured type", async () => {
        await settled();
        assert.equal(inputsOf("eks:index:ManagedNodeGroup", "cluster-alone-nodes").capacityType, "ON_DEMAND");
    });
    test("every configured admin gets an access entry with the cluster-admin policy", async () => {
        new Cluster("cluster-admins", { ...clusterArgs, clusterName: "admins-cluster" });
        await settled();
        const entries = Object.values(inputsOf("eks:index:Cluster", "cluster-admins").accessEntries) as Json[];
        assert.deepEqual(entries.map((entry) => entry.principalArn), clusterArgs.clusterAdmins);
        for (const entry of entries) {
            assert.deepEqual(entry.accessPolicies.clusterAdmin, {
                policyArn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                accessScope: { type: "cluster" },
            });
        }
    });
    test("kubeconfig output is a secret", async () => {
        const cluster = new Cluster("cluster-kubeconfig", { ...clusterArgs, clusterName: "other-cluster" });
        assert.equal(await pulumi.isSecret(cluster.kubeconfig), true);
    });
    test("takes only a Kubernetes version with a cluster-autoscaler release (the compiler refuses others)", () => {
        // @ts-expect-error 1.20 has no cluster-autoscaler release here; tsc fails if the type ever accepts any string.
        const unsupported: ClusterArgs["kubernetesVersion"] = "1.20";
        assert.equal(unsupported in CLUSTER_AUTOSCALER_IMAGE_TAGS, false);
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

    test("builds the given directory and hands out the digest", async () => {
        const dir = tempApp({ Dockerfile: "FROM scratch\n", "src/main.py": "print('hi')\n" });
        const registry = new Registry("registry-build", { repositoryName: "demo", appDirectory: dir, platform: "linux/arm64", keepImages: 3 });
        assert.equal(await valueOf(registry.image), `123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/demo@${FAKE_DIGEST}`);
        await settled();
        const image = inputsOf("docker:index/image:Image", "registry-build");
        assert.equal(image.imageName, `123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/demo:${contentHash(dir)}`);
        assert.equal(image.build.platform, "linux/arm64");
        assert.equal(isSecretInput(image.registry), true);
        const rule = JSON.parse(inputsOf("aws:ecr/lifecyclePolicy:LifecyclePolicy", "registry-build").policy).rules[0];
        assert.equal(rule.selection.countNumber, 3);
    });
    test("with an existing image it deploys that image and builds nothing", async () => {
        const existing = `123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/demo@sha256:${"1".repeat(64)}`;
        const registry = new Registry("registry-rollback", {
            repositoryName: "demo-rollback", appDirectory: "/nonexistent", platform: "linux/amd64", keepImages: 10, existingImage: existing,
        });
        assert.equal(await valueOf(registry.image), existing);
        await settled();
        assert.deepEqual(resourcesOfType("docker:index/image:Image", "registry-rollback"), []);
        assert.equal(inputsOf("aws:ecr/repository:Repository", "registry-rollback").name, "demo-rollback");
    });
    test("reuses the image the repository already holds under the content tag: nothing is built or pushed", async () => {
        const dir = tempApp({ Dockerfile: "FROM scratch\n", "src/main.py": "print('reverted')\n" });
        const digest = `sha256:${"c".repeat(64)}`;
        ecrImages.set("demo-reuse", [{ imageTag: "0123456789abcdef", imageDigest: FAKE_DIGEST }, { imageTag: contentHash(dir), imageDigest: digest }]);
        const registry = new Registry("registry-reuse", { repositoryName: "demo-reuse", appDirectory: dir, platform: "linux/amd64", keepImages: 10 });
        assert.equal(await valueOf(registry.image), `123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/demo-reuse@${digest}`);
        await settled();
        assert.deepEqual(resourcesOfType("docker:index/image:Image", "registry-reuse"), []);
    });
    test("a reused image is handed out exactly as the build handed it out, so switching between them rolls nothing", async () => {
        const dir = tempApp({ Dockerfile: "FROM scratch\n", "src/main.py": "print('same')\n" });
        const args = { repositoryName: "demo-same", appDirectory: dir, platform: "linux/amd64", keepImages: 10 };
        const built = await valueOf(new Registry("registry-same-built", args).image);
        await settled();
        assert.equal(resourcesOfType("docker:index/image:Image", "registry-same-built").length, 1, "the first run builds");
        ecrImages.set("demo-same", [{ imageTag: contentHash(dir), imageDigest: FAKE_DIGEST }]);
        const reused = await valueOf(new Registry("registry-same-reused", args).image);
        await settled();
        assert.deepEqual(resourcesOfType("docker:index/image:Image", "registry-same-reused"), [], "the second run finds the tag");
        assert.equal(reused, built);
    });
    test("builds and pushes when the repository holds other tags only", async () => {
        const dir = tempApp({ Dockerfile: "FROM scratch\n", "src/main.py": "print('new')\n" });
        ecrImages.set("demo-new", [{ imageTag: "0123456789abcdef", imageDigest: `sha256:${"d".repeat(64)}` }]);
        const registry = new Registry("registry-new", { repositoryName: "demo-new", appDirectory: dir, platform: "linux/amd64", keepImages: 10 });
        assert.equal(await valueOf(registry.image), `123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/demo-new@${FAKE_DIGEST}`);
        await settled();
        assert.equal(inputsOf("docker:index/image:Image", "registry-new").imageName.endsWith(`:${contentHash(dir)}`), true);
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
        const original = contentHash(dir);
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
            assert.equal(contentHash(dir), original, `${name} is outside the build context`);
        }
    });
    test("content hash changes with the sources, the migrations and the Dockerfile", () => {
        for (const [name, content] of [["src/app/main.py", "a = 2\n"], ["migrations/versions/0002.py", "x = 1\n"], ["Dockerfile", "FROM busybox\n"]]) {
            const dir = tempApp(appFiles);
            const original = contentHash(dir);
            fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
            fs.writeFileSync(path.join(dir, name), content);
            assert.notEqual(contentHash(dir), original, name);
        }
        const dir = tempApp(appFiles);
        const original = contentHash(dir);
        fs.renameSync(path.join(dir, "src", "app", "main.py"), path.join(dir, "src", "app", "renamed.py"));
        assert.notEqual(contentHash(dir), original, "a rename");
    });
    test("content hash ignores read/write bits (umask differs between a laptop and CI)", () => {
        const dir = tempApp(appFiles);
        const original = contentHash(dir);
        fs.chmodSync(path.join(dir, "src", "app", "main.py"), 0o664);
        fs.chmodSync(path.join(dir, "alembic.ini"), 0o600);
        assert.equal(contentHash(dir), original);
    });
    test("content hash changes when a file becomes executable (the image would differ)", () => {
        const dir = tempApp(appFiles);
        const file = path.join(dir, "src", "app", "main.py");
        fs.chmodSync(file, 0o644);
        const original = contentHash(dir);
        fs.chmodSync(file, 0o755);
        assert.notEqual(contentHash(dir), original);
    });
    test("the service's build context holds only what its Dockerfile copies", () => {
        const files = buildContextFiles(path.join(__dirname, "..", "..", "app"));
        assert.ok(files.some((file) => file.startsWith("src/")), "sources admitted");
        const outside = files.filter((file) => !/^(src\/|migrations\/|alembic\.ini$|pyproject\.toml$|requirements\.txt$)/.test(file));
        assert.deepEqual(outside, []);
    });
    test(".dockerignore syntax the hash cannot honour is refused, not guessed", () =>
        assert.throws(() => parseDockerignore("*\n!src/[ab]*.py\n"), /not supported/));
});

/** Stands in for the cluster the workload must not outlive. */
class FakeNodes extends pulumi.CustomResource {
    constructor(name: string) {
        super("test:index:Nodes", name, {});
    }
}

describe("Workload alone", () => {
    const image = `registry.example.com/app@sha256:${"2".repeat(64)}`;

    test("runs the given image with the given scaling, in the given namespace", async () => {
        const workload = new Workload("workload-alone", {
            namespace: "demo-ns",
            image,
            databaseUrl: pulumi.secret("postgresql://u:p@h:5432/d"),
            minReplicas: 3,
            maxReplicas: 7,
            targetCpuPercent: 55,
            loadBalancerDependsOn: [],
        });
        assert.equal(await valueOf(workload.namespace), "demo-ns");
        assert.match(await valueOf(workload.url), /^http:\/\/.+\.elb\.amazonaws\.com$/);
        await settled();
        const deployment = inputsOf("kubernetes:apps/v1:Deployment", "workload-alone-deployment");
        assert.equal(deployment.metadata.namespace, "demo-ns");
        assert.equal(deployment.spec.template.spec.containers[0].image, image);
        const hpa = inputsOf("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "workload-alone-hpa");
        assert.deepEqual([hpa.spec.minReplicas, hpa.spec.maxReplicas, hpa.spec.metrics[0].resource.target.averageUtilization], [3, 7, 55]);
        assert.equal(inputsOf("kubernetes:batch/v1:Job", "workload-alone-migrate").metadata.name, migrationJobName(image));
    });
    test("the LoadBalancer Service itself depends on what it is given to outlive", async () => {
        const nodes = new FakeNodes("workload-nodes");
        new Workload("workload-ordered", {
            namespace: "ordered-ns", image, databaseUrl: "postgresql://u:p@h:5432/d",
            minReplicas: 2, maxReplicas: 3, targetCpuPercent: 70, loadBalancerDependsOn: [nodes],
        });
        await settled();
        assert.ok(dependsOn(resourceOf("kubernetes:core/v1:Service", "workload-ordered-service"), "test:index:Nodes", "workload-nodes"));
    });
    test("a new image gets a new migration Job name; the same image keeps it", () => {
        const other = `registry.example.com/app@sha256:${"3".repeat(64)}`;
        assert.notEqual(migrationJobName(image), migrationJobName(other));
        assert.equal(migrationJobName(image), migrationJobName(image));
        assert.ok(migrationJobName(image).length <= 63, "a valid Kubernetes name");
    });
});

describe("components receive everything through their arguments", () => {
    for (const file of ["vpc.ts", "cluster.ts", "registry.ts", "workload.ts"]) {
        test(`${file} never reads Pulumi configuration`, () => {
            const source = fs.readFileSync(path.join(__dirname, "..", "..", file), "utf8");
            assert.doesNotMatch(source, /\bConfig\s*\(|getConfig|requireSecret|getSecret/);
        });
    }
});
