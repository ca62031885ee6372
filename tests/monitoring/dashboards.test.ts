import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, it } from "node:test";

import { parse } from "yaml";

import { renderDashboards } from "../../monitoring/grafana/generate";

const REPO = join(__dirname, "..", "..");
const DASHBOARD_FILE = join(REPO, "monitoring", "grafana", "dashboards", "fastapi-service.json");

interface Target {
    refId?: string;
    expr?: string;
    datasource?: { type?: string; uid?: string };
}

interface Panel {
    type: string;
    title: string;
    datasource?: { type?: string; uid?: string };
    targets?: Target[];
}

interface Dashboard {
    uid: string;
    title: string;
    panels: Panel[];
    templating: { list: { name: string; datasource?: { uid?: string } }[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as Dashboard;
const queryPanels = dashboard.panels.filter((panel) => panel.type !== "row");
const expressions = queryPanels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr ?? ""));

describe("generated dashboards", () => {
    it("match the committed JSON (run `npm run monitoring:dashboards` after changing the TypeScript)", () => {
        const rendered = renderDashboards();
        assert.ok(rendered.length > 0);
        for (const { path, json } of rendered) {
            assert.equal(readFileSync(path, "utf8"), json, `${relative(REPO, path)} is stale`);
        }
    });
});

describe("FastAPI service dashboard", () => {
    it("has the seed's panels and the ones an on-call engineer needs", () => {
        assert.equal(dashboard.title, "FastAPI service");
        assert.equal(dashboard.uid, "fastapi-service");
        const titles = queryPanels.map((panel) => panel.title);
        for (const title of [
            "Request rate",
            "p95 latency",
            "Error rate",
            "In-progress requests",
            "Latency percentiles",
            "Requests by route and status",
            "Pods reporting",
            "CPU",
            "Memory",
        ]) {
            assert.ok(titles.includes(title), `missing panel ${title}`);
        }
    });

    it("shows p50, p95 and p99 from buckets summed over pods", () => {
        for (const quantile of ["0.5", "0.95", "0.99"]) {
            assert.ok(
                expressions.includes(
                    `histogram_quantile(${quantile}, sum by (le) (` +
                        `rate(starlette_request_duration_seconds_bucket{job="fastapi", environment="$environment", via="kubernetes-api"}[5m]) ` +
                        `or on (environment, pod) rate(starlette_request_duration_seconds_bucket{job="fastapi", environment="$environment"}[5m])))`,
                ),
                `no p${Number(quantile) * 100} query`,
            );
        }
    });

    it("queries only the provisioned Prometheus datasource, with a refId on every query", () => {
        const provisioned = parse(
            readFileSync(join(REPO, "monitoring", "grafana", "provisioning", "datasources", "prometheus.yml"), "utf8"),
        ) as { datasources: { uid: string; type: string }[] };
        const [{ uid, type }] = provisioned.datasources;
        for (const panel of queryPanels) {
            assert.deepEqual(panel.datasource, { type, uid }, panel.title);
            assert.ok((panel.targets ?? []).length > 0, `${panel.title} has no query`);
            for (const target of panel.targets ?? []) {
                assert.deepEqual(target.datasource, { type, uid }, panel.title);
                assert.match(target.refId ?? "", /^[A-Z]$/, panel.title);
            }
        }
        for (const variable of dashboard.templating.list) {
            assert.equal(variable.datasource?.uid, uid, variable.name);
        }
    });

    it("aggregates every query over pods, so no panel shows only the pod that answered the last scrape", () => {
        for (const expr of expressions) {
            assert.match(expr, /^(sum|count|histogram_quantile)\(|^sum by \(/, expr);
            assert.match(expr, /environment="\$environment"/, expr);
            for (const selector of expr.matchAll(/([a-z_]+)\{[^}]*\}(\[[0-9]+m\])?/g)) {
                assert.ok(selector[2] !== undefined, `instant selector ${selector[0]} in ${expr}`);
            }
        }
    });
});

describe("FastAPI service dashboard, when both jobs reach the same pod", () => {
    // Pod a is scraped by both jobs, b only through the load balancer, c only through the Kubernetes API.
    // Requests per second: a 0.75 answered 200 and 0.25 answered 503 (all 0.5-1 s), b 3 (200, under 0.25 s),
    // c 0.5 answered 200 and 0.5 answered 404 (under 0.25 s): 5 in all, once each. Counting a twice would give 6.
    const THROUGH_KUBERNETES_API = { via: "kubernetes-api" };
    const THROUGH_LOAD_BALANCER = { instance: "lb.example.com:80", cluster: "fastapi-app-cluster" };
    const scrapes: Record<string, Record<string, string>[]> = {
        a: [{ ...THROUGH_KUBERNETES_API, instance: "a" }, THROUGH_LOAD_BALANCER],
        b: [THROUGH_LOAD_BALANCER],
        c: [{ ...THROUGH_KUBERNETES_API, instance: "c" }],
    };
    const ROUTE = { method: "GET", path: "/api/v1/items" };
    /** A series of a pod: its metric, its labels, and its increase per minute (a counter) or its value (a gauge). */
    type Series = [metric: string, labels: Record<string, string>, value: { counter?: number; gauge?: number }];
    const bucket = (le: string, perMinute: number): Series => [
        "starlette_request_duration_seconds_bucket",
        { ...ROUTE, status_code: "200", le },
        { counter: perMinute },
    ];
    const series: Record<string, Series[]> = {
        a: [
            ["starlette_requests_total", { ...ROUTE, status_code: "200" }, { counter: 45 }],
            ["starlette_requests_total", { ...ROUTE, status_code: "503" }, { counter: 15 }],
            bucket("0.25", 0),
            bucket("0.5", 0),
            bucket("1", 60),
            bucket("+Inf", 60),
            ["starlette_requests_in_progress", { method: "GET" }, { gauge: 2 }],
            ["process_cpu_seconds_total", {}, { counter: 15 }],
            ["process_resident_memory_bytes", {}, { gauge: 104857600 }],
            ["process_start_time_seconds", {}, { gauge: 1000 }],
        ],
        b: [
            ["starlette_requests_total", { ...ROUTE, status_code: "200" }, { counter: 180 }],
            ...["0.25", "0.5", "1", "+Inf"].map((le) => bucket(le, 180)),
            ["starlette_requests_in_progress", { method: "GET" }, { gauge: 1 }],
            ["process_cpu_seconds_total", {}, { counter: 30 }],
            ["process_resident_memory_bytes", {}, { gauge: 209715200 }],
            ["process_start_time_seconds", {}, { gauge: 1000 }],
        ],
        c: [
            ["starlette_requests_total", { ...ROUTE, status_code: "200" }, { counter: 30 }],
            ["starlette_requests_total", { ...ROUTE, status_code: "404" }, { counter: 30 }],
            ...["0.25", "0.5", "1", "+Inf"].map((le) => bucket(le, 60)),
            ["starlette_requests_in_progress", { method: "GET" }, { gauge: 0 }],
            ["process_cpu_seconds_total", {}, { counter: 15 }],
            ["process_resident_memory_bytes", {}, { gauge: 52428800 }],
            ["process_start_time_seconds", {}, { gauge: 1000 }],
        ],
    };
    const perPod = (a: number, b: number, c: number): [Record<string, string>, number][] => [
        [{ pod: "a" }, a],
        [{ pod: "b" }, b],
        [{ pod: "c" }, c],
    ];
    const expected: Record<string, [Record<string, string>, number][]> = {
        "Pods reporting / A": [[{}, 3]],
        "Request rate / A": [[{}, 5]],
        "Request rate / B": perPod(1, 3, 1),
        "Error rate (5xx) / A": [[{}, 0.05]],
        "Error rate / A": [[{}, 0.05]],
        "Error rate / B": [[{}, 0.1]],
        "p95 latency / A": [[{}, 0.875]],
        "Requests by route and status / A": [
            [{ ...ROUTE, status_code: "200" }, 4.25],
            [{ ...ROUTE, status_code: "404" }, 0.5],
            [{ ...ROUTE, status_code: "503" }, 0.25],
        ],
        "In-progress requests / A": perPod(2, 1, 0),
        "Latency percentiles / A": [[{}, 0.15625]],
        "Latency percentiles / B": [[{}, 0.875]],
        // Rank 4.95 of 5 requests/s, interpolated within the (0.5, 1] bucket as histogram_quantile does.
        "Latency percentiles / C": [[{}, 0.5 + (1 - 0.5) * ((0.99 * 5 - 4) / (5 - 4))]],
        "p95 latency by route / A": [[{ path: ROUTE.path }, 0.875]],
        "CPU / A": perPod(0.25, 0.5, 0.25),
        "Memory / A": perPod(104857600, 209715200, 52428800),
    };

    const selector = (labels: Record<string, string>): string =>
        `{${Object.entries(labels)
            .map(([name, value]) => `${name}="${value}"`)
            .join(", ")}}`;

    it("counts that pod once in every panel (promtool evaluates each query)", () => {
        const inputSeries = Object.entries(series).flatMap(([pod, metrics]) =>
            scrapes[pod].flatMap((scrape) =>
                metrics.map(([metric, labels, { counter, gauge }]) => ({
                    series: `${metric}${selector({ job: "fastapi", environment: "dev", namespace: "fastapi-app", ...scrape, app_name: "fastapi-app", pod, ...labels })}`,
                    values: gauge === undefined ? `0+${counter}x30` : `${gauge}x30`,
                })),
            ),
        );
        const queries = new Map(
            queryPanels.flatMap((panel) =>
                (panel.targets ?? []).map((target): [string, string] => [
                    `${panel.title} / ${target.refId}`,
                    target.expr ?? "",
                ]),
            ),
        );
        assert.deepEqual(
            [...queries.keys()].sort(),
            Object.keys(expected).sort(),
            "every query of the dashboard has an expectation here",
        );
        const promqlTests = [...queries].map(([name, expr]) => ({
            expr: expr.replaceAll("$environment", "dev"),
            eval_time: "20m",
            exp_samples: expected[name].map(([labels, value]) => ({ labels: selector(labels), value })),
        }));
        const dir = mkdtempSync(join(tmpdir(), "dashboard-promql-"));
        try {
            const file = join(dir, "dashboard.test.yml");
            writeFileSync(
                file,
                JSON.stringify({
                    rule_files: [],
                    evaluation_interval: "1m",
                    tests: [{ interval: "1m", input_series: inputSeries, promql_expr_test: promqlTests }],
                }),
            );
            const result = spawnSync("promtool", ["test", "rules", file], { encoding: "utf8" });
            assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
