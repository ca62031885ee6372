"""`python -m fastapi_app.migrate`: what the migration Job runs. `alembic upgrade head` as DATABASE_URL's
role; with SERVICE_DATABASE_URL set too (the managed database), the service's role of that URL is made and its
password set before the migrations, and granted the migrated tables after them."""

import asyncio

import asyncpg
from alembic.config import main as alembic_main
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from fastapi_app.db import database_tls, database_url
from fastapi_app.logs import configure_logging, logged_secrets
from fastapi_app.service_role import ServiceRole, grant_service_role, prepare_service_role, service_role
from fastapi_app.settings import SECRET_SAFE_SETTINGS, Settings


class MigrationSettings(BaseSettings):
    model_config = SECRET_SAFE_SETTINGS

    service_database_url: SecretStr | None = Field(
        default=None,
        description="The service's DATABASE_URL when it connects as a role of its own; unset: migrate only.",
    )

    def service_role(self) -> ServiceRole | None:
        url = self.service_database_url
        return None if url is None else service_role(url.get_secret_value())


async def _connect(settings: Settings) -> asyncpg.Connection:
    url = database_url(settings)
    return await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
        ssl=database_tls(settings),
        timeout=settings.db_connect_timeout,
        server_settings={"application_name": "fastapi-app-migrate"},
    )


async def _on_role(settings: Settings, role: ServiceRole, *, before_migrations: bool) -> None:
    connection = await _connect(settings)
    try:
        step = prepare_service_role if before_migrations else grant_service_role
        await step(connection, role)
    finally:
        await connection.close()


def main() -> None:
    settings = Settings()
    role = MigrationSettings().service_role()
    secrets = [*logged_secrets(settings), *([role.password] if role is not None else [])]
    configure_logging(settings.log_level, secrets=secrets)
    if role is not None:
        asyncio.run(_on_role(settings, role, before_migrations=True))
    # Each step runs its own event loop: env.py starts one too.
    alembic_main(argv=["upgrade", "head"], prog="alembic")
    if role is not None:
        # env.py configured logging from alembic.ini: redact again.
        configure_logging(settings.log_level, secrets=secrets)
        asyncio.run(_on_role(settings, role, before_migrations=False))


if __name__ == "__main__":
    main()
