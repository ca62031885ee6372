// The whole program under mocks with the seed configuration: one test per seed row and hardening rule.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
    API_ENDPOINT,
    CLUSTER_CA_PEM,
    ECR_PASSWORD,
    FAKE_DATABASE_URL,
    FAKE_DIGEST,
    LOAD_BALANCER_HOSTNAME,
    Json,
    dependsOn,
    inputsOf,
    installMocks,
    isSecretInput,
    k8s,
    plain,
    recorded,
    SCRAPER_TOKEN,
    resourceOf,
    resourcesOfType,
    setStackConfig,
    settled,
    valueOf,
} from "./mocks";
import { contentHash } from "../../build-context";
import { MIN_NODES_WITH_PODS } from "../../capacity";
import { EPHEMERAL_STORAGE, PRE_STOP_SECONDS, TERMINATION_GRACE_SECONDS } from "../../workload";
import { CLUSTER_AUTOSCALER_CHART_VERSION, KUBERNETES_RELEASES } from "../../versions";
import { rendering } from "./rendering";

installMocks();
setStackConfig();

type Program = Record<string, pulumi.Output<unknown>>;
let program: Program;

const deployment = (): Json => k8s("apps/v1:Deployment", "fastapi-deployment");
const appContainer = (): Json => deployment().spec.template.spec.containers[0];
const ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment";
const migrationJob = (): Json => inputsOf("kubernetes:batch/v1:Job");

const PROJECT_DIRECTORY = path.join(__dirname, "..", "..");

/** The service's default graceful-shutdown budget (settings.shutdown_timeout), which the grace period must cover. */
function appShutdownTimeoutSeconds(): number {
    const settings = fs.readFileSync(path.join(PROJECT_DIRECTORY, "app", "src", "fastapi_app", "settings.py"), "utf8");
    const match = /shutdown_timeout: int = Field\(\s*default=(\d+)/.exec(settings);
    assert.ok(match, "shutdown_timeout found in app settings");
    return Number(match[1]);
}

before(async () => {
    // Pulumi runs the program from the project directory; so do the tests, wherever they are started from.
    process.chdir(PROJECT_DIRECTORY);
    program = (await import("../../index")) as unknown as Program;
    await settled();
});

describe("stack outputs", () => {
    test("exports exactly the documented outputs", () => {
        assert.deepEqual(Object.keys(program).sort(), [
            "apiTokens",
            "clusterName",
            "databaseEndpoint",
            "databaseMode",
            "image",
            "kubeconfig",
            "kubernetesApiEndpoint",
            "kubernetesCaCertificate",
            "loadBalancerHostname",
            "metricsScraperToken",
            "metricsTokens",
            "namespace",
            "publicSubnetIds",
            "repositoryUrl",
            "url",
            "vpcId",
        ]);
    });
    test("databaseMode is external and there is no databaseEndpoint: the database is not the stack's", () => {
        assert.equal(program.databaseMode, "external");
        assert.equal(program.databaseEndpoint, undefined);
    });
    test("url is http:// + the load balancer hostname", async () => {
        assert.equal(await valueOf(program.loadBalancerHostname), LOAD_BALANCER_HOSTNAME);
        assert.equal(await valueOf(program.url), `http://${LOAD_BALANCER_HOSTNAME}`);
    });
    test("kubeconfig is a secret", async () => {
        assert.equal(await pulumi.isSecret(program.kubeconfig), true);
        assert.match(String(await valueOf(program.kubeconfig)), /get-token/);
    });
    test("monitoring's way in: the API endpoint and CA are plain, the scraper's token is a secret", async () => {
        assert.equal(await valueOf(program.kubernetesApiEndpoint), API_ENDPOINT);
        assert.equal(await valueOf(program.kubernetesCaCertificate), CLUSTER_CA_PEM);
        assert.equal(await valueOf(program.metricsScraperToken), SCRAPER_TOKEN);
        assert.equal(await pulumi.isSecret(program.metricsScraperToken), true);
    });
    test("clusterName, vpcId, publicSubnetIds, namespace, repositoryUrl come from the resources", async () => {
        assert.equal(await valueOf(program.clusterName), "fastapi-app-cluster");
        assert.equal(await valueOf(program.vpcId), "vpc-0a1b2c3d4e5f60718");
        assert.deepEqual(await valueOf(program.publicSubnetIds), [
            "subnet-0aaaaaaaaaaaaaaa1",
            "subnet-0bbbbbbbbbbbbbbb2",
        ]);
        assert.equal(await valueOf(program.namespace), "fastapi-app");
        assert.equal(
            await valueOf(program.repositoryUrl),
            "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/fastapi-app",
        );
    });
    test("image output is the pushed image by digest", async () => {
        assert.equal(
            await valueOf(program.image),
            `123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/fastapi-app@${FAKE_DIGEST}`,
        );
    });
});

describe("VPC (seed: 10.0.0.0/16, 2 AZs, public subnets 10.0.1.0/24 + 10.0.2.0/24)", () => {
    const vpc = (): Json => inputsOf("awsx:ec2:Vpc");
    test("VPC CIDR is 10.0.0.0/16", () => assert.equal(vpc().cidrBlock, "10.0.0.0/16"));
    test("two availability zones: ap-southeast-1a and ap-southeast-1b", () =>
        assert.deepEqual(vpc().availabilityZoneNames, ["ap-southeast-1a", "ap-southeast-1b"]));
    test("exactly one public subnet per AZ with CIDRs 10.0.1.0/24 and 10.0.2.0/24, laid out verbatim", () => {
        assert.equal(vpc().subnetStrategy, "Auto");
        assert.deepEqual(
            vpc().subnetSpecs.map((s: Json) => [s.type, s.cidrBlocks]),
            [["Public", ["10.0.1.0/24", "10.0.2.0/24"]]],
        );
    });
    test("no NAT gateway (public subnets route to the internet gateway)", () =>
        assert.deepEqual(vpc().natGateways, { strategy: "None" }));
    test("subnets tagged for internet-facing load balancers and for the cluster", () =>
        assert.deepEqual(vpc().subnetSpecs[0].tags, {
            "kubernetes.io/role/elb": "1",
            "kubernetes.io/cluster/fastapi-app-cluster": "shared",
        }));
});

describe("EKS cluster (seed: fastapi-app-cluster, logs api/audit/authenticator, cluster role)", () => {
    const cluster = (): Json => inputsOf("eks:index:Cluster");
    test("named fastapi-app-cluster", () => assert.equal(cluster().name, "fastapi-app-cluster"));
    test("Kubernetes version pinned to 1.36 by default", () => assert.equal(cluster().version, "1.36"));
    test("control-plane logs api, audit and authenticator", () =>
        assert.deepEqual(cluster().enabledClusterLogTypes, ["api", "audit", "authenticator"]));
    test("runs in the VPC's public subnets", () => {
        assert.equal(cluster().vpcId, "vpc-0a1b2c3d4e5f60718");
        assert.deepEqual(cluster().publicSubnetIds, ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]);
    });
    test("access through EKS access entries (authentication mode API)", () =>
        assert.equal(cluster().authenticationMode, "API"));
    test("OIDC provider for workload identities", () => assert.equal(cluster().createOidcProvider, true));
    test("VPC CNI enforces NetworkPolicy", () => assert.equal(cluster().vpcCniOptions.enableNetworkPolicy, true));
    test("no default node group: the managed node group is the only compute", () =>
        assert.equal(cluster().skipDefaultNodeGroup, true));
    test("explicit cluster role with AmazonEKSClusterPolicy and AmazonEKSVPCResourceController", () => {
        assert.match(
            inputsOf("aws:iam/role:Role", "fastapi-app-cluster-control-plane").assumeRolePolicy,
            /eks\.amazonaws\.com/,
        );
        const attached = resourcesOfType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            .filter((r) => r.inputs.role === "fastapi-app-cluster-control-plane")
            .map((r) => r.inputs.policyArn)
            .sort();
        assert.deepEqual(attached, [
            "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
            "arn:aws:iam::aws:policy/AmazonEKSVPCResourceController",
        ]);
    });
    test("standard support only: EKS upgrades the cluster rather than billing extended support", () =>
        assert.deepEqual(cluster().upgradePolicy, { supportType: "STANDARD" }));
    test("the stack owns the control-plane log group, kept 30 days, and the cluster depends on it", () => {
        const logGroup = inputsOf("aws:cloudwatch/logGroup:LogGroup", "fastapi-app-control-plane-logs");
        assert.equal(logGroup.name, "/aws/eks/fastapi-app-cluster/cluster");
        assert.equal(logGroup.retentionInDays, 30);
        assert.ok(
            dependsOn(
                resourceOf("eks:index:Cluster"),
                "aws:cloudwatch/logGroup:LogGroup",
                "fastapi-app-control-plane-logs",
            ),
        );
    });
    test("no Kubernetes provider takes a failed read for a deleted cluster (deleteUnreachable stays a recovery step)", () => {
        const providers = resourcesOfType("pulumi:providers:kubernetes");
        assert.ok(providers.length > 0);
        for (const provider of providers) {
            assert.equal((provider.inputs as Json).deleteUnreachable, undefined, provider.name);
        }
    });
    test("the cluster depends on its role's policy attachments: created after them, deleted before them", () => {
        for (const policy of ["AmazonEKSClusterPolicy", "AmazonEKSVPCResourceController"]) {
            assert.ok(
                dependsOn(resourceOf("eks:index:Cluster"), ATTACHMENT, `fastapi-app-cluster-control-plane-${policy}`),
                policy,
            );
        }
    });
});

describe("managed node group (seed: t3.medium, desired 2, max 3, EKS AMI, 20 GB gp3; min 2, not the seed's 1)", () => {
    const nodeGroup = (): Json => inputsOf("eks:index:ManagedNodeGroup");
    const launchTemplate = (): Json => inputsOf("aws:ec2/launchTemplate:LaunchTemplate");
    test("instance type t3.medium, on-demand", () => {
        assert.deepEqual(nodeGroup().instanceTypes, ["t3.medium"]);
        assert.equal(nodeGroup().capacityType, "ON_DEMAND");
    });
    test("desired 2, min 2 (the pods' two nodes), max 3", () =>
        assert.deepEqual(nodeGroup().scalingConfig, { desiredSize: 2, minSize: MIN_NODES_WITH_PODS, maxSize: 3 }));
    test("Amazon EKS-optimized AMI (AL2023 x86_64)", () => assert.equal(nodeGroup().amiType, "AL2023_x86_64_STANDARD"));
    test("desired size left to the cluster autoscaler after creation", () =>
        assert.equal(nodeGroup().ignoreScalingChanges, true));
    test("nodes follow the control plane's Kubernetes version, upgraded after it in the same update", () => {
        assert.equal(nodeGroup().version, "1.36");
        assert.ok(dependsOn(resourceOf("eks:index:ManagedNodeGroup"), "eks:index:Cluster", "fastapi-app"));
    });
    test("uses our launch template, latest version", () =>
        assert.deepEqual(nodeGroup().launchTemplate, { id: "fastapi-app-nodes-id", version: "1" }));
    test("root volume 20 GB gp3, encrypted", () =>
        assert.deepEqual(launchTemplate().blockDeviceMappings, [
            {
                deviceName: "/dev/xvda",
                ebs: { volumeSize: 20, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" },
            },
        ]));
    test("IMDSv2 required, one hop (pods cannot reach the node's credentials)", () =>
        assert.deepEqual(launchTemplate().metadataOptions, {
            httpEndpoint: "enabled",
            httpTokens: "required",
            httpPutResponseHopLimit: 1,
        }));
    test("node role has exactly the four seed policies", () => {
        assert.match(inputsOf("aws:iam/role:Role", "fastapi-app-cluster-node").assumeRolePolicy, /ec2\.amazonaws\.com/);
        const attached = resourcesOfType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            .filter((r) => r.inputs.role === "fastapi-app-cluster-node")
            .map((r) => String(r.inputs.policyArn).split("/").pop())
            .sort();
        assert.deepEqual(attached, [
            "AmazonEC2ContainerRegistryReadOnly",
            "AmazonEKSWorkerNodePolicy",
            "AmazonEKS_CNI_Policy",
            "CloudWatchAgentServerPolicy",
        ]);
    });
    test("the node group depends on the node role's policy attachments: nodes join with them, are deleted before them", () => {
        for (const policy of [
            "AmazonEKSWorkerNodePolicy",
            "AmazonEKS_CNI_Policy",
            "AmazonEC2ContainerRegistryReadOnly",
            "CloudWatchAgentServerPolicy",
        ]) {
            assert.ok(
                dependsOn(resourceOf("eks:index:ManagedNodeGroup"), ATTACHMENT, `fastapi-app-cluster-node-${policy}`),
                policy,
            );
        }
    });
});

describe("add-ons: metrics-server and cluster autoscaler (seed: nodes min 1, max 3)", () => {
    const release = (): Json => inputsOf("kubernetes:helm.sh/v3:Release");
    const pins = KUBERNETES_RELEASES["1.36"];
    test("metrics-server installed as an EKS add-on on the cluster, at its pinned version", () => {
        const addon = inputsOf("aws:eks/addon:Addon", "fastapi-app-metrics-server");
        assert.equal(addon.addonName, "metrics-server");
        assert.equal(addon.clusterName, "fastapi-app-cluster");
        assert.equal(addon.addonVersion, pins.addons.metricsServer);
    });
    test("CoreDNS is a managed EKS add-on at its pinned version, adopting the self-managed one", () => {
        const addon = inputsOf("aws:eks/addon:Addon", "fastapi-app-coredns");
        assert.equal(addon.addonName, "coredns");
        assert.equal(addon.addonVersion, pins.addons.coreDns);
        assert.equal(addon.resolveConflictsOnCreate, "OVERWRITE");
    });
    test("CoreDNS and metrics-server are created after the nodes they run on", () => {
        for (const addon of ["coredns", "metrics-server"]) {
            assert.ok(
                dependsOn(
                    resourceOf("aws:eks/addon:Addon", `fastapi-app-${addon}`),
                    "eks:index:ManagedNodeGroup",
                    "fastapi-app-nodes",
                ),
                addon,
            );
        }
    });
    test("vpc-cni and kube-proxy pinned, never resolved to the most recent version on each run", () => {
        const cluster = inputsOf("eks:index:Cluster");
        assert.equal(cluster.vpcCniOptions.addonVersion, pins.addons.vpcCni);
        assert.equal(cluster.kubeProxyAddonOptions.version, pins.addons.kubeProxy);
    });
    test("cluster autoscaler from a pinned chart, image matching the Kubernetes minor", () => {
        assert.equal(release().chart, "cluster-autoscaler");
        assert.equal(release().version, CLUSTER_AUTOSCALER_CHART_VERSION);
        assert.equal(release().repositoryOpts.repo, "https://kubernetes.github.io/autoscaler");
        assert.equal(release().values.image.tag, pins.clusterAutoscalerImage);
    });
    test("cluster autoscaler auto-discovers the node group of fastapi-app-cluster", () => {
        assert.equal(release().values.cloudProvider, "aws");
        assert.equal(release().values.awsRegion, "ap-southeast-1");
        assert.deepEqual(release().values.autoDiscovery, { clusterName: "fastapi-app-cluster" });
    });
    test("cluster autoscaler's service account assumes its own role through the OIDC provider", () => {
        const sa = release().values.rbac.serviceAccount;
        assert.equal(sa.name, "cluster-autoscaler");
        assert.equal(
            sa.annotations["eks.amazonaws.com/role-arn"],
            "arn:aws:iam::123456789012:role/fastapi-app-cluster-autoscaler",
        );
        const trust = JSON.parse(inputsOf("aws:iam/role:Role", "fastapi-app-cluster-autoscaler").assumeRolePolicy);
        const statement = trust.Statement[0];
        assert.equal(statement.Action, "sts:AssumeRoleWithWebIdentity");
        assert.match(statement.Principal.Federated, /:oidc-provider\//);
        const conditions = statement.Condition.StringEquals;
        assert.deepEqual(
            Object.entries(conditions)
                .filter(([key]) => key.endsWith(":sub"))
                .map(([, value]) => value),
            ["system:serviceaccount:kube-system:cluster-autoscaler"],
        );
    });
    test("cluster autoscaler's write permissions are limited to this cluster's tagged node groups", () => {
        const policy = JSON.parse(inputsOf("aws:iam/rolePolicy:RolePolicy").policy);
        const writes = policy.Statement.filter((s: Json) =>
            s.Action.some((a: string) => /SetDesired|Terminate/.test(a)),
        );
        assert.equal(writes.length, 1);
        assert.deepEqual(writes[0].Condition, {
            StringEquals: { "aws:ResourceTag/k8s.io/cluster-autoscaler/fastapi-app-cluster": "owned" },
        });
        const unconditioned = policy.Statement.filter((s: Json) => s.Condition === undefined).flatMap(
            (s: Json) => s.Action,
        );
        assert.ok(
            unconditioned.every((a: string) => /:(Describe|Get)/.test(a)),
            `only read actions unconditioned: ${unconditioned}`,
        );
    });
    test("cluster autoscaler release depends on its role's permissions", () =>
        assert.ok(
            dependsOn(
                resourceOf("kubernetes:helm.sh/v3:Release"),
                "aws:iam/rolePolicy:RolePolicy",
                "fastapi-app-cluster-autoscaler",
            ),
        ));
    test("cluster autoscaler container hardened (non-root, read-only root fs, no capabilities)", () => {
        assert.equal(release().values.securityContext.runAsNonRoot, true);
        assert.deepEqual(release().values.containerSecurityContext, {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
        });
    });
});

describe("ECR repository and image (seed: scanning, keep 10 images)", () => {
    const repository = (): Json => inputsOf("aws:ecr/repository:Repository");
    const image = (): Json => inputsOf("docker-build:index:Image");
    const imageOptions = () => resourcesOfType("docker-build:index:Image")[0].options;
    test("repository named fastapi-app", () => assert.equal(repository().name, "fastapi-app"));
    test("scan on push", () => assert.deepEqual(repository().imageScanningConfiguration, { scanOnPush: true }));
    test("immutable tags", () => assert.equal(repository().imageTagMutability, "IMMUTABLE"));
    test("forceDelete so teardown works with images inside", () => assert.equal(repository().forceDelete, true));
    test("lifecycle policy keeps the last 10 images", () => {
        const rule = JSON.parse(inputsOf("aws:ecr/lifecyclePolicy:LifecyclePolicy").policy).rules[0];
        assert.deepEqual(rule.selection, { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 10 });
        assert.deepEqual(rule.action, { type: "expire" });
    });
    test("image built by the Docker build provider for linux/amd64 and pushed under its content tag", () => {
        const tag = contentHash("app", "linux/amd64");
        assert.deepEqual(image().platforms, ["linux/amd64"]);
        assert.equal(image().push, true);
        assert.deepEqual(image().tags, [`123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/fastapi-app:${tag}`]);
        assert.equal(image().context.location, `build/image-context/${tag}`);
    });
    test("nothing is built during a preview", () => assert.equal(image().buildOnPreview, false));
    test("deleting the resource keeps its image in ECR, for rollbacks", () =>
        assert.equal(imageOptions().retainOnDelete, true));
    test("no absolute path in the image's inputs: the state is the same from every checkout", () =>
        assert.equal(JSON.stringify(image()).includes(PROJECT_DIRECTORY), false));
    test("the registry login is this run's ECR token, a secret in the state", () => {
        assert.equal(isSecretInput(image().registries), true);
        assert.deepEqual(plain(image().registries), [
            { address: "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com", username: "AWS", password: ECR_PASSWORD },
        ]);
    });
});

describe("namespace, Secret and migration Job", () => {
    test("namespace fastapi-app enforces the restricted Pod Security Standard", () => {
        const labels = k8s("core/v1:Namespace", "fastapi-app").metadata.labels;
        assert.equal(labels["pod-security.kubernetes.io/enforce"], "restricted");
    });
    test("Secret holds DATABASE_URL from the Pulumi secret, marked secret for the state", () => {
        const secret = k8s("core/v1:Secret", "fastapi-database");
        assert.equal(isSecretInput(secret.stringData), true);
        assert.deepEqual(plain(secret.stringData), {
            DATABASE_URL: "postgresql://app:not-a-real-password@db.example.internal:5432/app",
        });
    });
    test("no plain-text DATABASE_URL in any resource but the Secret", () => {
        const others = recorded.filter(
            (r) => !(r.type === "kubernetes:core/v1:Secret" && r.name === "fastapi-database"),
        );
        assert.equal(others.length, recorded.length - 1, "only the database Secret is left out");
        const leaks = others
            .filter((r) => JSON.stringify(r.inputs).includes(FAKE_DATABASE_URL))
            .map((r) => `${r.type}::${r.name}`);
        assert.deepEqual(leaks, []);
    });
    test("migration Job runs the migrations (python -m fastapi_app.migrate) with the deployed image digest", () => {
        const container = migrationJob().spec.template.spec.containers[0];
        assert.deepEqual(container.command, ["python", "-m", "fastapi_app.migrate"]);
        assert.equal(container.image, appContainer().image);
        assert.deepEqual(container.env, [
            { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "fastapi-database", key: "DATABASE_URL" } } },
        ]);
    });
    test("a migration Job that failed is run again by the next update, not waited on again", () =>
        assert.deepEqual(migrationJob().metadata.annotations, { "pulumi.com/replaceUnready": "true" }));
    test("migration Job name changes with the image, so each release migrates once", () =>
        assert.match(migrationJob().metadata.name, /^fastapi-migrate-[0-9a-f]{10}$/));
    test("migration Job pods carry the same hardening as the service pods", () => {
        const jobPod = migrationJob().spec.template.spec;
        const appPod = deployment().spec.template.spec;
        assert.deepEqual(jobPod.securityContext, appPod.securityContext);
        assert.deepEqual(jobPod.containers[0].securityContext, appPod.containers[0].securityContext);
        assert.equal(jobPod.automountServiceAccountToken, false);
        assert.equal(jobPod.restartPolicy, "Never");
    });
    test("migration Job declares the same resources as the service, ephemeral storage included", () =>
        assert.deepEqual(migrationJob().spec.template.spec.containers[0].resources, appContainer().resources));
    test("migration Job pods are not selected by the Service", () =>
        assert.notEqual(migrationJob().spec.template.metadata.labels.app, "fastapi"));
});

describe("Deployment fastapi-deployment (seed rows)", () => {
    test("labels app: fastapi on the Deployment, selector and pods", () => {
        assert.equal(deployment().metadata.labels.app, "fastapi");
        assert.deepEqual(deployment().spec.selector.matchLabels, { app: "fastapi" });
        assert.equal(deployment().spec.template.metadata.labels.app, "fastapi");
    });
    test("in namespace fastapi-app", () => assert.equal(deployment().metadata.namespace, "fastapi-app"));
    test("no spec.replicas: the HPA owns the replica count", () =>
        assert.equal("replicas" in deployment().spec, false));
    test("the pods announce the API server and the stack's name, for Prometheus's pods job", () => {
        const annotations = deployment().spec.template.metadata.annotations;
        assert.equal(annotations["fastapi-app/kubernetes-api"], `${new URL(API_ENDPOINT).hostname}:443`);
        assert.equal(annotations["fastapi-app/environment"], "dev");
    });
    test("container fastapi listens on port 8000, and on 9000 for token-free metrics", () => {
        assert.equal(appContainer().name, "fastapi");
        assert.deepEqual(appContainer().ports, [
            { name: "http", containerPort: 8000, protocol: "TCP" },
            { name: "metrics", containerPort: 9000, protocol: "TCP" },
        ]);
    });
    test("image pinned by digest", () => assert.match(appContainer().image, /@sha256:[0-9a-f]{64}$/));
    test("requests 250m CPU / 256Mi, limits 500m / 512Mi, and ephemeral storage", () =>
        assert.deepEqual(appContainer().resources, {
            requests: { cpu: "250m", memory: "256Mi", "ephemeral-storage": "128Mi" },
            limits: { cpu: "500m", memory: "512Mi", "ephemeral-storage": "256Mi" },
        }));
    test("the ephemeral-storage limit covers what a pod writes: /tmp's cap plus the kubelet's rotated logs (5 x 10 MiB)", () => {
        const mib = (quantity: string): number => Number(/^(\d+)Mi$/.exec(quantity)?.[1]);
        const tmp = mib(deployment().spec.template.spec.volumes[0].emptyDir.sizeLimit);
        assert.ok(mib(EPHEMERAL_STORAGE.limit) >= tmp + 5 * 10, `${EPHEMERAL_STORAGE.limit} >= ${tmp}Mi + 50Mi`);
        assert.ok(mib(EPHEMERAL_STORAGE.request) <= mib(EPHEMERAL_STORAGE.limit));
    });
    test("liveness GET /health on 8000, 30 s delay, 10 s period", () => {
        const probe = appContainer().livenessProbe;
        assert.deepEqual(probe.httpGet, { path: "/health", port: 8000 });
        assert.equal(probe.initialDelaySeconds, 30);
        assert.equal(probe.periodSeconds, 10);
    });
    test("readiness GET /ready on 8000, 5 s delay, 5 s period", () => {
        const probe = appContainer().readinessProbe;
        assert.deepEqual(probe.httpGet, { path: "/ready", port: 8000 });
        assert.equal(probe.initialDelaySeconds, 5);
        assert.equal(probe.periodSeconds, 5);
    });
    test("rolling update never drops below the current count (maxUnavailable 0)", () =>
        assert.deepEqual(deployment().spec.strategy, {
            type: "RollingUpdate",
            rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
        }));
    test("preStop pause, and a grace period covering it plus the service's own graceful shutdown", () => {
        assert.deepEqual(appContainer().lifecycle, { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } });
        assert.equal(deployment().spec.template.spec.terminationGracePeriodSeconds, TERMINATION_GRACE_SECONDS);
        assert.ok(
            TERMINATION_GRACE_SECONDS > PRE_STOP_SECONDS + appShutdownTimeoutSeconds(),
            `${TERMINATION_GRACE_SECONDS} s > ${PRE_STOP_SECONDS} s pause + ${appShutdownTimeoutSeconds()} s shutdown`,
        );
    });
    test("spread over at least two nodes (hard) and over zones, per revision, cordoned nodes left out of the balance", () => {
        const spread = deployment().spec.template.spec.topologySpreadConstraints.map((c: Json) => [
            c.topologyKey,
            c.whenUnsatisfiable,
            c.maxSkew,
            c.minDomains,
            c.nodeTaintsPolicy,
            c.matchLabelKeys,
        ]);
        assert.deepEqual(spread, [
            ["kubernetes.io/hostname", "DoNotSchedule", 1, MIN_NODES_WITH_PODS, "Honor", ["pod-template-hash"]],
            ["topology.kubernetes.io/zone", "ScheduleAnyway", 1, undefined, "Honor", ["pod-template-hash"]],
        ]);
        assert.equal(MIN_NODES_WITH_PODS, 2);
    });
    test("migrations complete before the Deployment rolls: the engine is told the Deployment depends on the Job", () =>
        // Pulumi updates a resource only after its dependencies are ready, and a Job is ready once it has completed.
        assert.ok(
            dependsOn(resourceOf("kubernetes:apps/v1:Deployment"), "kubernetes:batch/v1:Job", "fastapi-migrate"),
        ));
    test("environment: DATABASE_URL and the tokens from their Secrets, HOST, PORT, METRICS_PORT, POD_NAME from the downward API", () =>
        assert.deepEqual(appContainer().env, [
            { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "fastapi-database", key: "DATABASE_URL" } } },
            { name: "API_TOKENS", valueFrom: { secretKeyRef: { name: "fastapi-tokens", key: "API_TOKENS" } } },
            { name: "METRICS_TOKENS", valueFrom: { secretKeyRef: { name: "fastapi-tokens", key: "METRICS_TOKENS" } } },
            { name: "API_READS_NEED_TOKEN", value: "false" },
            { name: "HOST", value: "0.0.0.0" },
            { name: "PORT", value: "8000" },
            { name: "METRICS_PORT", value: "9000" },
            { name: "POD_NAME", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } } },
        ]));
});

describe("pod hardening", () => {
    const pod = (): Json => deployment().spec.template.spec;
    test("runs as non-root uid/gid 10001 (>= 10000)", () => {
        assert.equal(pod().securityContext.runAsNonRoot, true);
        assert.equal(pod().securityContext.runAsUser, 10001);
        assert.equal(pod().securityContext.runAsGroup, 10001);
        assert.equal(appContainer().securityContext.runAsUser, 10001);
    });
    test("read-only root filesystem with a writable /tmp emptyDir", () => {
        assert.equal(appContainer().securityContext.readOnlyRootFilesystem, true);
        assert.deepEqual(appContainer().volumeMounts, [{ name: "tmp", mountPath: "/tmp" }]);
        assert.deepEqual(pod().volumes, [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }]);
    });
    test("no privilege escalation, not privileged", () => {
        assert.equal(appContainer().securityContext.allowPrivilegeEscalation, false);
        assert.equal(appContainer().securityContext.privileged, false);
    });
    test("all capabilities dropped", () =>
        assert.deepEqual(appContainer().securityContext.capabilities, { drop: ["ALL"] }));
    test("seccomp RuntimeDefault", () => {
        assert.deepEqual(pod().securityContext.seccompProfile, { type: "RuntimeDefault" });
        assert.deepEqual(appContainer().securityContext.seccompProfile, { type: "RuntimeDefault" });
    });
    test("no service-account token mounted, dedicated service account", () => {
        assert.equal(pod().automountServiceAccountToken, false);
        assert.equal(pod().serviceAccountName, "fastapi");
        assert.equal(k8s("core/v1:ServiceAccount", "fastapi").automountServiceAccountToken, false);
    });
    test("imagePullPolicy Always: each pod start re-checks the node may pull the image (checkov CKV_K8S_15)", () =>
        assert.equal(appContainer().imagePullPolicy, "Always"));
});

describe("Service, HPA, PDB, NetworkPolicy", () => {
    test("Service fastapi-service: LoadBalancer, port 80 -> 8000, selects app: fastapi", () => {
        const service = k8s("core/v1:Service", "fastapi-service");
        assert.equal(service.spec.type, "LoadBalancer");
        assert.deepEqual(service.spec.ports, [{ name: "http", protocol: "TCP", port: 80, targetPort: 8000 }]);
        assert.deepEqual(service.spec.selector, { app: "fastapi" });
    });
    test("by default: plain HTTP, no TLS annotations, open to every address (no certificate configured)", () => {
        const service = k8s("core/v1:Service", "fastapi-service");
        assert.equal("loadBalancerSourceRanges" in service.spec, false);
        assert.deepEqual(
            Object.keys(service.metadata.annotations).filter(
                (key) => key.includes("ssl") || key.includes("backend-protocol"),
            ),
            [],
        );
    });
    test("writes and /metrics need tokens the stack generates: 48 letters and digits, kept in state as secrets", async () => {
        const generated = resourcesOfType("random:index/randomPassword:RandomPassword").map((r) => [
            r.name,
            r.inputs.length,
            r.inputs.special,
        ]);
        assert.deepEqual(
            generated.filter(([name]) => String(name).endsWith("-token")),
            [
                ["fastapi-api-token", 48, false],
                ["fastapi-metrics-token", 48, false],
            ],
        );
        const secret = k8s("core/v1:Secret", "fastapi-tokens");
        assert.equal(isSecretInput(secret.stringData), true);
        const data = plain<Record<string, string>>(secret.stringData);
        assert.deepEqual(Object.keys(data).sort(), ["API_TOKENS", "METRICS_TOKENS"]);
        assert.notEqual(data.API_TOKENS, data.METRICS_TOKENS);
        assert.equal(await pulumi.isSecret(program.apiTokens), true);
        assert.equal(await pulumi.isSecret(program.metricsTokens), true);
        assert.equal(await valueOf(program.apiTokens), data.API_TOKENS);
        const leaks = recorded
            .filter((r) => r.name !== "fastapi-tokens" && !r.type.startsWith("random:"))
            .filter((r) =>
                [data.API_TOKENS, data.METRICS_TOKENS].some((token) => JSON.stringify(r.inputs).includes(token)),
            );
        assert.deepEqual(
            leaks.map((r) => r.name),
            [],
            "tokens reach the pods only through the Secret",
        );
    });
    test("load balancer spreads traffic over the nodes of every zone (cross-zone on)", () =>
        assert.equal(
            k8s("core/v1:Service", "fastapi-service").metadata.annotations[
                "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled"
            ],
            "true",
        ));
    test("load balancer health check is HTTP GET /health (seed)", () => {
        const annotations = k8s("core/v1:Service", "fastapi-service").metadata.annotations;
        assert.equal(annotations["service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol"], "HTTP");
        assert.equal(annotations["service.beta.kubernetes.io/aws-load-balancer-healthcheck-path"], "/health");
    });
    test("HPA autoscaling/v2 on fastapi-deployment: min 2, max 10, CPU 70 %", () => {
        const hpa = k8s("autoscaling/v2:HorizontalPodAutoscaler", "fastapi-hpa");
        assert.equal(hpa.apiVersion, "autoscaling/v2");
        assert.deepEqual(hpa.spec.scaleTargetRef, {
            apiVersion: "apps/v1",
            kind: "Deployment",
            name: "fastapi-deployment",
        });
        assert.equal(hpa.spec.minReplicas, 2);
        assert.equal(hpa.spec.maxReplicas, 10);
        assert.deepEqual(hpa.spec.metrics, [
            { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } },
        ]);
    });
    test("PodDisruptionBudget lets voluntary disruptions (drains, upgrades) take one pod at a time", () => {
        const pdb = k8s("policy/v1:PodDisruptionBudget", "fastapi-pdb");
        assert.equal(pdb.spec.maxUnavailable, 1);
        assert.equal("minAvailable" in pdb.spec, false);
        assert.deepEqual(pdb.spec.selector, { matchLabels: { app: "fastapi" } });
    });
    test("NetworkPolicy admits only TCP 8000 to the service pods, and 9000 from the VPC; all other ingress denied", () => {
        const allow = k8s("networking.k8s.io/v1:NetworkPolicy", "fastapi-allow-http");
        assert.deepEqual(allow.spec.podSelector, { matchLabels: { app: "fastapi" } });
        assert.deepEqual(allow.spec.ingress, [
            { ports: [{ protocol: "TCP", port: 8000 }] },
            { from: [{ ipBlock: { cidr: "10.0.0.0/16" } }], ports: [{ protocol: "TCP", port: 9000 }] },
        ]);
        const deny = k8s("networking.k8s.io/v1:NetworkPolicy", "default-deny-ingress");
        assert.deepEqual(deny.spec, { podSelector: {}, policyTypes: ["Ingress"] });
    });
    test("destroy order: the engine is told the LoadBalancer Service depends on the cluster, its node group and add-ons, the cluster on the VPC", () => {
        const service = resourceOf("kubernetes:core/v1:Service");
        assert.ok(dependsOn(service, "eks:index:Cluster", "fastapi-app"), "Service depends on the EKS cluster");
        assert.ok(
            dependsOn(service, "eks:index:ManagedNodeGroup", "fastapi-app-nodes"),
            "Service depends on the node group",
        );
        assert.ok(
            dependsOn(service, "kubernetes:helm.sh/v3:Release", "fastapi-app-cluster-autoscaler"),
            "Service depends on the autoscaler",
        );
        assert.ok(
            dependsOn(resourceOf("eks:index:Cluster"), "awsx:ec2:Vpc", "fastapi-app"),
            "the cluster depends on the VPC",
        );
    });
    test("every Kubernetes object of the workload lives in namespace fastapi-app", () => {
        const namespaced = resourcesOfType("kubernetes:apps/v1:Deployment").concat(
            ...[
                "core/v1:Service",
                "core/v1:Secret",
                "core/v1:ServiceAccount",
                "batch/v1:Job",
                "autoscaling/v2:HorizontalPodAutoscaler",
                "policy/v1:PodDisruptionBudget",
                "networking.k8s.io/v1:NetworkPolicy",
            ].map((kind) => resourcesOfType(`kubernetes:${kind}`)),
        );
        assert.ok(namespaced.length >= 9);
        assert.ok(namespaced.every((r) => (r.inputs as Json).metadata.namespace === "fastapi-app"));
    });
});

describe("external database mode renders what the stack rendered before it could make its own database", () => {
    // external-mode.rendering.json was rendered by the stack as it stood before the managed database existed.
    // A deliberate change to what external mode declares is recorded there again with:
    //   UPDATE_EXTERNAL_RENDERING=1 node --import tsx --test tests/stack/stack.test.ts
    const file = path.join(__dirname, "external-mode.rendering.json");
    test("every resource, input and dependency is the same", () => {
        if (process.env.UPDATE_EXTERNAL_RENDERING === "1") {
            fs.writeFileSync(file, `${JSON.stringify(rendering(), null, 2)}\n`);
        }
        assert.deepEqual(rendering(), JSON.parse(fs.readFileSync(file, "utf8")));
    });
});
