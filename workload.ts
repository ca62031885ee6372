import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type * as kinputs from "@pulumi/kubernetes/types/input";
import { MIN_NODES_WITH_PODS } from "./capacity";
import { createMetricsScraper } from "./metrics-scraper";
import { DatabaseEgress, createNetworkPolicies } from "./network-policies";
import { TokenArgs, createServiceTokens } from "./service-tokens";
import { APP_LABELS, CONTAINER_PORT, METRICS_PORT, MIGRATION_LABELS, TOKENS_SECRET } from "./workload-names";

export interface WorkloadArgs {
    namespace: string;
    /** The service image, pinned by digest (repository@sha256:...). */
    image: pulumi.Input<string>;
    /** PostgreSQL URL; kept secret end to end (Pulumi state, Kubernetes Secret, env var from the Secret). */
    databaseUrl: pulumi.Input<string>;
    minReplicas: number;
    maxReplicas: number;
    targetCpuPercent: number;
    /** How the load balancer faces the internet; unset, plain HTTP on port 80 open to every address. */
    loadBalancer?: LoadBalancerArgs;
    /** Bearer tokens; a list left unset is replaced by one token the stack generates. */
    tokens?: TokenArgs;
    /**
     * What the LoadBalancer Service must outlive: the cluster and its nodes. On destroy, Kubernetes deletes the
     * load balancer only while the cluster runs; the Service depends on them so Pulumi deletes it first.
     */
    loadBalancerDependsOn: pulumi.Resource[];
    /**
     * Where the database is, when the stack knows it (the managed database): the service's pods and the migration
     * Job may then reach nothing but DNS and these blocks on this port.
     */
    databaseEgress?: DatabaseEgress;
    /** How Prometheus reaches each pod from outside the cluster: through the API server's proxy. */
    metricsScrape: MetricsScrapeArgs;
}

export interface MetricsScrapeArgs {
    /** The API server's URL (https://host[:port]); the pods announce it for Prometheus's relabelling. */
    apiEndpoint: pulumi.Input<string>;
    /** The stack's name: the pods announce it as the `environment` label of their series. */
    environment: string;
    /** Where the API server's proxied requests come from: the cluster's VPC, where EKS puts its network interfaces. */
    sourceCidrs: string[];
}

export interface LoadBalancerArgs {
    /** An ACM certificate: the load balancer terminates TLS on 443 and forwards plain HTTP to the pods. */
    certificateArn?: string;
    /** The DNS name clients use (pointed at the load balancer); the url names it instead of the load balancer. */
    publicHostname?: string;
    /** With a certificate, also serve plain HTTP on 80. */
    keepHttpPort?: boolean;
    /** Client CIDRs the load balancer admits (its security group's ingress); empty admits every address. */
    allowedSourceRanges?: string[];
}

/** The API server's host:port on the pod template: Prometheus's relabelling takes the scrape address from it. */
export const KUBERNETES_API_ANNOTATION = "fastapi-app/kubernetes-api";
/** The stack's name on the pod template: Prometheus's relabelling takes the series' environment label from it. */
export const ENVIRONMENT_ANNOTATION = "fastapi-app/environment";
const APP_UID = 10001;
const DATABASE_SECRET = "fastapi-database";
/** A digest of the tokens on the pod template; the tokens themselves never leave their Secret. */
export const TOKENS_FINGERPRINT_ANNOTATION = "fastapi-app/tokens-sha256";
/** Negotiation policy of the classic ELB's HTTPS listener: TLS 1.2 and later only. */
export const TLS_POLICY = "ELBSecurityPolicy-TLS-1-2-2017-01";
/** Pause before SIGTERM so the load balancer and kube-proxy stop sending new requests to a terminating pod. */
export const PRE_STOP_SECONDS = 10;
/** Pause + the service's own graceful shutdown (in-flight requests, database pool) with headroom. */
export const TERMINATION_GRACE_SECONDS = 45;
interface ScalingSpecArgs {
    readonly namespace: pulumi.Output<string>;
    /** The name of the Deployment the HPA scales. */
    readonly deployment: pulumi.Output<string>;
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly targetCpuPercent: number;
}

/** What a pod of the service needs: where it runs and the image, pinned by digest. */
interface PodSpecArgs {
    readonly namespace: pulumi.Output<string>;
    readonly image: pulumi.Input<string>;
}

interface DeploymentSpecArgs extends PodSpecArgs {
    readonly tokens: { readonly fingerprint: pulumi.Output<string>; readonly readsNeedToken: boolean };
    /** Annotations of the pod template that Prometheus's relabelling reads. */
    readonly podAnnotations: Record<string, pulumi.Input<string>>;
}

const podSecurityContext: kinputs.core.v1.PodSecurityContext = {
    runAsNonRoot: true,
    runAsUser: APP_UID,
    runAsGroup: APP_UID,
    fsGroup: APP_UID,
    seccompProfile: { type: "RuntimeDefault" },
};

const containerSecurityContext: kinputs.core.v1.SecurityContext = {
    runAsNonRoot: true,
    runAsUser: APP_UID,
    runAsGroup: APP_UID,
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
};

// The digest already pins the bytes; pulling on every start makes each pod re-prove the node may read the image
// from the registry (rather than reuse a copy cached by another pod), as checkov's CKV_K8S_15 requires.
const imagePullPolicy = "Always";

/**
 * Ephemeral storage is what the pod writes to the node's disk: its stdout (container logs, which the kubelet rotates
 * at 10 MiB x 5 files = 50 MiB at most) and the /tmp emptyDir (capped at 64 MiB); the root filesystem is read-only,
 * so nothing else. The limit covers both with room to spare and caps a pod at about 1 % of a node's 20 GB disk; the
 * request lets the scheduler count it, and a pod within its request is evicted last under disk pressure.
 */
export const EPHEMERAL_STORAGE = { request: "128Mi", limit: "256Mi" };

const resources: kinputs.core.v1.ResourceRequirements = {
    requests: { cpu: "250m", memory: "256Mi", "ephemeral-storage": EPHEMERAL_STORAGE.request },
    limits: { cpu: "500m", memory: "512Mi", "ephemeral-storage": EPHEMERAL_STORAGE.limit },
};

const databaseUrlEnv: kinputs.core.v1.EnvVar = {
    name: "DATABASE_URL",
    valueFrom: { secretKeyRef: { name: DATABASE_SECRET, key: "DATABASE_URL" } },
};

const tokenEnv = (name: string): kinputs.core.v1.EnvVar => ({
    name,
    valueFrom: { secretKeyRef: { name: TOKENS_SECRET, key: name } },
});

// The root filesystem is read-only; Python and the service write temporary files here only.
export const TMP_SIZE_LIMIT = "64Mi";
const tmpVolume: kinputs.core.v1.Volume = { name: "tmp", emptyDir: { sizeLimit: TMP_SIZE_LIMIT } };
const tmpMount: kinputs.core.v1.VolumeMount = { name: "tmp", mountPath: "/tmp" };

/** Hardening shared by the service's pods and the migration Job's pod. */
function podSpec(
    containers: kinputs.core.v1.Container[],
    extra: Partial<kinputs.core.v1.PodSpec>,
): kinputs.core.v1.PodSpec {
    return {
        serviceAccountName: "fastapi",
        automountServiceAccountToken: false,
        securityContext: podSecurityContext,
        volumes: [tmpVolume],
        containers,
        ...extra,
    };
}

/** An API server URL as host:port, the form of a Prometheus scrape address. */
export function hostAndPort(endpoint: string): string {
    const url = new URL(endpoint);
    if (url.protocol !== "https:") {
        throw new Error(`the Kubernetes API endpoint must be https, got ${url.protocol}`);
    }
    return `${url.hostname}:${url.port === "" ? "443" : url.port}`;
}

/** The migration Job is named after the image, so each new image runs its migrations once, before its pods roll. */
export function migrationJobName(image: string): string {
    return `fastapi-migrate-${createHash("sha256").update(image).digest("hex").slice(0, 10)}`;
}

/**
 * Everything the service runs on in Kubernetes: a restricted namespace, the database Secret, the migration
 * Job, the Deployment and the objects around it (Service, HPA, PDB, NetworkPolicies).
 */
export class Workload extends pulumi.ComponentResource {
    public readonly namespace: pulumi.Output<string>;
    public readonly loadBalancerHostname: pulumi.Output<string>;
    public readonly url: pulumi.Output<string>;
    /** The tokens the pods accept for writes, and for /metrics (secrets). */
    public readonly apiTokens: pulumi.Output<string>;
    public readonly metricsTokens: pulumi.Output<string>;
    /** The token of the ServiceAccount Prometheus discovers and scrapes the pods as (secret). */
    public readonly metricsScraperToken: pulumi.Output<string>;

    constructor(name: string, args: WorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fastapi:index:Workload", name, {}, opts);
        const child = { parent: this };

        const namespace = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            {
                metadata: {
                    name: args.namespace,
                    labels: {
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": "latest",
                        "pod-security.kubernetes.io/warn": "restricted",
                        "pod-security.kubernetes.io/audit": "restricted",
                    },
                },
            },
            child,
        );
        const ns = namespace.metadata.name;

        const secret = new k8s.core.v1.Secret(
            `${name}-database`,
            {
                metadata: { name: DATABASE_SECRET, namespace: ns },
                type: "Opaque",
                stringData: { DATABASE_URL: pulumi.secret(args.databaseUrl) },
            },
            child,
        );

        const serviceAccount = new k8s.core.v1.ServiceAccount(
            `${name}-service-account`,
            {
                metadata: { name: "fastapi", namespace: ns, labels: APP_LABELS },
                automountServiceAccountToken: false,
            },
            child,
        );

        const tokens = createServiceTokens(name, { namespace: ns, tokens: args.tokens }, child);

        const migration = this.migrationJob(name, { namespace: ns, image: args.image }, [secret, serviceAccount]);
        const kubernetesApi = pulumi.output(args.metricsScrape.apiEndpoint).apply(hostAndPort);
        const deployment = this.deployment(
            name,
            {
                namespace: ns,
                image: args.image,
                tokens: { fingerprint: tokens.fingerprint, readsNeedToken: args.tokens?.readsNeedToken ?? false },
                podAnnotations: {
                    [KUBERNETES_API_ANNOTATION]: kubernetesApi,
                    [ENVIRONMENT_ANNOTATION]: args.metricsScrape.environment,
                },
            },
            [secret, tokens.secret, serviceAccount, migration],
        );
        const loadBalancer = args.loadBalancer ?? {};
        const service = this.service(name, { namespace: ns, loadBalancer }, args.loadBalancerDependsOn);

        this.scaling(name, {
            namespace: ns,
            deployment: deployment.metadata.name,
            minReplicas: args.minReplicas,
            maxReplicas: args.maxReplicas,
            targetCpuPercent: args.targetCpuPercent,
        });

        createNetworkPolicies(
            name,
            { namespace: ns, metricsSourceCidrs: args.metricsScrape.sourceCidrs, databaseEgress: args.databaseEgress },
            child,
        );

        this.namespace = ns;
        this.loadBalancerHostname = service.status.loadBalancer.ingress[0].hostname;
        const host = loadBalancer.publicHostname ?? this.loadBalancerHostname;
        this.url = pulumi.interpolate`${loadBalancer.certificateArn ? "https" : "http"}://${host}`;
        this.apiTokens = tokens.apiTokens;
        this.metricsTokens = tokens.metricsTokens;
        this.metricsScraperToken = createMetricsScraper(name, { namespace: ns }, child);
        this.registerOutputs({
            namespace: this.namespace,
            loadBalancerHostname: this.loadBalancerHostname,
            url: this.url,
            apiTokens: this.apiTokens,
            metricsTokens: this.metricsTokens,
            metricsScraperToken: this.metricsScraperToken,
        });
    }

    /** The HPA on CPU, and the disruption budget that lets drains take one pod at a time. */
    private scaling(name: string, spec: ScalingSpecArgs): void {
        new k8s.autoscaling.v2.HorizontalPodAutoscaler(
            `${name}-hpa`,
            {
                metadata: { name: "fastapi-hpa", namespace: spec.namespace, labels: APP_LABELS },
                spec: {
                    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: spec.deployment },
                    minReplicas: spec.minReplicas,
                    maxReplicas: spec.maxReplicas,
                    metrics: [
                        {
                            type: "Resource",
                            resource: {
                                name: "cpu",
                                target: { type: "Utilization", averageUtilization: spec.targetCpuPercent },
                            },
                        },
                    ],
                },
            },
            { parent: this },
        );

        new k8s.policy.v1.PodDisruptionBudget(
            `${name}-pdb`,
            {
                metadata: { name: "fastapi-pdb", namespace: spec.namespace, labels: APP_LABELS },
                spec: {
                    // One pod at a time: a drain never takes more than one serving pod away, whatever the replica count,
                    // and never blocks (minAvailable: 1 would block every drain at one replica, and at ten would let a
                    // drain evict all the pods of a node at once).
                    maxUnavailable: 1,
                    selector: { matchLabels: APP_LABELS },
                    // A crash-looping pod must not block node drains; only healthy pods count towards the budget.
                    unhealthyPodEvictionPolicy: "AlwaysAllow",
                },
            },
            { parent: this },
        );
    }

    private migrationJob(name: string, spec: PodSpecArgs, dependsOn: pulumi.Resource[]): k8s.batch.v1.Job {
        const { namespace: ns, image } = spec;
        // Pulumi waits for the Job to complete; a failed migration stops the update before any pod is replaced.
        // A Job's pod template is immutable and its name fixed per image, so a changed Job is deleted, then recreated.
        return new k8s.batch.v1.Job(
            `${name}-migrate`,
            {
                metadata: {
                    name: pulumi.output(image).apply(migrationJobName),
                    namespace: ns,
                    labels: MIGRATION_LABELS,
                    // A Job left Failed by an earlier update is deleted and run again by the next one; without this,
                    // a retry with the same image would wait on the same Failed Job and fail again.
                    annotations: { "pulumi.com/replaceUnready": "true" },
                },
                spec: {
                    backoffLimit: 2,
                    activeDeadlineSeconds: 600,
                    template: {
                        metadata: { labels: MIGRATION_LABELS },
                        spec: podSpec(
                            [
                                {
                                    name: "migrate",
                                    image,
                                    imagePullPolicy,
                                    command: ["alembic", "upgrade", "head"],
                                    env: [databaseUrlEnv],
                                    resources,
                                    securityContext: containerSecurityContext,
                                    volumeMounts: [tmpMount],
                                },
                            ],
                            { restartPolicy: "Never" },
                        ),
                    },
                },
            },
            { parent: this, dependsOn, deleteBeforeReplace: true },
        );
    }

    private deployment(name: string, spec: DeploymentSpecArgs, dependsOn: pulumi.Resource[]): k8s.apps.v1.Deployment {
        const { namespace: ns, image, tokens, podAnnotations } = spec;
        const probe = (path: string, initialDelaySeconds: number, periodSeconds: number): kinputs.core.v1.Probe => ({
            httpGet: { path, port: CONTAINER_PORT },
            initialDelaySeconds,
            periodSeconds,
            timeoutSeconds: 3,
            failureThreshold: 3,
        });
        const spreadOver = (
            topologyKey: string,
            whenUnsatisfiable: string,
        ): kinputs.core.v1.TopologySpreadConstraint => ({
            maxSkew: 1,
            topologyKey,
            whenUnsatisfiable,
            labelSelector: { matchLabels: APP_LABELS },
            // Each revision (ReplicaSet) is balanced on its own. Counted together, a rolling update's new pods would
            // balance against old pods that are deleted right after, wherever they run: two nodes could end with 2 + 0.
            matchLabelKeys: ["pod-template-hash"],
            // A cordoned node (being drained, or removed by the autoscaler) is not a place to balance against: its
            // pods are leaving. Counted, it would stay the emptiest node, so no replacement could land anywhere else
            // and the PodDisruptionBudget would refuse every further eviction: the drain would never finish.
            nodeTaintsPolicy: "Honor",
        });

        return new k8s.apps.v1.Deployment(
            `${name}-deployment`,
            {
                metadata: { name: "fastapi-deployment", namespace: ns, labels: APP_LABELS },
                spec: {
                    // No `replicas`: the HPA owns the count, and every `pulumi up` would otherwise reset it.
                    selector: { matchLabels: APP_LABELS },
                    revisionHistoryLimit: 5,
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                    template: {
                        // Pods read the tokens once, at start: a changed token list must roll them, as a new image does.
                        metadata: {
                            labels: APP_LABELS,
                            annotations: { [TOKENS_FINGERPRINT_ANNOTATION]: tokens.fingerprint, ...podAnnotations },
                        },
                        spec: podSpec(
                            [
                                {
                                    name: "fastapi",
                                    image,
                                    imagePullPolicy,
                                    ports: [
                                        { name: "http", containerPort: CONTAINER_PORT, protocol: "TCP" },
                                        { name: "metrics", containerPort: METRICS_PORT, protocol: "TCP" },
                                    ],
                                    env: [
                                        databaseUrlEnv,
                                        tokenEnv("API_TOKENS"),
                                        tokenEnv("METRICS_TOKENS"),
                                        { name: "API_READS_NEED_TOKEN", value: String(tokens.readsNeedToken) },
                                        { name: "HOST", value: "0.0.0.0" },
                                        { name: "PORT", value: String(CONTAINER_PORT) },
                                        { name: "METRICS_PORT", value: String(METRICS_PORT) },
                                        // apiVersion is what the API server would fill in; declared, the applied object is the
                                        // stored one, so a later server-side apply finds no field it did not set.
                                        {
                                            name: "POD_NAME",
                                            valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } },
                                        },
                                    ],
                                    resources,
                                    livenessProbe: probe("/health", 30, 10),
                                    readinessProbe: probe("/ready", 5, 5),
                                    lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
                                    securityContext: containerSecurityContext,
                                    volumeMounts: [tmpMount],
                                },
                            ],
                            {
                                terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
                                // Pod counts per schedulable node differ by at most one (2,1,1 once pods outnumber nodes), and
                                // with fewer than two schedulable nodes the scheduler places no second pod on one: it stays
                                // Pending, which makes the cluster autoscaler add a node. So losing one node never takes every
                                // pod, and a drain of one of two nodes waits for a third instead of packing the pods onto the
                                // other. Zones are balanced when capacity allows. docs/operating.md states the promises.
                                topologySpreadConstraints: [
                                    {
                                        ...spreadOver("kubernetes.io/hostname", "DoNotSchedule"),
                                        minDomains: MIN_NODES_WITH_PODS,
                                    },
                                    spreadOver("topology.kubernetes.io/zone", "ScheduleAnyway"),
                                ],
                            },
                        ),
                    },
                },
            },
            { parent: this, dependsOn },
        );
    }

    private service(
        name: string,
        spec: { readonly namespace: pulumi.Output<string>; readonly loadBalancer: LoadBalancerArgs },
        dependsOn: pulumi.Resource[],
    ): k8s.core.v1.Service {
        const { namespace: ns, loadBalancer } = spec;
        const http = { name: "http", protocol: "TCP", port: 80, targetPort: CONTAINER_PORT };
        const https = { name: "https", protocol: "TCP", port: 443, targetPort: CONTAINER_PORT };
        // The classic ELB cannot redirect HTTP to HTTPS, so with a certificate port 80 would serve the API, bearer
        // tokens included, in plain text: it is dropped unless asked for.
        const ports =
            loadBalancer.certificateArn === undefined ? [http] : loadBalancer.keepHttpPort ? [https, http] : [https];
        const tls: Record<string, string> =
            loadBalancer.certificateArn === undefined
                ? {}
                : {
                      "service.beta.kubernetes.io/aws-load-balancer-ssl-cert": loadBalancer.certificateArn,
                      "service.beta.kubernetes.io/aws-load-balancer-ssl-ports": "https",
                      "service.beta.kubernetes.io/aws-load-balancer-backend-protocol": "http",
                      "service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy": TLS_POLICY,
                  };
        const sourceRanges = loadBalancer.allowedSourceRanges ?? [];
        return new k8s.core.v1.Service(
            `${name}-service`,
            {
                metadata: {
                    name: "fastapi-service",
                    namespace: ns,
                    labels: APP_LABELS,
                    annotations: {
                        "service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol": "HTTP",
                        "service.beta.kubernetes.io/aws-load-balancer-healthcheck-path": "/health",
                        "service.beta.kubernetes.io/aws-load-balancer-connection-draining-enabled": "true",
                        "service.beta.kubernetes.io/aws-load-balancer-connection-draining-timeout": "30",
                        // Off by default on a Classic Load Balancer: each zone's load balancer node would send its half of
                        // the traffic to that zone's nodes only, so with three nodes the lone node of one zone takes half.
                        "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
                        ...tls,
                    },
                },
                spec: {
                    type: "LoadBalancer",
                    selector: APP_LABELS,
                    ports,
                    ...(sourceRanges.length > 0 ? { loadBalancerSourceRanges: sourceRanges } : {}),
                },
            },
            { parent: this, dependsOn },
        );
    }
}
