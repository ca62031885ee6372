"""Items API on PostgreSQL with health, readiness and Prometheus metrics."""
