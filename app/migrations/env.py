"""Alembic environment: migrates the database in DATABASE_URL, one migrator at a time."""

import asyncio
import ssl
from logging.config import fileConfig

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from fastapi_app.db import MIGRATION_LOCK_KEY, DatabaseCertificateError, create_engine
from fastapi_app.models import metadata
from fastapi_app.settings import Settings

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Held until this transaction ends: a second `alembic upgrade head` started at the same
            # time (two deploys, a retried Job) waits here, then finds nothing left to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


async def _migrate_online() -> None:
    engine = create_engine(Settings(), for_migrations=True)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
    except ssl.SSLCertVerificationError as error:
        raise DatabaseCertificateError(engine.url, error) from None
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run against the database")
asyncio.run(_migrate_online())
