// Shared by the workload's objects and the monitoring.
export const APP_LABELS = { app: "fastapi" };
export const MIGRATION_LABELS = { app: "fastapi-migrate" };
export const CONTAINER_PORT = 8000;
/** /metrics without a token: the API server's proxy forwards none. */
export const METRICS_PORT = 9000;
export const METRICS_SCRAPER = "fastapi-metrics-scraper";
export const TOKENS_SECRET = "fastapi-tokens";
