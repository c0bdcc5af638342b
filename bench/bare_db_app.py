"""A second baseline for ``bench/db_floor.py``: the bare app (``bench/bare_app.py``) plus the
least a turn with persisted call state must do.

Every POST reads one row by CallSid and writes it back, with SQLAlchemy Core in one
transaction: a ``SELECT`` and a versioned ``UPDATE`` (an ``INSERT`` on a call's first turn),
storing the TwiML it answers, as callflow stores ``last_twiml``. Nothing else: no state
machine, no speech parsing, no KB, no utterance rows, no hooks beyond ``Server-Timing``.
It answers the same fixed Gather TwiML as the bare app, so the load generator's
``--fixed-path`` mode drives it the same way.

Database: ``BARE_DB_URL`` (default a SQLite file in the temp directory), with callflow's
SQLite pragmas (WAL, ``synchronous=NORMAL``, ``busy_timeout``). Serve it with the same
gunicorn settings as callflow::

    BARE_DB_URL=sqlite:////tmp/floor.sqlite3 .venv/bin/gunicorn -c gunicorn.conf.py --workers 2 \\
        --pythonpath bench bare_db_app:app
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from flask import Flask, request
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, bindparam, create_engine, event, insert, select, update
from sqlalchemy.exc import DatabaseError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bare_app import DOCUMENT, create_app as bare_create_app  # noqa: E402
from callflow.extensions import sqlite_pragmas  # noqa: E402

METADATA = MetaData()
CALLS = Table(
    "floor_call",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("call_sid", String(64), unique=True, nullable=False),
    Column("turns", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_twiml", Text),
)
_SELECT = select(CALLS).where(CALLS.c.call_sid == bindparam("sid"))
_UPDATE = (
    update(CALLS)
    .where(CALLS.c.id == bindparam("_id"), CALLS.c.version == bindparam("_version"))
    .values(turns=bindparam("turns"), last_twiml=bindparam("twiml"), version=CALLS.c.version + 1)
)
_INSERT = insert(CALLS)


def create_app() -> Flask:
    url = os.environ.get("BARE_DB_URL") or f"sqlite:///{Path(tempfile.gettempdir()) / 'callflow-bare-db.sqlite3'}"
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", sqlite_pragmas)
    try:
        METADATA.create_all(engine)
    except DatabaseError:  # the other worker created it at the same moment
        pass

    def read_and_write_the_call() -> None:
        sid = (request.form.get("CallSid") or "")[:64]
        with engine.begin() as conn:
            row = conn.execute(_SELECT, {"sid": sid}).first()
            if row is None:
                conn.execute(_INSERT, {"call_sid": sid, "turns": 1, "version": 1, "last_twiml": DOCUMENT})
            else:
                conn.execute(_UPDATE, {"_id": row.id, "_version": row.version, "turns": row.turns + 1, "twiml": DOCUMENT})

    return bare_create_app(before_answer=read_and_write_the_call)


app = create_app()
print(f"bare_db_app ready in pid {os.getpid()}", file=sys.stderr, flush=True)
