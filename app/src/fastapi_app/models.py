"""The database schema. Alembic's migrations create the same tables; a test keeps the two in step."""

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
    func,
)

NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2000
PRICE_DIGITS = 12
PRICE_PLACES = 2
# Ids are PostgreSQL BIGINT; a larger id in a URL can never exist.
ID_MAX = 2**63 - 1

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
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column(
        "updated_at", DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    ),
    CheckConstraint("price >= 0", name="price_not_negative"),
)
