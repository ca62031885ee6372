"""The service's own PostgreSQL role, made by the migration Job with the migrator's credentials: it may log in
and read and write the rows of the public schema's tables, and nothing else (docs/security.md)."""

import base64
import hashlib
import hmac
import logging
import secrets
from typing import NamedTuple

import asyncpg
from sqlalchemy import make_url

from fastapi_app.db import MIGRATION_LOCK_KEY

logger = logging.getLogger("fastapi_app.service_role")

# What fastapi_app.store does with the items: no TRUNCATE, REFERENCES or TRIGGER, no DDL.
TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_PRIVILEGES = "USAGE, SELECT"
MIGRATIONS_TABLE = "alembic_version"
SCHEMA = "public"
# PostgreSQL's own default (scram_iterations); the client computes the verifier as psql's \password does.
SCRAM_ITERATIONS = 4096


class ServiceRole(NamedTuple):
    name: str
    password: str


def service_role(service_url: str) -> ServiceRole:
    """The role and password the service connects with, read from its DATABASE_URL."""
    url = make_url(service_url)
    if not url.username or not url.password:
        raise ValueError("SERVICE_DATABASE_URL must name a user and a password")
    return ServiceRole(url.username, url.password)


def scram_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores (RFC 7677): the server never sees the password."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


async def _statement(connection: asyncpg.Connection, template: str, *arguments: str) -> str:
    """`template` with identifiers (%I) and literals (%L) quoted by the server's format()."""
    placeholders = ", ".join(f"${position}::text" for position in range(2, len(arguments) + 2))
    statement: str = await connection.fetchval(f"SELECT format($1, {placeholders})", template, *arguments)
    return statement


async def _run(connection: asyncpg.Connection, template: str, *arguments: str) -> None:
    await connection.execute(await _statement(connection, template, *arguments))


async def prepare_service_role(connection: asyncpg.Connection, role: ServiceRole) -> None:
    """Before the migrations: the role exists with this password and no other attribute, may connect and use
    the schema, and every table and sequence the connected (migrating) role creates from now on is its."""
    async with connection.transaction():
        # One migration Job at a time, as alembic's env.py: two deploys at once take turns.
        await connection.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        exists = await connection.fetchval("SELECT count(*) = 1 FROM pg_roles WHERE rolname = $1", role.name)
        verb = "ALTER" if exists else "CREATE"
        await _run(
            connection,
            f"{verb} ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
            " PASSWORD %L",
            role.name,
            scram_verifier(role.password),
        )
        database, migrator = await connection.fetchrow("SELECT current_database(), current_user")
        await _run(connection, "GRANT CONNECT ON DATABASE %I TO %I", database, role.name)
        await _run(connection, "GRANT USAGE ON SCHEMA %I TO %I", SCHEMA, role.name)
        for privileges, kind in ((TABLE_PRIVILEGES, "TABLES"), (SEQUENCE_PRIVILEGES, "SEQUENCES")):
            await _run(
                connection,
                f"ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT {privileges} ON {kind} TO %I",
                migrator,
                SCHEMA,
                role.name,
            )
    logger.info("database role %s %s, password set", role.name, "updated" if exists else "created")


async def grant_service_role(connection: asyncpg.Connection, role: ServiceRole) -> None:
    """After the migrations: the tables and sequences that exist (those made before the default privileges
    too), except Alembic's own version table."""
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        for privileges, kind in ((TABLE_PRIVILEGES, "TABLES"), (SEQUENCE_PRIVILEGES, "SEQUENCES")):
            await _run(connection, f"GRANT {privileges} ON ALL {kind} IN SCHEMA %I TO %I", SCHEMA, role.name)
        if await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{SCHEMA}.{MIGRATIONS_TABLE}"):
            await _run(connection, "REVOKE ALL ON TABLE %I.%I FROM %I", SCHEMA, MIGRATIONS_TABLE, role.name)
    logger.info("database role %s granted the tables of schema %s", role.name, SCHEMA)
