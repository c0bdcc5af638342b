"""Concurrent webhooks for one call never corrupt it (row lock on PostgreSQL, version check
and retries everywhere), and many calls at once all end with their ticket."""
from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from callflow.extensions import db
from callflow.models import Call, TicketOutbox, Turn

from .conftest import Caller


def _together(n: int, fn):
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_simultaneous_duplicate_gathers_move_the_machine_once(app):
    caller = Caller(app.test_client())
    caller.start()
    action = caller.action

    def post(i):
        worker = Caller(app.test_client(), call_sid=caller.call_sid)
        return worker.post(action, worker.params(SpeechResult="My name is Maria"), headers={"I-Twilio-Idempotency-Token": f"tok-{i}"})

    responses = _together(4, post)
    assert all(r.status_code == 200 for r in responses)
    assert all(ET.fromstring(r.data).tag == "Response" for r in responses)
    assert len({r.data for r in responses}) == 1  # everyone got the same next step
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid))
        assert call.state == "collect_email" and call.prompt_seq == 2
        caller_turns = db.session.scalar(select(func.count(Turn.id)).where(Turn.call_id == call.id, Turn.speaker == "caller"))
        assert caller_turns == 1


def test_status_callback_racing_a_gather_makes_one_ticket(app):
    caller = Caller(app.test_client())
    caller.start()
    caller.say("Maria")
    action = caller.action

    def race(i):
        worker = Caller(app.test_client(), call_sid=caller.call_sid)
        if i % 2:
            return worker.post("/voice/status", worker.params(CallStatus="completed", CallDuration="30"))
        return worker.post(action, worker.params(SpeechResult="maria at example dot com"))

    responses = _together(6, race)
    assert all(r.status_code in (200, 204) for r in responses)
    with app.app_context():
        assert db.session.scalar(select(func.count(TicketOutbox.id))) == 1
        call = db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid))
        assert call.ended_at is not None and call.outcome == "abandoned"


def test_many_calls_at_once_all_get_tickets(app):
    def full_call(i):
        caller = Caller(app.test_client(), from_number=f"+1415555{i:04d}")
        caller.start()
        caller.say("Sam")
        caller.say("sam at example dot com")
        caller.say("yes")
        caller.say("how do I reset my password")
        caller.say("yes")
        caller.say("no thanks")
        caller.hangup()
        return caller.call_sid

    sids = _together(8, full_call)
    with app.app_context():
        tickets = db.session.scalars(select(TicketOutbox)).all()
        assert sorted(t.payload["call_sid"] for t in tickets) == sorted(sids)
        assert all(t.payload["tags"] == ["ai-call", "ai-resolved"] for t in tickets)
