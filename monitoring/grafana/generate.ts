/**
 * Writes the provisioned dashboards as JSON. Run after editing a dashboard's TypeScript:
 *   npm run monitoring:dashboards
 * The JSON is committed so Grafana can load it without Node.js; a test fails when it is stale.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import { fastapiServiceDashboard } from "./fastapi-dashboard";

const DASHBOARDS_DIR = join(__dirname, "dashboards");

export interface RenderedDashboard {
    path: string;
    json: string;
}

export function renderDashboards(): RenderedDashboard[] {
    return [
        {
            path: join(DASHBOARDS_DIR, "fastapi-service.json"),
            json: `${JSON.stringify(fastapiServiceDashboard(), null, 2)}\n`,
        },
    ];
}

if (require.main === module) {
    for (const { path, json } of renderDashboards()) {
        writeFileSync(path, json);
        console.log(`wrote ${path}`);
    }
}
