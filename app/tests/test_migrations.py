"""Alembic: upgrade from empty, downgrade to base, upgrade again, concurrent upgrades queued on the lock,
models in step."""

import asyncio
from typing import Any

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from alembic_runner import ALEMBIC, APP_DIR, alembic, alembic_environment
from fastapi_app.db import MIGRATION_LOCK_KEY, create_engine
from fastapi_app.models import metadata
from support.app import settings_for


async def tables(database_url: str) -> set[str]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row["tablename"] for row in rows}
    finally:
        await connection.close()


async def version(database_url: str) -> list[str]:
    connection = await asyncpg.connect(database_url)
    try:
        return [
            row["version_num"] for row in await connection.fetch("SELECT version_num FROM alembic_version")
        ]
    finally:
        await connection.close()


def run_ok(database_url: str, *args: str) -> None:
    result = alembic(database_url, *args)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    run_ok(empty_database, "upgrade", "head")
    assert await tables(empty_database) == {"alembic_version", "items"}
    run_ok(empty_database, "upgrade", "head")

    run_ok(empty_database, "downgrade", "base")
    assert await tables(empty_database) == {"alembic_version"}

    run_ok(empty_database, "upgrade", "head")
    assert await tables(empty_database) == {"alembic_version", "items"}
    assert await version(empty_database) == ["0001"]


async def start_upgrade(database_url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *ALEMBIC,
        "upgrade",
        "head",
        cwd=APP_DIR,
        env=alembic_environment(database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def finish(run: asyncio.subprocess.Process) -> str:
    output, _ = await asyncio.wait_for(run.communicate(), timeout=60)
    return output.decode()


async def test_concurrent_upgrades_wait_for_the_migration_lock_and_take_turns(empty_database: str) -> None:
    holder = await asyncpg.connect(empty_database)
    await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    runs = [await start_upgrade(empty_database) for _ in range(2)]
    try:
        waiting = 0
        for _ in range(200):
            waiting = await holder.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            )
            if waiting == len(runs):
                break
            await asyncio.sleep(0.1)
        assert waiting == len(runs), "the upgrades never both queued for the advisory lock"
        assert [run.returncode for run in runs] == [None, None]
        assert await tables(empty_database) == set()
    finally:
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        await holder.close()

    outputs = await asyncio.gather(*(finish(run) for run in runs))
    assert [run.returncode for run in runs] == [0, 0], "\n".join(outputs)
    assert sum("Running upgrade  -> 0001" in output for output in outputs) == 1
    assert await version(empty_database) == ["0001"]


def _differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


async def test_migrations_build_exactly_the_models_schema(migrated_url: str) -> None:
    engine = create_engine(settings_for(migrated_url), for_migrations=True)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()

    assert differences == []


def test_offline_mode_is_refused(database_url: str) -> None:
    result = alembic(database_url, "upgrade", "head", "--sql")
    assert result.returncode != 0
    assert "offline" in result.stderr
