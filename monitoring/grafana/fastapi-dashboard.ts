/**
 * The "FastAPI service" dashboard, built with Grafana's foundation SDK.
 *
 * Every series carries its pod's `pod` label. In pods mode Prometheus scrapes every pod through the Kubernetes
 * API; through the load balancer each scrape reaches one pod. Every query therefore aggregates over pods with a
 * range function: counters as sums of per-pod rates, histograms as summed buckets, gauges as the last value each
 * pod reported within a few scrapes. A bare instant query would show only the pod that answered the latest
 * scrape through the load balancer. Where both jobs reach a pod, the pods job's series of it are the ones counted.
 */
import {
    LegendDisplayMode,
    LegendPlacement,
    VizLegendOptionsBuilder,
    type DataSourceRef,
} from "@grafana/grafana-foundation-sdk/common";
import {
    DashboardBuilder,
    DashboardCursorSync,
    QueryVariableBuilder,
    RowBuilder,
    ThresholdsConfigBuilder,
    ThresholdsMode,
    VariableRefresh,
    VariableSort,
} from "@grafana/grafana-foundation-sdk/dashboard";
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatPanelBuilder } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TimeseriesPanelBuilder } from "@grafana/grafana-foundation-sdk/timeseries";

/** Must match the uid in provisioning/datasources/prometheus.yml. */
const PROMETHEUS_DATASOURCE: DataSourceRef = { type: "prometheus", uid: "prometheus" };
const DASHBOARD_UID = "fastapi-service";

// The load balancer sends each 15 s scrape to a pod at random, so a window must hold enough scrapes to reach
// every pod. Rates span 5 minutes, as the alert rules do: a rate needs two samples from each pod, and with
// two pods 20 scrapes nearly always give them. Gauges keep each pod's last value for 2 minutes: 8 scrapes
// miss one of two pods 1 time in 128, where 1 minute (4 scrapes) would miss one 1 time in 8.
const RATE_WINDOW = "5m";
const GAUGE_WINDOW = "2m";
const SERVICE = `job="fastapi", environment="$environment"`;
/** The label of the series the pods job scrapes through the Kubernetes API (monitoring/prometheus.yml). */
const THROUGH_KUBERNETES_API = `via="kubernetes-api"`;
const REQUESTS = "starlette_requests_total";
const DURATION_BUCKETS = "starlette_request_duration_seconds_bucket";

/**
 * `fn(metric[window])` over the service's series, with each pod counted once: where both the pods job and the
 * load balancer's job reach a pod, `or on (environment, pod)` keeps the pods job's series of that pod and drops
 * the load balancer's.
 */
const eachPodOnce = (fn: string, metric: string, window: string, extraMatchers = ""): string =>
    `${fn}(${metric}{${SERVICE}, ${THROUGH_KUBERNETES_API}${extraMatchers}}[${window}]) or on (environment, pod) ` +
    `${fn}(${metric}{${SERVICE}${extraMatchers}}[${window}])`;
const rates = (metric: string, extraMatchers = ""): string => eachPodOnce("rate", metric, RATE_WINDOW, extraMatchers);

const requestRate = (extraMatchers = ""): string => `sum(${rates(REQUESTS, extraMatchers)})`;

const ERROR_RATIO_5XX = `${requestRate(`, status_code=~"5.."`)} / ${requestRate()}`;
const ERROR_RATIO_4XX = `${requestRate(`, status_code=~"4.."`)} / ${requestRate()}`;

const latencyQuantile = (quantile: number): string =>
    `histogram_quantile(${quantile}, sum by (le) (${rates(DURATION_BUCKETS)}))`;

const perPodGauge = (metric: string): string => `sum by (pod) (${eachPodOnce("last_over_time", metric, GAUGE_WINDOW)})`;

/** A panel's queries, each as [PromQL, legend], with the refIds A, B, C... that Grafana expects. */
function queries(...specs: [expr: string, legend: string][]): DataqueryBuilder[] {
    return specs.map(([expr, legendFormat], index) =>
        new DataqueryBuilder()
            .refId(String.fromCharCode("A".charCodeAt(0) + index))
            .datasource(PROMETHEUS_DATASOURCE)
            .expr(expr)
            .legendFormat(legendFormat)
            .range(),
    );
}

function legend(): VizLegendOptionsBuilder {
    return new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.List)
        .placement(LegendPlacement.Bottom);
}

function timeseries(title: string, description: string, unit: string): TimeseriesPanelBuilder {
    return new TimeseriesPanelBuilder()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS_DATASOURCE)
        .unit(unit)
        .min(0)
        .legend(legend())
        .span(12)
        .height(8);
}

function stat(title: string, description: string, unit: string): StatPanelBuilder {
    return new StatPanelBuilder()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS_DATASOURCE)
        .unit(unit)
        .span(6)
        .height(5);
}

function thresholds(warning: number, critical: number): ThresholdsConfigBuilder {
    return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
        { value: null, color: "green" },
        { value: warning, color: "orange" },
        { value: critical, color: "red" },
    ]);
}

function environmentVariable(): QueryVariableBuilder {
    return new QueryVariableBuilder("environment")
        .label("Environment")
        .description("Which deployment to show: the Pulumi stack name, or local for docker compose.")
        .datasource(PROMETHEUS_DATASOURCE)
        .query(`label_values(up{job="fastapi"}, environment)`)
        .definition(`label_values(up{job="fastapi"}, environment)`)
        .refresh(VariableRefresh.OnDashboardLoad)
        .sort(VariableSort.AlphabeticalAsc);
}

function overviewRow(builder: DashboardBuilder): DashboardBuilder {
    return builder
        .withRow(new RowBuilder("Overview"))
        .withPanel(
            stat("Pods reporting", "Pods whose metrics reached Prometheus in the last 2 minutes.", "none")
                .targets(queries([`count(${perPodGauge("process_start_time_seconds")})`, "pods"]))
                .noValue("0")
                .thresholds(
                    new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
                        { value: null, color: "red" },
                        { value: 1, color: "orange" },
                        { value: 2, color: "green" },
                    ]),
                ),
        )
        .withPanel(
            stat("Request rate", "Requests per second over all pods.", "reqps")
                .targets(queries([requestRate(), "requests/s"]))
                .noValue("0"),
        )
        .withPanel(
            stat(
                "Error rate (5xx)",
                "Share of requests answered with a server error. The FastAPIHighErrorRatio alert fires above 5 % for 5 minutes.",
                "percentunit",
            )
                .targets(queries([ERROR_RATIO_5XX, "5xx"]))
                .noValue("0")
                .thresholds(thresholds(0.01, 0.05)),
        )
        .withPanel(
            stat(
                "p95 latency",
                "95th percentile of request duration over all pods. The FastAPIHighLatencyP95 alert fires above 500 ms for 10 minutes.",
                "s",
            )
                .targets(queries([latencyQuantile(0.95), "p95"]))
                .thresholds(thresholds(0.25, 0.5)),
        );
}

function trafficRow(builder: DashboardBuilder): DashboardBuilder {
    return builder
        .withRow(new RowBuilder("Traffic"))
        .withPanel(
            timeseries("Request rate", "Requests per second, all pods together and per pod.", "reqps").targets(
                queries([requestRate(), "all pods"], [`sum by (pod) (${rates(REQUESTS)})`, "{{pod}}"]),
            ),
        )
        .withPanel(
            timeseries(
                "Error rate",
                "Share of requests answered with a server error (5xx) or a client error (4xx).",
                "percentunit",
            )
                .targets(queries([ERROR_RATIO_5XX, "5xx"], [ERROR_RATIO_4XX, "4xx"]))
                .noValue("0"),
        )
        .withPanel(
            timeseries(
                "Requests by route and status",
                "Requests per second for each route template, method and status code.",
                "reqps",
            ).targets(
                queries([
                    `sum by (method, path, status_code) (${rates(REQUESTS)})`,
                    "{{method}} {{path}} {{status_code}}",
                ]),
            ),
        )
        .withPanel(
            timeseries(
                "In-progress requests",
                "Requests being handled, per pod, as each pod last reported it within 2 minutes.",
                "short",
            ).targets(queries([perPodGauge("starlette_requests_in_progress"), "{{pod}}"])),
        );
}

function latencyRow(builder: DashboardBuilder): DashboardBuilder {
    return builder
        .withRow(new RowBuilder("Latency"))
        .withPanel(
            timeseries("Latency percentiles", "p50, p95 and p99 of request duration over all pods.", "s").targets(
                queries([latencyQuantile(0.5), "p50"], [latencyQuantile(0.95), "p95"], [latencyQuantile(0.99), "p99"]),
            ),
        )
        .withPanel(
            timeseries(
                "p95 latency by route",
                "95th percentile of request duration for each route template.",
                "s",
            ).targets(
                queries([`histogram_quantile(0.95, sum by (path, le) (${rates(DURATION_BUCKETS)}))`, "{{path}}"]),
            ),
        );
}

function resourcesRow(builder: DashboardBuilder): DashboardBuilder {
    return builder
        .withRow(new RowBuilder("Process resources"))
        .withPanel(
            timeseries(
                "CPU",
                "CPU used by each pod's service process, in cores (the pod's limit is 0.5).",
                "short",
            ).targets(queries([`sum by (pod) (${rates("process_cpu_seconds_total")})`, "{{pod}}"])),
        )
        .withPanel(
            timeseries(
                "Memory",
                "Resident memory of each pod's service process (the pod's limit is 512 MiB).",
                "bytes",
            ).targets(queries([perPodGauge("process_resident_memory_bytes"), "{{pod}}"])),
        );
}

export function fastapiServiceDashboard(): Dashboard {
    const builder = new DashboardBuilder("FastAPI service")
        .uid(DASHBOARD_UID)
        .description("Traffic, errors, latency and resources of the fastapi-app service, summed over its pods.")
        .tags(["fastapi-app", "generated"])
        .editable()
        .tooltip(DashboardCursorSync.Crosshair)
        .refresh("30s")
        .time({ from: "now-1h", to: "now" })
        .timezone("browser")
        .withVariable(environmentVariable());
    return [overviewRow, trafficRow, latencyRow, resourcesRow]
        .reduce((dashboard, addRow) => addRow(dashboard), builder)
        .build();
}
