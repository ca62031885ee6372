import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
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
          `histogram_quantile(${quantile}, sum by (le) (rate(starlette_request_duration_seconds_bucket{job="fastapi", environment="$environment"}[5m])))`,
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
