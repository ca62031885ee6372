import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type * as kinputs from "@pulumi/kubernetes/types/input";
import { MIN_NODES_WITH_PODS } from "./capacity";
import { createMetricsScraper } from "./metrics-scraper";
import { DatabaseEgress, createNetworkPolicies } from "./network-policies";
import { TokenArgs, createServiceTokens, keyedFingerprint } from "./service-tokens";
import { APP_LABELS, CONTAINER_PORT, METRICS_PORT, MIGRATION_LABELS, TOKENS_SECRET } from "./workload-names";

export interface WorkloadArgs {
    namespace: string;
    /** Pinned by digest (repository@sha256:...). */
    image: pulumi.Input<string>;
    /** The service's URL; a secret end to end: state, Kubernetes Secret, env var from the Secret. */
    databaseUrl: pulumi.Input<string>;
    /** The migrator's URL, when the service connects as a role of its own that the migration Job makes. */
    migrationDatabaseUrl?: pulumi.Input<string>;
    minReplicas: number;
    maxReplicas: number;
    targetCpuPercent: number;
    /** Unset: plain HTTP on port 80, open to every address. */
    loadBalancer?: LoadBalancerArgs;
    tokens?: TokenArgs;
    /** What the LoadBalancer Service must outlive: Kubernetes deletes the load balancer only while they run. */
    loadBalancerDependsOn: pulumi.Resource[];
    /** Where the managed database is: the pods may then reach nothing else but DNS. */
    databaseEgress?: DatabaseEgress;
    metricsScrape: MetricsScrapeArgs;
}

export interface MetricsScrapeArgs {
    /** https://host[:port]; the pods announce it for Prometheus's relabelling. */
    apiEndpoint: pulumi.Input<string>;
    /** The `environment` label of the pods' series. */
    environment: string;
    /** Where the API server's proxied requests come from: the cluster's VPC. */
    sourceCidrs: string[];
}

export interface LoadBalancerArgs {
    /** An ACM certificate: TLS ends at the load balancer, on 443. */
    certificateArn?: string;
    /** The DNS name clients use; the url names it. */
    publicHostname?: string;
    keepHttpPort?: boolean;
    /** Client CIDRs the load balancer admits; empty admits every address. */
    allowedSourceRanges?: string[];
}

/** Prometheus's relabelling reads the scrape address from it. */
export const KUBERNETES_API_ANNOTATION = "fastapi-app/kubernetes-api";
/** Prometheus's relabelling reads the environment label from it. */
export const ENVIRONMENT_ANNOTATION = "fastapi-app/environment";
const APP_UID = 10001;
export const DATABASE_SECRET = "fastapi-database";
/** The migrator's credentials: the migration Job's pod alone reads this Secret. */
export const MIGRATOR_SECRET = "fastapi-database-migrator";
/** A keyed digest of the service's DATABASE_URL: a new password or URL rolls the pods and re-runs the Job. */
export const DATABASE_FINGERPRINT_ANNOTATION = "fastapi-app/database-url-sha256";
/** A keyed digest of the tokens: a rotation rolls the pods. */
export const TOKENS_FINGERPRINT_ANNOTATION = "fastapi-app/tokens-sha256";
/** TLS 1.2 and later only. */
export const TLS_POLICY = "ELBSecurityPolicy-TLS-1-2-2017-01";
/** Before SIGTERM, so the load balancer and kube-proxy stop sending requests to the pod. */
export const PRE_STOP_SECONDS = 10;
/** The pause, the service's graceful shutdown, and headroom. */
export const TERMINATION_GRACE_SECONDS = 45;
interface ScalingSpecArgs {
    readonly namespace: pulumi.Output<string>;
    readonly deployment: pulumi.Output<string>;
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly targetCpuPercent: number;
}

interface PodSpecArgs {
    readonly namespace: pulumi.Output<string>;
    readonly image: pulumi.Input<string>;
    readonly databaseFingerprint: pulumi.Output<string>;
}

interface MigrationSpecArgs extends PodSpecArgs {
    /** The Job connects as the migrator and makes the service's role. */
    readonly makesServiceRole: boolean;
}

interface DeploymentSpecArgs extends PodSpecArgs {
    readonly tokens: { readonly fingerprint: pulumi.Output<string>; readonly readsNeedToken: boolean };
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

// Each pod re-proves the node may read the image (checkov CKV_K8S_15); docs/service.md#the-pods-in-the-cluster.
const imagePullPolicy = "Always";

/** Rotated logs plus /tmp, with room to spare (docs/service.md#the-pods-in-the-cluster). */
export const EPHEMERAL_STORAGE = { request: "128Mi", limit: "256Mi" };

const resources: kinputs.core.v1.ResourceRequirements = {
    requests: { cpu: "250m", memory: "256Mi", "ephemeral-storage": EPHEMERAL_STORAGE.request },
    limits: { cpu: "500m", memory: "512Mi", "ephemeral-storage": EPHEMERAL_STORAGE.limit },
};

const secretEnv = (name: string, secret: string, key = name): kinputs.core.v1.EnvVar => ({
    name,
    valueFrom: { secretKeyRef: { name: secret, key } },
});
const databaseUrlEnv = secretEnv("DATABASE_URL", DATABASE_SECRET);
const tokenEnv = (name: string): kinputs.core.v1.EnvVar => secretEnv(name, TOKENS_SECRET);

// The root filesystem is read-only; temporary files go here only.
export const TMP_SIZE_LIMIT = "64Mi";
const tmpVolume: kinputs.core.v1.Volume = { name: "tmp", emptyDir: { sizeLimit: TMP_SIZE_LIMIT } };
const tmpMount: kinputs.core.v1.VolumeMount = { name: "tmp", mountPath: "/tmp" };

/** Hardening shared by the service's and the migration Job's pods. */
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

/** An API server URL as a Prometheus scrape address. */
export function hostAndPort(endpoint: string): string {
    const url = new URL(endpoint);
    if (url.protocol !== "https:") {
        throw new Error(`the Kubernetes API endpoint must be https, got ${url.protocol}`);
    }
    return `${url.hostname}:${url.port === "" ? "443" : url.port}`;
}

/** Named after the image: each new image migrates once, before its pods roll. */
export function migrationJobName(image: string): string {
    return `fastapi-migrate-${createHash("sha256").update(image).digest("hex").slice(0, 10)}`;
}

/** Everything the service runs on in Kubernetes (docs/deploying.md lists the objects). */
export class Workload extends pulumi.ComponentResource {
    public readonly namespace: pulumi.Output<string>;
    public readonly loadBalancerHostname: pulumi.Output<string>;
    public readonly url: pulumi.Output<string>;
    /** Secrets. */
    public readonly apiTokens: pulumi.Output<string>;
    public readonly metricsTokens: pulumi.Output<string>;
    /** Prometheus's service-account token (secret). */
    public readonly metricsScraperToken: pulumi.Output<string>;

    constructor(name: string, args: WorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fastapi:index:Workload", name, {}, opts);
        const child = { parent: this };
        const ns = this.namespaceObject(name, args.namespace);
        const [secret, ...migrator] = this.databaseSecrets(name, ns, args);
        const serviceAccount = new k8s.core.v1.ServiceAccount(
            `${name}-service-account`,
            { metadata: { name: "fastapi", namespace: ns, labels: APP_LABELS }, automountServiceAccountToken: false },
            child,
        );
        const tokens = createServiceTokens(name, { namespace: ns, tokens: args.tokens }, child);
        const pod = {
            namespace: ns,
            image: args.image,
            databaseFingerprint: keyedFingerprint(`${name}-database`, args.databaseUrl, child),
        };
        const migration = this.migrationJob(name, { ...pod, makesServiceRole: migrator.length > 0 }, [
            secret,
            ...migrator,
            serviceAccount,
        ]);
        const deployment = this.deployment(
            name,
            {
                ...pod,
                tokens: { fingerprint: tokens.fingerprint, readsNeedToken: args.tokens?.readsNeedToken ?? false },
                podAnnotations: {
                    [KUBERNETES_API_ANNOTATION]: pulumi.output(args.metricsScrape.apiEndpoint).apply(hostAndPort),
                    [ENVIRONMENT_ANNOTATION]: args.metricsScrape.environment,
                },
            },
            [secret, tokens.secret, serviceAccount, migration],
        );
        const loadBalancer = args.loadBalancer ?? {};
        const service = this.service(name, { namespace: ns, loadBalancer }, args.loadBalancerDependsOn);
        this.scaling(name, { ...args, namespace: ns, deployment: deployment.metadata.name });
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

    /** The service's Secret, then the migrator's when there is one. */
    private databaseSecrets(name: string, namespace: pulumi.Output<string>, args: WorkloadArgs): k8s.core.v1.Secret[] {
        const urls: [string, string, pulumi.Input<string> | undefined][] = [
            [`${name}-database`, DATABASE_SECRET, args.databaseUrl],
            [`${name}-database-migrator`, MIGRATOR_SECRET, args.migrationDatabaseUrl],
        ];
        return urls.flatMap(([resource, secret, url]) =>
            url === undefined
                ? []
                : [
                      new k8s.core.v1.Secret(
                          resource,
                          {
                              metadata: { name: secret, namespace },
                              type: "Opaque",
                              stringData: { DATABASE_URL: pulumi.secret(url) },
                          },
                          { parent: this },
                      ),
                  ],
        );
    }

    private namespaceObject(name: string, namespace: string): pulumi.Output<string> {
        return new k8s.core.v1.Namespace(
            `${name}-namespace`,
            {
                metadata: {
                    name: namespace,
                    labels: {
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": "latest",
                        "pod-security.kubernetes.io/warn": "restricted",
                        "pod-security.kubernetes.io/audit": "restricted",
                    },
                },
            },
            { parent: this },
        ).metadata.name;
    }

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
                    // Not minAvailable; docs/service.md#the-pods-in-the-cluster says why.
                    maxUnavailable: 1,
                    selector: { matchLabels: APP_LABELS },
                    // A crash-looping pod must not block node drains.
                    unhealthyPodEvictionPolicy: "AlwaysAllow",
                },
            },
            { parent: this },
        );
    }

    private migrationJob(name: string, spec: MigrationSpecArgs, dependsOn: pulumi.Resource[]): k8s.batch.v1.Job {
        const { namespace: ns, image } = spec;
        // The service's URL names the role the Job makes (app/src/fastapi_app/migrate.py).
        const env = spec.makesServiceRole
            ? [
                  secretEnv("DATABASE_URL", MIGRATOR_SECRET),
                  secretEnv("SERVICE_DATABASE_URL", DATABASE_SECRET, "DATABASE_URL"),
              ]
            : [databaseUrlEnv];
        // Pulumi waits for the Job: a failed migration stops the update before any pod is replaced. The template is
        // immutable and the name fixed per image, so a changed Job is deleted, then recreated.
        return new k8s.batch.v1.Job(
            `${name}-migrate`,
            {
                metadata: {
                    name: pulumi.output(image).apply(migrationJobName),
                    namespace: ns,
                    labels: MIGRATION_LABELS,
                    // A Job left Failed by an earlier update runs again, rather than failing the retry again.
                    annotations: { "pulumi.com/replaceUnready": "true" },
                },
                spec: {
                    backoffLimit: 2,
                    activeDeadlineSeconds: 600,
                    template: {
                        // A new service password changes the template: the Job is replaced, so it runs again.
                        metadata: {
                            labels: MIGRATION_LABELS,
                            annotations: { [DATABASE_FINGERPRINT_ANNOTATION]: spec.databaseFingerprint },
                        },
                        spec: podSpec(
                            [
                                {
                                    name: "migrate",
                                    image,
                                    imagePullPolicy,
                                    command: ["python", "-m", "fastapi_app.migrate"],
                                    env,
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
        const { namespace: ns, image, tokens, podAnnotations, databaseFingerprint } = spec;
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
            matchLabelKeys: ["pod-template-hash"],
            // Both: docs/operating.md#scheduling-drains-and-node-loss-what-is-promised.
            nodeTaintsPolicy: "Honor",
        });

        return new k8s.apps.v1.Deployment(
            `${name}-deployment`,
            {
                metadata: { name: "fastapi-deployment", namespace: ns, labels: APP_LABELS },
                spec: {
                    // No `replicas`: the HPA owns the count.
                    selector: { matchLabels: APP_LABELS },
                    revisionHistoryLimit: 5,
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                    template: {
                        metadata: {
                            labels: APP_LABELS,
                            annotations: {
                                [TOKENS_FINGERPRINT_ANNOTATION]: tokens.fingerprint,
                                [DATABASE_FINGERPRINT_ANNOTATION]: databaseFingerprint,
                                ...podAnnotations,
                            },
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
                                        // The API server's default, declared: a server-side apply finds no foreign field.
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
                                // docs/operating.md#scheduling-drains-and-node-loss-what-is-promised
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
        // The classic ELB cannot redirect to HTTPS: with a certificate, port 80 goes unless asked for.
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
                        // Off by default: a zone's lone node would take half the traffic.
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
