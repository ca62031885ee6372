"""The database engine: driver selection, pool bounds and timeouts."""

import logging
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from types import EllipsisType
from typing import Any

import asyncpg
from sqlalchemy import URL, Select, make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from fastapi_app.admission import Admission
from fastapi_app.errors import DATABASE_ERRORS
from fastapi_app.models import metadata
from fastapi_app.settings import READINESS_POOL_SIZE, Settings
from fastapi_app.tls import TLS_PARAMETERS, tls_argument

logger = logging.getLogger(__name__)

# Every `alembic upgrade` takes this PostgreSQL advisory lock; any constant works if all use the same.
MIGRATION_LOCK_KEY = 0x66617374617069  # "fastapi" in ASCII

_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+asyncpg"}


def async_url(plain_url: str) -> URL:
    """Turn the postgresql:// URL users and the cluster Secret give into one for the asyncpg driver."""
    url = make_url(plain_url)
    if url.drivername not in _POSTGRES_SCHEMES:
        raise ValueError(f"DATABASE_URL must start with postgresql://, not {url.drivername}://")
    # Whatever else the URL's query holds would reach asyncpg.connect() as a keyword argument and fail
    # every request; refuse it at start-up instead. The timeouts are settings of their own (DB_*).
    unsupported = sorted(set(url.query) - TLS_PARAMETERS)
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


def logged_secrets(settings: Settings) -> list[str]:
    """What logging redacts: the database password and every API and metrics token."""
    return [database_password(settings), *settings.api_token_list(), *settings.metrics_token_list()]


def _engine(
    settings: Settings,
    *,
    tls: DatabaseTls | EllipsisType,
    application_name: str,
    pool_size: int,
    max_overflow: int,
    pool_timeout: float,
    pool_pre_ping: bool,
    connect_timeout: float,
    command_timeout: float | None,
    statement_timeout: float | None,
    autocommit: bool,
) -> AsyncEngine:
    url = database_url(settings)
    # Every request runs one statement (an INSERT, UPDATE or DELETE with RETURNING is atomic alone, a list
    # page carries its total): autocommit saves BEGIN and COMMIT, and a connection coming back to the pool
    # has no transaction to roll back.
    transactions: dict[str, Any] = (
        {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if autocommit else {}
    )
    if url.get_backend_name() == "sqlite":
        return create_async_engine(url, **transactions)
    if isinstance(tls, EllipsisType):
        tls = database_tls(settings)
    server_settings = {"application_name": application_name}
    if statement_timeout is not None:
        server_settings["statement_timeout"] = str(int(statement_timeout * 1000))
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_recycle=settings.db_pool_recycle,
        pool_pre_ping=pool_pre_ping,
        **transactions,
        connect_args={
            "timeout": connect_timeout,
            "command_timeout": command_timeout,
            "server_settings": server_settings,
            "ssl": tls,
        },
    )


def create_engine(
    settings: Settings, *, for_migrations: bool = False, tls: DatabaseTls | EllipsisType = ...
) -> AsyncEngine:
    """`tls` is database_tls(settings); when not given, it is computed from the settings."""
    # Migrations may legitimately run long (and wait for the advisory lock); requests may not.
    return _engine(
        settings,
        tls=tls,
        application_name="fastapi-app",
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_pre_ping=settings.db_pool_pre_ping,
        connect_timeout=settings.db_connect_timeout,
        command_timeout=None if for_migrations else settings.db_statement_timeout + 1,
        statement_timeout=None if for_migrations else settings.db_statement_timeout,
        # A migration's DDL runs in one transaction: all of it or none.
        autocommit=not for_migrations,
    )


def create_probe_engine(settings: Settings, *, tls: DatabaseTls) -> AsyncEngine:
    """One connection for /ready, tested before each use so that a database restart fails no probe."""
    timeout = settings.readiness_timeout
    return _engine(
        settings,
        tls=tls,
        application_name="fastapi-app-readiness",
        pool_size=READINESS_POOL_SIZE,
        max_overflow=0,
        pool_timeout=timeout,
        pool_pre_ping=True,
        connect_timeout=timeout,
        command_timeout=timeout,
        statement_timeout=timeout,
        autocommit=True,
    )


class ReadStatement:
    """A constant SELECT, run on PostgreSQL by the pooled connection's asyncpg connection itself.

    SQLAlchemy compiles it once, on first use, to the SQL it would send anyway. Executing it through
    SQLAlchemy costs more CPU than asyncpg's whole round trip: the compiled-cache lookup, the execution
    context, the greenlet bridge and a Row per row (measured in-process: about 120 µs more for GET item,
    260 µs more for a page of 100). The connection still comes from the engine's pool, through admission,
    with the engine's timeouts and TLS. The SQLite development database runs the statement through SQLAlchemy.
    """

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        # The SQL and its parameters' names in $1, $2, ... order.
        self._compiled: tuple[str, tuple[str, ...]] | None = None

    async def rows(self, connection: AsyncConnection, **parameters: Any) -> Sequence[Sequence[Any]]:
        """The result's rows, each a sequence of the selected columns' values in order."""
        if connection.dialect.driver != "asyncpg":
            return (await connection.execute(self.statement, parameters)).all()
        if self._compiled is None:
            compiled = self.statement.compile(dialect=connection.dialect)
            self._compiled = str(compiled), tuple(compiled.positiontup or ())
        sql, names = self._compiled
        driver = await _asyncpg_connection(connection)
        try:
            rows: Sequence[Sequence[Any]] = await driver.fetch(sql, *(parameters[name] for name in names))
        except (asyncpg.InterfaceError, asyncpg.InternalClientError):
            # Failed in the client: the connection's state is unknown (a server that went away may not have
            # been noticed yet); the pool replaces it, as SQLAlchemy does after a disconnect.
            await connection.invalidate()
            raise
        return rows


async def _asyncpg_connection(connection: AsyncConnection) -> Any:
    """The asyncpg connection under a pooled connection, never one the server has already closed.

    A restart or an idle timeout on the server side leaves closed connections in the pool, which asyncpg
    has noticed (the server said goodbye): one is replaced here, as SQLAlchemy's disconnect handling would
    have done after failing the request, so no request fails for it.
    """
    driver = connection.sync_connection.connection.driver_connection if connection.sync_connection else None
    if driver is None or driver.is_closed():
        await connection.invalidate()
        driver = (await connection.get_raw_connection()).driver_connection
    return driver


class DatabaseCertificateError(RuntimeError):
    """The database server's TLS certificate failed verification: no connection can succeed until fixed."""

    def __init__(self, url: URL, error: ssl.SSLCertVerificationError) -> None:
        # The server's host and port only: the URL holds the password.
        super().__init__(
            f"the TLS certificate of the database server {url.host}:{url.port or 5432} failed verification: "
            f"{error.verify_message}. sslrootcert in DATABASE_URL must name the CA bundle that signed it, "
            "and the host in DATABASE_URL must be a name on the certificate"
        )


class Database:
    """The engine (and its pool) one application instance uses for its whole life."""

    def __init__(self, settings: Settings) -> None:
        # Read once: it parses DATABASE_URL and reads the CA bundle; both engines use the same.
        tls = database_tls(settings)
        self.verifies_certificate = isinstance(tls, ssl.SSLContext)
        self.engine = create_engine(settings, tls=tls)
        # Requests take turns for the pool's connections here, so the pool itself never makes one wait.
        self.admission = Admission(settings.db_pool_size + settings.db_max_overflow, settings.db_pool_timeout)
        # Readiness has a connection of its own: requests that exhaust their pool under load must not
        # turn every pod unready at once while the database is healthy.
        self.probe_engine = create_probe_engine(settings, tls=tls)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def start(self) -> None:
        url = self.engine.url.render_as_string(hide_password=True)
        if self.is_sqlite:
            # No migration Job runs on a laptop, so the development database gets its tables here;
            # PostgreSQL's schema belongs to Alembic alone.
            logger.warning("DATABASE_URL is unset: using the development SQLite database %s", url)
            async with self.engine.begin() as connection:
                await connection.run_sync(metadata.create_all)
        else:
            logger.info("database %s", url)
            if self.verifies_certificate:
                await self._check_certificate()
            await self._open_pool()

    async def _check_certificate(self) -> None:
        """A certificate that fails verification fails every connection for good: stop and say why.

        An unreachable database is an outage, not a misconfiguration: the service starts anyway and
        stays unready until the database is back.
        """
        try:
            await self.ping()
        except ssl.SSLCertVerificationError as error:
            raise DatabaseCertificateError(self.engine.url, error) from None
        except Exception as error:
            # Whatever else fails (refused, timed out, starting up, even refused credentials) is what
            # readiness reports from now on, as it would for a database that fails later.
            logger.warning(
                "database check at start-up failed, staying unready until it passes: %s", type(error).__name__
            )

    async def _open_pool(self) -> None:
        """Opens the pool's connections before the first request: the first requests then cost what all
        later ones do (admission estimates waits from them), and none pays for opening a session."""
        async with AsyncExitStack() as opened:
            try:
                for _ in range(self.admission.slots):
                    await opened.enter_async_context(self.engine.connect())
            except DATABASE_ERRORS as error:
                # Not fatal: /ready reports the database, and requests open what is missing.
                logger.warning("could not open the connection pool at start: %s", type(error).__name__)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection in autocommit mode, once this request's turn has come."""
        async with self.admission.slot(), self.engine.connect() as connection:
            yield connection

    async def ping(self) -> None:
        async with self.probe_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def stop(self) -> None:
        await self.engine.dispose()
        await self.probe_engine.dispose()
