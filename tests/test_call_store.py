"""The webhook's Core path to the call row (callflow.call_store) and the per-thread state machine.

Runs on SQLite and PostgreSQL (the ``app`` fixture is parametrized by database).
"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from callflow import call_store
from callflow.call_store import CallRecord, StaleCall
from callflow.conversation import Conversation, Heard
from callflow.extensions import db
from callflow.models import Call, Turn


def _create(app, sid: str = "CA" + "1" * 32) -> int:
    with app.app_context(), db.engine.begin() as conn:
        return call_store.create(conn, {"call_sid": sid, "from_number": "+14155550100", "state": "greet"}).id


def _load(sid: str) -> CallRecord | None:
    """The record in a transaction of its own (inside an app context)."""
    with db.engine.begin() as conn:
        return call_store.load(conn, sid)


def _save(record: CallRecord) -> None:
    with db.engine.begin() as conn:
        call_store.save(conn, record)


def test_create_fills_the_model_defaults_and_load_reads_them_back(app):
    sid = "CA" + "2" * 32
    call_id = _create(app, sid)
    with app.app_context():
        record = _load(sid)
        assert record is not None and record.id == call_id
        assert (record.state, record.prompt_seq, record.turn_count, record.version) == ("greet", 0, 0, 1)
        assert record.email_confirmed is False and record.started_at.tzinfo is not None
        assert record.changes() == {}
        orm = db.session.get(Call, call_id)  # the ORM sees the same row, version included
        assert (orm.call_sid, orm.version, orm.from_number) == (sid, 1, "+14155550100")
        assert _load("CA-unknown") is None


def test_save_writes_only_changed_columns_and_bumps_the_version(app):
    sid = "CA" + "3" * 32
    call_id = _create(app, sid)
    with app.app_context():
        with db.engine.begin() as conn:
            record = call_store.load(conn, sid)
            record.state, record.email_attempts = "collect_email", 2
            assert record.changes() == {"state": "collect_email", "email_attempts": 2}
            call_store.save(conn, record)
            assert record.version == 2 and record.changes() == {}
            call_store.save(conn, record)  # nothing changed: no statement, no new version
            assert record.version == 2
        row = db.session.get(Call, call_id)
        assert (row.state, row.email_attempts, row.version) == ("collect_email", 2, 2)


def test_a_concurrent_writer_makes_save_raise_stale_and_nothing_is_overwritten(app):
    sid = "CA" + "4" * 32
    call_id = _create(app, sid)
    with app.app_context():
        mine = _load(sid)
        # Another writer (the ORM, as the sweeper or admin would) moves the row meanwhile.
        orm = db.session.get(Call, call_id)
        orm.name = "Jane"
        db.session.commit()
        assert orm.version == 2
        mine.state = "escalate"
        with pytest.raises(StaleCall):
            _save(mine)
        db.session.expire_all()
        row = db.session.get(Call, call_id)
        assert (row.name, row.state, row.version) == ("Jane", "greet", 2)


def test_a_deleted_row_makes_save_raise_stale(app):
    sid = "CA" + "5" * 32
    call_id = _create(app, sid)
    with app.app_context():
        record = _load(sid)
        db.session.delete(db.session.get(Call, call_id))
        db.session.commit()
        record.state = "goodbye"
        with pytest.raises(StaleCall):
            _save(record)


def test_write_inserts_rows_with_different_optional_fields(app):
    sid = "CA" + "6" * 32
    call_id = _create(app, sid)
    with app.app_context():
        with db.engine.begin() as conn:
            record = call_store.load(conn, sid)
            base = {"state": "greet", "created_at": record.started_at,
                    "confidence": None, "server_ms": None, "article_id": None, "article_score": None}
            record.turn_count = 2
            call_store.write(conn, record, [
                {**base, "seq": 1, "speaker": "caller", "text": "hello", "confidence": 0.9},
                {**base, "seq": 2, "speaker": "agent", "text": "hi", "server_ms": 3},
            ])
            call_store.write(conn, record, [])  # nothing changed, nothing to insert: fine
        turns = db.session.scalars(select(Turn).where(Turn.call_id == call_id).order_by(Turn.seq)).all()
        assert [(t.speaker, t.text, t.confidence, t.server_ms) for t in turns] == [
            ("caller", "hello", 0.9, None), ("agent", "hi", None, 3)]


def _record(state: str, **values) -> CallRecord:
    base = {name: None for name in call_store.COLUMNS}
    base.update(Call._DEFAULTS, id=1, call_sid="CA" + "7" * 32, version=1, state=state)
    base.update(values)
    return CallRecord(base)


def test_one_thread_machine_serves_calls_in_turn_without_mixing_them(app):
    """The thread's cached CallFlow follows whichever call it is pointed at."""
    with app.app_context():
        a = _record("confirm_email", email="a@example.com")
        b = _record("collect_email")
        Conversation(a, app.extensions).hear(Heard(text="yes"))
        Conversation(b, app.extensions).hear(Heard(text="jane at example dot com"))
        assert (a.state, a.email_confirmed) == ("answer", True)
        assert (b.state, b.email) == ("confirm_email", "jane@example.com")
        assert Conversation(a, app.extensions).machine is Conversation(b, app.extensions).machine
        # An event the state does not allow raises, and the machine still works afterwards.
        done = _record("goodbye")
        with pytest.raises(Exception):
            Conversation(done, app.extensions).machine.send("introduce")
        c = _record("greet")
        Conversation(c, app.extensions).hear(Heard(text="This is Sam"))
        assert (c.state, c.name) == ("collect_email", "Sam")


def test_each_thread_has_its_own_machine(app):
    machines = []

    def grab() -> None:
        with app.app_context():
            machines.append(Conversation(_record("greet"), app.extensions).machine)

    threads = [threading.Thread(target=grab) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(m) for m in machines}) == 3


def _utterance(seq: int, speaker: str, text: str, at) -> dict:
    return {"seq": seq, "speaker": speaker, "text": text, "state": "greet", "created_at": at,
            "confidence": 0.8 if speaker == "caller" else None, "server_ms": None if speaker == "caller" else 4,
            "article_id": None, "article_score": None}


def _autocommit():
    """A connection like the webhooks use on PostgreSQL (autocommit there; a transaction on SQLite)."""
    if db.engine.dialect.name == "postgresql":
        conn = db.engine.connect()
        return conn, conn.execution_options(isolation_level="AUTOCOMMIT")
    conn = db.engine.connect()
    conn.begin()
    return conn, conn


def _finish(conn) -> None:
    if conn.in_transaction():
        conn.commit()
    conn.close()


def test_write_inserts_a_new_call_with_its_first_utterances(app):
    sid = "CA" + "8" * 32
    with app.app_context():
        record = CallRecord.new({"call_sid": sid, "state": "collect_email", "prompt_seq": 1, "turn_count": 1})
        assert record.id is None
        raw, conn = _autocommit()
        call_store.write(conn, record, [_utterance(1, "agent", "Hello", record.started_at)])
        _finish(raw)
        assert record.id is not None and record.changes() == {}
        row = db.session.get(Call, record.id)
        assert (row.call_sid, row.state, row.prompt_seq, row.version) == (sid, "collect_email", 1, 1)
        assert [(t.seq, t.speaker, t.text, t.server_ms) for t in row.turns] == [(1, "agent", "Hello", 4)]
        # The same CallSid again (a racing duplicate webhook): refused, nothing half-written.
        raw, conn = _autocommit()
        with pytest.raises(IntegrityError):
            call_store.write(conn, CallRecord.new({"call_sid": sid, "state": "greet"}), [_utterance(1, "agent", "Hi", record.started_at)])
        raw.rollback()
        raw.close()
        assert db.session.scalar(select(func.count()).select_from(Turn)) == 1


def test_write_updates_the_call_and_adds_utterances_or_nothing_when_stale(app):
    sid = "CA" + "9" * 32
    call_id = _create(app, sid)
    with app.app_context():
        record = _load(sid)
        record.state, record.turn_count = "collect_email", 2
        raw, conn = _autocommit()
        call_store.write(conn, record, [_utterance(1, "caller", "Jane", record.started_at),
                                        _utterance(2, "agent", "Thanks", record.started_at)])
        _finish(raw)
        assert record.version == 2
        stale = _load(sid)
        mover = _load(sid)
        mover.retry_count = 1
        _save(mover)  # someone else moved the row to version 3
        stale.state, stale.turn_count = "escalate", 3
        raw, conn = _autocommit()
        with pytest.raises(StaleCall):
            call_store.write(conn, stale, [_utterance(3, "caller", "hello?", stale.started_at)])
        _finish(raw)
        db.session.expire_all()
        row = db.session.get(Call, call_id)
        assert (row.state, row.turn_count, row.retry_count, row.version) == ("collect_email", 2, 1, 3)
        assert [t.text for t in row.turns] == ["Jane", "Thanks"]  # the stale turn wrote nothing


def test_a_stale_finalize_writes_no_ticket(app):
    """The ticket row and the call update are one write: a moved version leaves neither."""
    from callflow.models import TicketOutbox
    from callflow.tickets import finalize_record

    sid = "CA" + "a" * 32
    call_id = _create(app, sid)
    with app.app_context():
        stale = _load(sid)
        mover = _load(sid)
        mover.name = "Jane"
        _save(mover)
        raw, conn = _autocommit()
        with pytest.raises(StaleCall):
            finalize_record(conn, stale, twilio_status="completed", duration_s=30)
        raw.rollback()
        raw.close()
        assert db.session.scalar(select(func.count()).select_from(TicketOutbox)) == 0
        fresh = _load(sid)
        raw, conn = _autocommit()
        assert finalize_record(conn, fresh, twilio_status="completed", duration_s=30) is True
        _finish(raw)
        ticket = db.session.scalar(select(TicketOutbox).where(TicketOutbox.call_id == call_id))
        assert ticket.status == "queued" and ticket.payload["call_sid"] == sid and ticket.attempts == 0
        assert ticket.payload["requester"]["name"] == "Jane"
        row = db.session.get(Call, call_id)
        assert row.ended_at is not None and row.duration_s == 30 and row.outcome == "abandoned"
