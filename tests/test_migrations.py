"""The Alembic migrations build the schema the models describe (no drift)."""
from __future__ import annotations

import flask_migrate
import pytest
from sqlalchemy import inspect

from callflow import create_app
from callflow.extensions import db

from .conftest import base_config


def test_upgrade_then_check_shows_no_drift(tmp_path, database_url):
    app = create_app(base_config(tmp_path, database_url))
    with app.app_context():
        flask_migrate.upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"call", "turn", "kb_article", "ticket_outbox", "ticket_attempt", "admin_user"} <= tables
        flask_migrate.check()  # raises SystemExit if the models drifted from migrations/


def test_check_fails_when_models_drift(tmp_path):
    app = create_app(base_config(tmp_path))
    with app.app_context():
        flask_migrate.upgrade()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE call DROP COLUMN sentiment")
        with pytest.raises(SystemExit):
            flask_migrate.check()


def test_downgrade_to_base_removes_tables(tmp_path, database_url):
    app = create_app(base_config(tmp_path, database_url))
    with app.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision="base")
        assert "call" not in inspect(db.engine).get_table_names()


def test_a_first_release_database_gets_turn_count_with_its_calls_numbering_on(tmp_path, database_url):
    """The first release's initial revision had no call.turn_count; the column was later added to that revision
    in place, so such a database was "at head" without it and every webhook turn failed. Built here as the first
    release left it: the initial revision without the column, and a call in progress with 3 turns."""
    from sqlalchemy import MetaData, Table

    from callflow import call_store
    from callflow.clock import utcnow

    app = create_app(base_config(tmp_path, database_url))
    with app.app_context():
        flask_migrate.upgrade(revision="4a76dd5a5824")
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE call DROP COLUMN turn_count")
            meta = MetaData()
            call, turn = Table("call", meta, autoload_with=conn), Table("turn", meta, autoload_with=conn)
            now = utcnow().replace(tzinfo=None) if conn.dialect.name == "sqlite" else utcnow()
            call_id = conn.execute(call.insert().values(
                call_sid="CA" + "7" * 32, state="answer", email_confirmed=True, email_attempts=0, retry_count=0,
                questions_asked=1, resolved_count=0, anything_else_asked=False, started_at=now,
                last_activity_at=now, prompt_seq=2, version=3,
            ).returning(call.c.id)).scalar_one()
            conn.execute(turn.insert(), [dict(call_id=call_id, seq=seq, speaker="caller", text=f"turn {seq}",
                                              state="answer", created_at=now) for seq in (1, 2, 3)])
        flask_migrate.upgrade()
        with db.engine.connect() as conn:
            assert call_store.load(conn, "CA" + "7" * 32, lock=False).turn_count == 3  # the next turn is seq 4
        flask_migrate.check()
        flask_migrate.downgrade(revision="4a76dd5a5824")  # and back: a database made by this version
        flask_migrate.upgrade()
        flask_migrate.check()


def _seed_calls(conn, n: int, **columns) -> None:
    """Insert ``n`` ended calls 30 days old (``columns``: functions of the index ``i`` that override a column), then
    ANALYZE, so the planner sees a table of realistic size."""
    from datetime import timedelta

    from callflow.clock import utcnow
    from callflow.models import Call

    old = utcnow() - timedelta(days=30)
    base = dict(state="goodbye", email_confirmed=False, email_attempts=0, retry_count=0, questions_asked=0,
                resolved_count=0, anything_else_asked=False, prompt_seq=0, turn_count=0, version=1, started_at=old,
                last_activity_at=old, ended_at=old)
    conn.execute(Call.__table__.insert(), [
        dict(base, call_sid=f"CA{i:032x}", **{name: value(i, old) for name, value in columns.items()})
        for i in range(n)
    ])
    conn.exec_driver_sql("ANALYZE")


def _plan(conn, query) -> str:
    """The database's plan for ``query``, one line (SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN)."""
    compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
    explain = "EXPLAIN QUERY PLAN" if conn.dialect.name == "sqlite" else "EXPLAIN"
    return " | ".join(str(row[-1]) for row in conn.exec_driver_sql(f"{explain} {compiled}"))


def test_the_idle_sweeper_reads_only_open_calls(tmp_path, database_url):
    """The tickets worker's sweep (every poll) was a full scan of every call ever stored."""
    from datetime import timedelta

    from sqlalchemy import and_, or_, select

    from callflow.clock import utcnow
    from callflow.models import Call

    app = create_app(base_config(tmp_path, database_url))
    with app.app_context():
        flask_migrate.upgrade()
        with db.engine.begin() as conn:
            _seed_calls(conn, 20_000, ended_at=lambda i, old: None if i % 1000 == 0 else old + timedelta(minutes=5))
            now = utcnow()
            query = select(Call.call_sid).where(  # outbox.sweep_idle_calls
                Call.ended_at.is_(None),
                or_(Call.last_activity_at < now - timedelta(minutes=30),
                    and_(Call.state.in_(("escalate", "goodbye")), Call.last_activity_at < now - timedelta(minutes=2))),
            ).limit(200)
            plan = _plan(conn, query)
        assert "ix_call_open_last_activity_at" in plan, plan


def test_the_admin_search_reads_an_index_for_an_email_a_callsid_and_a_phone_number(tmp_path, database_url):
    """Every admin calls search read every call, twice (page and count): 0.6-1.3 s at 100,000 calls."""
    from datetime import timedelta

    from sqlalchemy import func, select

    from callflow.admin.views import _search_clause
    from callflow.models import Call

    app = create_app(base_config(tmp_path, database_url))
    with app.app_context():
        flask_migrate.upgrade()
        with db.engine.begin() as conn:
            _seed_calls(conn, 20_000, from_number=lambda i, old: f"+1415{i:07d}",
                        email=lambda i, old: f"caller{i}@example.com", name=lambda i, old: f"Caller {i}",
                        started_at=lambda i, old: old + timedelta(seconds=i))
            call_sid_index = "sqlite_autoindex_call_1" if conn.dialect.name == "sqlite" else "uq_call_call_sid"
            for q, index, found in (("Caller123@Example.com", "ix_call_lower_email", 1),
                                    (f"CA{0x123:032x}"[:-1].upper(), call_sid_index, 16),  # CA000...012[0-f]
                                    ("+1 415 000 0123", "ix_call_from_number", 1)):
                where = _search_clause(q)
                page = select(Call).where(where).order_by(Call.started_at.desc(), Call.id.desc()).limit(25)
                count = select(func.count()).select_from(select(Call.id).where(where).subquery())  # db.paginate's
                for query in (page, count):
                    plan = _plan(conn, query)
                    assert index in plan, (q, plan)
                assert conn.scalar(count) == found
