// The names, labels and ports the workload's objects share, and the monitoring reads.
export const APP_LABELS = { app: "fastapi" };
export const MIGRATION_LABELS = { app: "fastapi-migrate" };
export const CONTAINER_PORT = 8000;
/** /metrics without a token, for scrapes through the API server's proxy, which never forwards a bearer token. */
export const METRICS_PORT = 9000;
export const METRICS_SCRAPER = "fastapi-metrics-scraper";
export const TOKENS_SECRET = "fastapi-tokens";
