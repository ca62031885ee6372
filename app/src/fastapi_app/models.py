"""The database schema. Alembic's migrations create the same tables; a test keeps the two in step."""

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    TypeDecorator,
    func,
)
from sqlalchemy.engine import Dialect

NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2000
PRICE_DIGITS = 12
PRICE_PLACES = 2
# Ids are PostgreSQL BIGINT; a larger id in a URL can never exist.
ID_MAX = 2**63 - 1


class _SqliteUtcDateTime(TypeDecorator[datetime]):
    """SQLite keeps no time zone: its timestamps (CURRENT_TIMESTAMP, always UTC) come back marked as UTC,
    as PostgreSQL's timestamptz do, so the API reads the same values from either."""

    impl = DateTime
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


_TIMESTAMP = DateTime(timezone=True).with_variant(_SqliteUtcDateTime(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Timestamps come from the database clock, one clock for every pod; statements hand them back with RETURNING.
items = Table(
    "items",
    metadata,
    # SQLite only auto-increments a column declared INTEGER PRIMARY KEY.
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), Identity(), primary_key=True),
    Column("name", String(NAME_MAX_LENGTH), nullable=False, unique=True),
    Column("description", String(DESCRIPTION_MAX_LENGTH), nullable=True),
    Column("price", Numeric(PRICE_DIGITS, PRICE_PLACES), nullable=False),
    Column("created_at", _TIMESTAMP, nullable=False, server_default=func.now()),
    Column("updated_at", _TIMESTAMP, nullable=False, server_default=func.now(), onupdate=func.now()),
    CheckConstraint("price >= 0", name="price_not_negative"),
)
