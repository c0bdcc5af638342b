"""A call row written at an older schema revision, for the tests of migrations that add columns to ``call``."""
from __future__ import annotations

from typing import Any

import flask_migrate
from sqlalchemy import MetaData, Table

from callflow.clock import utcnow
from callflow.extensions import db


def add_call_at(revision: str, call_sid: str, **columns: Any) -> None:
    """Upgrade the app's database to ``revision`` (inside an app context) and insert one call row with the columns
    every revision has given values, plus ``columns`` (those the revision added since the first)."""
    flask_migrate.upgrade(revision=revision)
    with db.engine.begin() as conn:
        now = utcnow().replace(tzinfo=None) if conn.dialect.name == "sqlite" else utcnow()
        conn.execute(call_table(conn).insert().values(
            call_sid=call_sid, state="answer", email_confirmed=False, email_attempts=0, retry_count=0,
            questions_asked=0, resolved_count=0, anything_else_asked=False, prompt_seq=1, turn_count=0, version=1,
            started_at=now, last_activity_at=now, **columns))


def call_table(conn) -> Table:
    """The ``call`` table as the database has it now (reflected)."""
    return Table("call", MetaData(), autoload_with=conn)
