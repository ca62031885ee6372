"""Every setting of the service, read once from environment variables."""

import re
import socket
import tempfile
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The per-pod connection budget. Each pod opens DB_POOL_SIZE + DB_MAX_OVERFLOW connections for requests
# and READINESS_POOL_SIZE for /ready; the migration Job opens MIGRATION_CONNECTIONS. At the HPA's maximum
# of 10 pods plus a rolling update's surge pod: 11 x (5 + 0 + 1) + 1 = 67 connections, inside the 100 of
# PostgreSQL's default max_connections and the roughly 80 or more of the smallest RDS class (db.t4g.micro).
DB_POOL_SIZE = 5
# Without overflow the pool is steady: no connection is opened and closed again under load.
DB_MAX_OVERFLOW = 0
READINESS_POOL_SIZE = 1
MIGRATION_CONNECTIONS = 1
# The admission deadline: the longest a request waits in line for a pooled connection.
DB_POOL_TIMEOUT = 5.0

# RFC 6750's token characters; at least 16 of them, so a token cannot be guessed by trying.
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]{16,512}=*")


def _token_list(value: SecretStr | None, name: str) -> list[str]:
    if value is None:
        return []
    tokens = [token.strip() for token in value.get_secret_value().split(",")]
    for position, token in enumerate(tokens, start=1):
        if not _TOKEN.fullmatch(token):
            # Names the position, never the value: the message reaches the log.
            raise ValueError(
                f"{name}: token {position} of {len(tokens)} is not 16-512 characters "
                "of A-Z a-z 0-9 - . _ ~ + /"
            )
    return tokens


# A rejected value never appears in the error: it may be a token or hold the database password.
SECRET_SAFE_SETTINGS = SettingsConfigDict(
    case_sensitive=False, extra="ignore", frozen=True, hide_input_in_errors=True
)


class Settings(BaseSettings):
    """Environment variables have the field's name in upper case (DATABASE_URL, DB_POOL_SIZE, ...)."""

    model_config = SECRET_SAFE_SETTINGS

    database_url: SecretStr | None = Field(
        default=None,
        description="postgresql://user:password@host:port/database; unset means the development SQLite file.",
    )
    sqlite_path: Path = Field(
        default=Path(tempfile.gettempdir()) / "fastapi-app.db",
        description="SQLite file used when DATABASE_URL is unset (development only).",
    )
    host: str = Field(default="0.0.0.0", description="Address the server listens on.")  # noqa: S104
    port: int = Field(default=8000, ge=1, le=65535, description="Port the server listens on.")
    metrics_port: int = Field(
        default=9000,
        ge=1,
        le=65535,
        description="Second port, on HOST, answering only GET /metrics, without a token; the load "
        "balancer never publishes it, and Prometheus reaches it through the Kubernetes API server's proxy.",
    )
    pod_name: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        description="Value of the `pod` label on every metric; Kubernetes sets it from metadata.name.",
    )
    log_level: str = Field(
        default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", description="Lowest level logged."
    )
    api_docs: bool = Field(
        default=False,
        description="Serve Swagger UI at /docs and ReDoc at /redoc (their JavaScript comes from a CDN); "
        "/openapi.json is always served.",
    )

    db_pool_size: int = Field(
        default=DB_POOL_SIZE, ge=1, le=50, description="Connections each pod keeps open for requests."
    )
    db_max_overflow: int = Field(
        default=DB_MAX_OVERFLOW,
        ge=0,
        le=50,
        description="Extra connections under bursts, each closed again when it comes back (churn).",
    )
    db_pool_timeout: float = Field(
        default=DB_POOL_TIMEOUT,
        gt=0,
        description="Seconds a request may wait in line for a connection; a request expected to wait "
        "longer is refused at once with 503 and Retry-After.",
    )
    db_connect_timeout: float = Field(default=3.0, gt=0, description="Seconds to open a connection.")
    db_statement_timeout: float = Field(
        default=5.0, gt=0, description="Seconds a statement may run (server side and client side)."
    )
    db_pool_recycle: int = Field(
        default=1800, ge=1, description="Seconds after which a pooled connection is replaced."
    )
    db_pool_pre_ping: bool = Field(
        default=False,
        description="Test each connection before use: no failed request after a database restart, "
        "at the price of one extra round trip per request. Off: a connection the server closed is "
        "replaced before use once the client has noticed; one not yet noticed fails one request with 503 "
        "and is replaced.",
    )
    readiness_timeout: float = Field(
        default=1.0,
        gt=0,
        description="Seconds /ready waits for SELECT 1, on its own connection outside the request pool.",
    )
    shutdown_timeout: int = Field(
        default=20, ge=1, description="Seconds in-flight requests get to finish after SIGTERM."
    )
    max_body_bytes: int = Field(
        default=65_536, ge=1024, description="Larger request bodies are rejected with 422."
    )
    max_header_bytes: int = Field(
        default=32_768,
        ge=1024,
        description="Largest request head (request line and headers) in bytes; a larger one is answered 431.",
    )
    max_headers: int = Field(default=100, ge=10, description="More request headers are answered 431.")
    header_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to receive a request's head once it has begun; then 408."
    )
    body_timeout: float = Field(
        default=10.0, gt=0, description="Seconds to receive a request's body after its head; then 408."
    )
    api_tokens: SecretStr | None = Field(
        default=None,
        description="Comma-separated bearer tokens, any of which allows writes (POST, PUT, PATCH, DELETE) "
        "to /api/; several at once so one can be rotated without downtime. Unset: writes are open "
        "(development only; the stack always sets them).",
    )
    api_reads_need_token: bool = Field(
        default=False, description="Reads of /api/ need one of API_TOKENS too (with API_TOKENS set)."
    )
    metrics_tokens: SecretStr | None = Field(
        default=None,
        description="Comma-separated bearer tokens, any of which allows reading /metrics. Unset: open.",
    )

    @field_validator("api_tokens", "metrics_tokens")
    @classmethod
    def _tokens_are_valid(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        _token_list(value, str(info.field_name).upper())
        return value

    @model_validator(mode="after")
    def _ports_differ(self) -> Self:
        if self.metrics_port == self.port:
            raise ValueError(f"METRICS_PORT must differ from PORT (both are {self.port})")
        return self

    def api_token_list(self) -> list[str]:
        return _token_list(self.api_tokens, "API_TOKENS")

    def metrics_token_list(self) -> list[str]:
        return _token_list(self.metrics_tokens, "METRICS_TOKENS")
