"""DATABASE_URL: which database, with what TLS, and the engine Alembic migrates it with. The service's
requests reach the database through fastapi_app.store."""

import json
import ssl
from importlib import resources
from typing import Literal

from sqlalchemy import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from fastapi_app.settings import MIGRATION_CONNECTIONS, Settings
from fastapi_app.tls import tls_argument

# Every `alembic upgrade` takes this PostgreSQL advisory lock; any constant works if all use the same.
MIGRATION_LOCK_KEY = 0x66617374617069  # "fastapi" in ASCII

# The stack's config check reads the same file, so a URL it accepts is one the service starts with.
_URL_RULES = json.loads(resources.files("fastapi_app").joinpath("database_url_rules.json").read_text())
_POSTGRES_SCHEMES = frozenset(_URL_RULES["schemes"])
_QUERY_PARAMETERS = frozenset(_URL_RULES["queryParameters"])


def async_url(plain_url: str) -> URL:
    """Turn the postgresql:// URL users and the cluster Secret give into one for the asyncpg driver."""
    url = make_url(plain_url)
    if url.drivername not in _POSTGRES_SCHEMES:
        raise ValueError(f"DATABASE_URL must start with postgresql://, not {url.drivername}://")
    # Whatever else the URL's query holds would reach asyncpg.connect() as a keyword argument and fail
    # every request; refuse it at start-up instead. The timeouts are settings of their own (DB_*).
    unsupported = sorted(set(url.query) - _QUERY_PARAMETERS)
    if unsupported:
        raise ValueError(
            f"DATABASE_URL has unsupported query parameter(s) {', '.join(unsupported)}: only sslmode and "
            "sslrootcert are understood; timeouts and pool sizes are DB_* settings"
        )
    # The TLS parameters become asyncpg's `ssl` argument (database_tls), not part of the URL.
    return url.set(drivername="postgresql+asyncpg", query={})


def database_url(settings: Settings) -> URL:
    if settings.database_url is None:
        return URL.create("sqlite+aiosqlite", database=str(settings.sqlite_path))
    return async_url(settings.database_url.get_secret_value())


# asyncpg's `ssl` argument: a verifying context, an sslmode that verifies nothing, or None for its default.
DatabaseTls = ssl.SSLContext | str | None


def database_tls(settings: Settings) -> DatabaseTls:
    """How the connections to PostgreSQL use TLS, from DATABASE_URL's sslmode and sslrootcert."""
    if settings.database_url is None:
        return None
    return tls_argument(make_url(settings.database_url.get_secret_value()).query)


def database_password(settings: Settings) -> str:
    """The password inside DATABASE_URL, so that logging can redact it; empty when there is none."""
    return database_url(settings).password or ""


def create_engine(settings: Settings, *, for_migrations: Literal[True]) -> AsyncEngine:
    """The engine Alembic migrates with (the only engine: `for_migrations` says so at the call site). No
    statement timeout: a migration may run long, and wait for the advisory lock."""
    url = database_url(settings)
    if url.get_backend_name() == "sqlite":
        return create_async_engine(url)
    return create_async_engine(
        url,
        pool_size=MIGRATION_CONNECTIONS,
        max_overflow=0,
        connect_args={
            "timeout": settings.db_connect_timeout,
            "server_settings": {"application_name": "fastapi-app"},
            "ssl": database_tls(settings),
        },
    )


class DatabaseCertificateError(RuntimeError):
    """The database server's TLS certificate failed verification: no connection can succeed until fixed."""

    def __init__(self, url: URL, error: ssl.SSLCertVerificationError) -> None:
        # The server's host and port only: the URL holds the password.
        super().__init__(
            f"the TLS certificate of the database server {url.host}:{url.port or 5432} failed verification: "
            f"{error.verify_message}. sslrootcert in DATABASE_URL must name the CA bundle that signed it, "
            "and the host in DATABASE_URL must be a name on the certificate"
        )
