"""The service's own role, made by the migration Job (`python -m fastapi_app.migrate`) on a real PostgreSQL:
created once, its password set on every run, able to do what the service does and nothing more."""

import base64
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import make_url

from alembic_runner import APP_DIR
from fastapi_app.main import create_app
from fastapi_app.service_role import ServiceRole, prepare_service_role, scram_verifier
from support.app import serve, settings_for
from test_stores import _operations


def _url_as(database_url: str, role: ServiceRole) -> str:
    url = make_url(database_url).set(username=role.name, password=role.password)
    return url.render_as_string(hide_password=False)


def migrate_job(database_url: str, role: ServiceRole | None) -> subprocess.CompletedProcess[str]:
    """The migration Job's command, with its two URLs (one in external mode)."""
    environment = {**os.environ, "DATABASE_URL": database_url}
    if role is not None:
        environment["SERVICE_DATABASE_URL"] = _url_as(database_url, role)
    return subprocess.run(
        [sys.executable, "-m", "fastapi_app.migrate"],
        cwd=APP_DIR,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def run_job(database_url: str, role: ServiceRole) -> str:
    result = migrate_job(database_url, role)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


@pytest.fixture
async def role(empty_database: str) -> AsyncIterator[ServiceRole]:
    """A role name of this test's own (roles are the server's, not the database's), dropped afterwards."""
    made = ServiceRole(f"fastapi_app_{secrets.token_hex(4)}", secrets.token_urlsafe(24))
    yield made
    admin = await asyncpg.connect(empty_database)
    try:
        if await admin.fetchval("SELECT count(*) = 1 FROM pg_roles WHERE rolname = $1", made.name):
            await admin.execute(f'DROP OWNED BY "{made.name}"')
            await admin.execute(f'DROP ROLE "{made.name}"')
    finally:
        await admin.close()


async def _fails_as(url: str, statement: str) -> type[Exception]:
    connection = await asyncpg.connect(url)
    try:
        with pytest.raises(asyncpg.PostgresError) as error:
            await connection.execute(statement)
        return type(error.value)
    finally:
        await connection.close()


async def test_the_job_makes_a_login_role_with_no_other_attribute(
    empty_database: str, role: ServiceRole
) -> None:
    output = run_job(empty_database, role)

    admin = await asyncpg.connect(empty_database)
    try:
        attributes = await admin.fetchrow(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,"
            " rolpassword LIKE 'SCRAM-SHA-256$%' AS scram FROM pg_authid WHERE rolname = $1",
            role.name,
        )
        memberships = await admin.fetchval(
            "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = $1",
            role.name,
        )
    finally:
        await admin.close()
    assert dict(attributes) == {
        "rolcanlogin": True,
        "rolsuper": False,
        "rolcreaterole": False,
        "rolcreatedb": False,
        "rolreplication": False,
        "rolbypassrls": False,
        "scram": True,
    }
    assert memberships == 0
    assert role.password not in output


async def test_the_role_runs_every_store_operation_as_the_owner_does(
    empty_database: str, role: ServiceRole
) -> None:
    run_job(empty_database, role)

    async for client in serve(create_app(settings_for(_url_as(empty_database, role)))):
        as_service = await _operations(client)
    admin = await asyncpg.connect(empty_database)
    try:
        await admin.execute("TRUNCATE items RESTART IDENTITY")
    finally:
        await admin.close()
    async for client in serve(create_app(settings_for(empty_database))):
        as_owner = await _operations(client)

    assert as_service == as_owner
    assert {status for status, _, _ in as_service} == {200, 201, 204, 404, 409}


async def test_a_second_run_is_idempotent_and_a_new_password_takes_effect_for_new_connections(
    empty_database: str, role: ServiceRole
) -> None:
    run_job(empty_database, role)
    open_before = await asyncpg.connect(_url_as(empty_database, role))
    rotated = role._replace(password=secrets.token_urlsafe(24))
    try:
        output = run_job(empty_database, rotated)
        assert rotated.password not in output
        assert role.password not in output
        # PostgreSQL checks a password when a connection opens: the open one keeps working.
        assert await open_before.fetchval("SELECT count(*) FROM items") == 0
    finally:
        await open_before.close()

    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(_url_as(empty_database, role))
    connection = await asyncpg.connect(_url_as(empty_database, rotated))
    try:
        assert await connection.fetchval("SELECT count(*) FROM items") == 0
    finally:
        await connection.close()


async def test_the_role_cannot_change_the_schema_read_migrations_or_other_schemas(
    empty_database: str, role: ServiceRole
) -> None:
    run_job(empty_database, role)
    admin = await asyncpg.connect(empty_database)
    try:
        await admin.execute("CREATE SCHEMA private; CREATE TABLE private.notes (body text)")
    finally:
        await admin.close()
    as_service = _url_as(empty_database, role)

    denied = asyncpg.InsufficientPrivilegeError
    assert await _fails_as(as_service, "CREATE TABLE public.mine (id int)") is denied
    assert await _fails_as(as_service, "DROP TABLE items") is denied
    assert await _fails_as(as_service, "ALTER TABLE items ADD COLUMN extra int") is denied
    assert await _fails_as(as_service, "TRUNCATE items") is denied
    assert await _fails_as(as_service, "CREATE SCHEMA mine") is denied
    assert await _fails_as(as_service, "SELECT * FROM private.notes") is denied
    assert await _fails_as(as_service, "SELECT * FROM alembic_version") is denied
    assert await _fails_as(as_service, "UPDATE alembic_version SET version_num = 'x'") is denied


async def test_a_table_a_later_migration_creates_is_the_roles_through_default_privileges(
    empty_database: str, role: ServiceRole
) -> None:
    run_job(empty_database, role)
    admin = await asyncpg.connect(empty_database)
    try:
        # As a later migration would, by the migrating role, with no grant of its own.
        await admin.execute(
            "CREATE TABLE tags (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text)"
        )
    finally:
        await admin.close()

    connection = await asyncpg.connect(_url_as(empty_database, role))
    try:
        assert await connection.fetchval("INSERT INTO tags (label) VALUES ('new') RETURNING id") == 1
        await connection.execute("UPDATE tags SET label = 'renamed'")
        assert await connection.fetchval("SELECT label FROM tags") == "renamed"
        await connection.execute("DELETE FROM tags")
    finally:
        await connection.close()


async def test_preparing_twice_in_one_database_changes_nothing_but_the_password(
    empty_database: str, role: ServiceRole
) -> None:
    admin = await asyncpg.connect(empty_database)
    try:
        await prepare_service_role(admin, role)
        default_acl = await admin.fetch(
            "SELECT defaclobjtype, defaclacl::text FROM pg_default_acl ORDER BY 1"
        )
        await prepare_service_role(admin, role)
        assert await admin.fetch("SELECT defaclobjtype, defaclacl::text FROM pg_default_acl ORDER BY 1") == (
            default_acl
        )
    finally:
        await admin.close()
    assert len(default_acl) == 2


async def test_the_verifier_is_the_one_postgresql_computes_for_the_same_salt(
    empty_database: str, role: ServiceRole
) -> None:
    admin = await asyncpg.connect(empty_database)
    try:
        await admin.execute("SET password_encryption = 'scram-sha-256'")
        await admin.execute(f"CREATE ROLE \"{role.name}\" LOGIN PASSWORD '{role.password}'")
        stored: str = await admin.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", role.name)
    finally:
        await admin.close()
    iterations, salt = stored.removeprefix("SCRAM-SHA-256$").split("$")[0].split(":")
    assert scram_verifier(role.password, salt=base64.b64decode(salt), iterations=int(iterations)) == stored


def test_a_job_without_a_password_in_the_service_url_is_refused(empty_database: str) -> None:
    result = migrate_job(empty_database, ServiceRole("fastapi_app", ""))
    assert result.returncode != 0
    assert "SERVICE_DATABASE_URL must name a user and a password" in result.stderr


async def test_without_a_service_url_the_job_only_migrates(empty_database: str) -> None:
    result = migrate_job(empty_database, None)
    assert result.returncode == 0, result.stdout + result.stderr
    admin = await asyncpg.connect(empty_database)
    try:
        assert await admin.fetchval("SELECT version_num FROM alembic_version") == "0001"
        assert await admin.fetchval("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'fastapi_app%'") == 0
    finally:
        await admin.close()
