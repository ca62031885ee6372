"""The items' storage: one interface the routes use, one implementation per database.

PostgreSQL runs on asyncpg alone (postgres.py); the development SQLite file on SQLAlchemy (sqlite.py).
docs/service.md says why each backend takes its path.
"""

from fastapi_app.settings import Settings
from fastapi_app.store.base import ITEM_FIELDS, Item, ItemStore, NameTakenError
from fastapi_app.store.postgres import PostgresItemStore
from fastapi_app.store.sqlite import SqliteItemStore

__all__ = [
    "ITEM_FIELDS",
    "Item",
    "ItemStore",
    "NameTakenError",
    "PostgresItemStore",
    "SqliteItemStore",
    "open_store",
]


def open_store(settings: Settings) -> ItemStore:
    """The store for DATABASE_URL: PostgreSQL, or the development SQLite file when it is unset."""
    if settings.database_url is None:
        return SqliteItemStore(settings)
    return PostgresItemStore(settings)
