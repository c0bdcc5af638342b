"""Flask extension singletons, bound to the app in :func:`callflow.create_app`."""
from typing import Any, Mapping

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
    # Unicode). One index uses it, ix_call_lower_email (the admin search for a whole email): callers' emails are
    # ASCII (spoken_email), where both lower()s agree, so the index is the same whichever one built it (the
    # sqlite3 shell uses SQLite's); a non-ASCII email written outside callflow would be missing from it there.
    # https://www.sqlite.org/lang_corefunc.html#lower
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)


def _unicode_lower(value):
    return value.lower() if isinstance(value, str) else value


def postgresql_engine_options(options: Mapping[str, Any], config: Mapping[str, Any], *, serving: bool) -> dict[str, Any]:
    """``SQLALCHEMY_ENGINE_OPTIONS`` for PostgreSQL with time limits, so a stalled database cannot hold a webhook
    past Twilio's 15 s (https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides).

    Always ``connect_timeout`` = ``DB_CONNECT_TIMEOUT_S`` seconds (libpq:
    https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-CONNECT-TIMEOUT). When ``serving``
    requests (gunicorn, ``flask run``; not the CLI, so not migrations or the tickets worker), each session also gets
    ``lock_timeout`` = ``DB_LOCK_TIMEOUT_MS`` and ``statement_timeout`` = ``DB_STATEMENT_TIMEOUT_MS`` milliseconds
    (0: none; https://www.postgresql.org/docs/current/runtime-config-client.html): a turn waiting on a lock (a
    migration, a long admin transaction) fails after the lock timeout, the caller hears "one moment" and Twilio
    posts the Gather again (:func:`callflow.voice._database_trouble`). Options already in
    ``options["connect_args"]`` are kept.
    Returns a new dict; ``options`` is not changed.
    """
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("connect_timeout", int(config.get("DB_CONNECT_TIMEOUT_S") or 5))
    if serving:
        limits = " ".join(
            f"-c {name}={int(config.get(key) or 0)}"
            for name, key in (("lock_timeout", "DB_LOCK_TIMEOUT_MS"), ("statement_timeout", "DB_STATEMENT_TIMEOUT_MS"))
        )
        connect_args["options"] = f"{connect_args.get('options', '')} {limits}".strip()
    return {**options, "connect_args": connect_args}
