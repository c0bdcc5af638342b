"""Flask extension singletons, bound to the app in :func:`callflow.create_app`."""
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base with named constraints, so Alembic batch migrations work on SQLite."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)


def sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """On SQLite: WAL (readers don't block the writer), synchronous=NORMAL, wait up to 5 s for a lock, and a
    ``lower()`` that folds all of Unicode, like PostgreSQL's.

    https://www.sqlite.org/wal.html, https://www.sqlite.org/pragma.html#pragma_busy_timeout
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: no fsync per commit, still corruption-safe
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # SQLite's own lower() folds ASCII only, so a search for "émile" missed "Émile" (PostgreSQL folds all of
    # Unicode). No index uses lower(), so replacing it changes no stored order.
    # https://www.sqlite.org/lang_corefunc.html#lower
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)


def _unicode_lower(value):
    return value.lower() if isinstance(value, str) else value
