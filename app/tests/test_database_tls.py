"""TLS to PostgreSQL as DATABASE_URL asks for it (sslmode, sslrootcert), against a real server that accepts
TLS connections only, with a certificate for `localhost` issued by a CA the test creates."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from pydantic import SecretStr
from sqlalchemy import make_url

from alembic_runner import alembic
from fastapi_app.db import DatabaseCertificateError, database_tls
from fastapi_app.main import create_app
from fastapi_app.settings import Settings
from fastapi_app.store import PostgresItemStore
from fastapi_app.tls import verifying_context
from postgres_server import PostgresServer, ServerCertificate, free_port
from support.app import serve

APP_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_bundle(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="module")
def other_ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("other-ca") / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="module")
def tls_server(ca: trustme.CA) -> Iterator[PostgresServer]:
    leaf = ca.issue_cert("localhost")
    chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
    with PostgresServer(tls=ServerCertificate(chain, leaf.private_key_pem.bytes())) as server:
        yield server


def url_for(server: PostgresServer, host: str, **query: str) -> str:
    url = make_url(server.url).set(host=host).update_query_dict(query)
    return url.render_as_string(hide_password=False)


def verified_url(server: PostgresServer, ca_bundle: Path, host: str = "localhost") -> str:
    return url_for(server, host, sslmode="verify-full", sslrootcert=str(ca_bundle))


def start_service(database_url: str) -> subprocess.CompletedProcess[str]:
    """`python -m fastapi_app` until it exits on its own (a failed start-up) or 30 s pass."""
    return subprocess.run(
        [sys.executable, "-m", "fastapi_app"],
        cwd=APP_DIR,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": str(free_port()),
            "METRICS_PORT": str(free_port()),
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


async def test_verified_tls_connection_serves_requests_over_tls(
    tls_server: PostgresServer, ca_bundle: Path
) -> None:
    database_url = verified_url(tls_server, ca_bundle)
    migrated = alembic(database_url, "upgrade", "head")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    app = create_app(Settings(database_url=SecretStr(database_url), pod_name="tls"))
    async for client in serve(app):
        ready = await client.get("/ready")
        created = await client.post("/api/v1/items", json={"name": "over tls", "price": "1"})
        store: PostgresItemStore = app.state.store
        encrypted = await store.pool.run(
            lambda connection: connection.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        )

    assert ready.status_code == 200
    assert created.status_code == 201
    assert encrypted is True


@pytest.mark.parametrize(
    ("host", "bundle", "cause"),
    [
        ("localhost", "other_ca_bundle", "unable to get local issuer certificate"),
        ("127.0.0.1", "ca_bundle", "IP address mismatch, certificate is not valid for '127.0.0.1'"),
    ],
    ids=["wrong CA", "wrong host name"],
)
async def test_a_certificate_that_fails_verification_stops_start_up_naming_the_cause(
    tls_server: PostgresServer, host: str, bundle: str, cause: str, request: pytest.FixtureRequest
) -> None:
    database_url = verified_url(tls_server, request.getfixturevalue(bundle), host)
    app = create_app(Settings(database_url=SecretStr(database_url)))

    with pytest.raises(DatabaseCertificateError) as refused:
        async for _ in serve(app):
            pass

    assert f"database server {host}:{tls_server.port} failed verification: {cause}" in str(refused.value)
    assert tls_server.password not in str(refused.value)


def test_the_service_process_exits_with_the_cause_and_never_the_password(
    tls_server: PostgresServer, other_ca_bundle: Path
) -> None:
    started = start_service(verified_url(tls_server, other_ca_bundle))

    assert started.returncode != 0
    assert "failed verification: unable to get local issuer certificate" in started.stderr + started.stdout
    assert tls_server.password not in started.stderr + started.stdout


def test_the_migration_job_fails_on_a_wrong_host_name(tls_server: PostgresServer, ca_bundle: Path) -> None:
    migrated = alembic(verified_url(tls_server, ca_bundle, "127.0.0.1"), "upgrade", "head")

    assert migrated.returncode != 0
    cause = "failed verification: IP address mismatch, certificate is not valid for '127.0.0.1'"
    assert cause in migrated.stderr
    assert tls_server.password not in migrated.stdout + migrated.stderr


async def test_verify_ca_checks_the_chain_but_not_the_host_name(
    tls_server: PostgresServer, ca_bundle: Path
) -> None:
    database_url = url_for(tls_server, "127.0.0.1", sslmode="verify-ca", sslrootcert=str(ca_bundle))
    async for client in serve(create_app(Settings(database_url=SecretStr(database_url)))):
        assert (await client.get("/ready")).status_code == 200


async def test_an_unreachable_database_at_start_up_is_an_outage_not_a_certificate_error(
    ca_bundle: Path,
) -> None:
    with PostgresServer() as stopped:
        stopped.stop()
        database_url = url_for(stopped, "localhost", sslmode="verify-full", sslrootcert=str(ca_bundle))
        async for client in serve(create_app(Settings(database_url=SecretStr(database_url)))):
            assert (await client.get("/ready")).status_code == 503


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("sslmode=verify-full", "sslmode=verify-full without sslrootcert"),
        ("sslrootcert=/ca.pem", "sslrootcert without sslmode=verify-full or verify-ca"),
        ("sslmode=require&sslrootcert=/ca.pem", "sslrootcert without sslmode=verify-full or verify-ca"),
        (
            "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "sslrootcert=/nonexistent/ca.pem: no CA certificates",
        ),
        (
            "sslmode=strict",
            "sslmode=strict: expected one of disable, allow, prefer, require, verify-ca, verify-full",
        ),
        ("sslmode=require&sslmode=verify-full", "gives sslmode more than once"),
    ],
)
def test_tls_settings_that_cannot_work_are_refused_at_start_up(query: str, refusal: str) -> None:
    with pytest.raises(ValueError, match="DATABASE_URL") as refused:
        create_app(Settings(database_url=SecretStr(f"postgresql://u:s3cret@db/app?{query}")))

    assert refusal in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_a_bundle_that_holds_no_certificate_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")
    url = f"postgresql://u:p@db/app?sslmode=verify-full&sslrootcert={empty}"

    with pytest.raises(ValueError, match=f"sslrootcert={empty}: no CA certificates could be read"):
        create_app(Settings(database_url=SecretStr(url)))


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", "require"])
def test_modes_that_verify_nothing_reach_asyncpg_as_they_are(mode: str) -> None:
    assert database_tls(Settings(database_url=SecretStr(f"postgresql://u:p@db/app?sslmode={mode}"))) == mode


def test_the_rds_ca_bundle_shipped_in_the_image_loads_every_certificate() -> None:
    bundle = APP_DIR / "certs" / "rds-ca-bundle.pem"
    context = verifying_context(bundle, check_hostname=True)

    assert context.cert_store_stats()["x509_ca"] == bundle.read_text().count("BEGIN CERTIFICATE") > 100
