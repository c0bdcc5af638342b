"""Faults from issue 5: every call still completes normally and ends with exactly one ticket."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, event, func, select, update
from sqlalchemy.exc import OperationalError

from callflow import prompts
from callflow.clock import utcnow
from callflow.extensions import db
from callflow.kb import SAMPLE_KB_PATH
from callflow.models import Call, TicketOutbox

from .conftest import Caller, base_config, idle_calls, make_app, resolved_call
from .fakes.kayako_server import FakeKayako
from .fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent


def articles():
    return json.loads(SAMPLE_KB_PATH.read_text())


@pytest.fixture
def kayako():
    with FakeKayako(articles=articles()) as fake:
        yield fake


@pytest.fixture
def kayako_app(tmp_path, database_url, kayako):
    config = base_config(tmp_path, database_url)
    config.update(KAYAKO_URL=kayako.url, KAYAKO_EMAIL=kayako.email, KAYAKO_PASSWORD=kayako.password, TICKET_RETRY_BASE_S=0)
    app = make_app(config)
    app.extensions["helpdesk"]._sleep = lambda seconds: None
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def worker_once(app):
    result = app.test_cli_runner().invoke(args=["tickets", "worker", "--once"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("fault", ["500", "429", "503-page"])
def test_kayako_failing_for_a_whole_call(kayako_app, kayako, fault):
    if fault == "500":
        kayako.fail_next(500, n=None)
    elif fault == "429":
        kayako.fail_next(429, n=None, code="RATE_LIMIT_REACHED", retry_after=0)
    else:
        kayako.down("503")
    caller = Caller(kayako_app.test_client())
    resolved_call(caller)
    assert prompts.GOODBYE in caller.text()  # the caller noticed nothing
    worker_once(kayako_app)
    with kayako_app.app_context():
        assert db.session.scalar(select(TicketOutbox.status)) == "queued"
    kayako.clear_faults()
    kayako.up()
    worker_once(kayako_app)
    assert len(kayako.cases) == 1
    with kayako_app.app_context():
        assert db.session.scalar(select(TicketOutbox.status)) == "delivered"


def test_worker_killed_mid_delivery_makes_no_duplicate_case(tmp_path, kayako):
    """A real worker process is killed (SIGKILL) while its case POST is in flight."""
    db_url = f"sqlite:///{tmp_path / 'kill.sqlite3'}"
    config = base_config(tmp_path, db_url)
    config.update(KAYAKO_URL=kayako.url, KAYAKO_EMAIL=kayako.email, KAYAKO_PASSWORD=kayako.password)
    app = make_app(config)
    resolved_call(Caller(app.test_client()))
    env = dict(
        os.environ,
        DATABASE_URL=db_url,
        KAYAKO_URL=kayako.url,
        KAYAKO_EMAIL=kayako.email,
        KAYAKO_PASSWORD=kayako.password,
        TICKET_CLAIM_TTL_S="1",
        LOG_LEVEL="WARNING",
        OPENAI_API_KEY="",
    )
    kayako.delay(30, "/api/v1/cases", method="POST", n=1, exact=True)  # Kayako creates it, the answer never comes
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "tickets", "worker", "--once"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not kayako.cases and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kayako.cases, "the worker never reached Kayako"
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    with app.app_context():
        assert db.session.scalar(select(TicketOutbox.status)) == "sending"  # claimed, not finished
    kayako.clear_faults()
    time.sleep(1.2)  # the dead worker's claim expires
    rerun = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "tickets", "worker", "--once"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert len(kayako.cases) == 1
    with app.app_context():
        ticket = db.session.scalar(select(TicketOutbox))
        assert ticket.status == "delivered" and ticket.external_id == str(next(iter(kayako.cases)))


def test_slow_delivery_never_overlaps_a_second_worker(tmp_path, kayako):
    """Two real worker processes. Kayako rate-limits the case POST with a Retry-After longer
    than the ticket's claim: the first worker must give up before its claim expires, else the
    second worker claims the ticket, creates the case, and the first one's retry creates another."""
    db_url = f"sqlite:///{tmp_path / 'overlap.sqlite3'}"
    config = base_config(tmp_path, db_url)
    config.update(KAYAKO_URL=kayako.url, KAYAKO_EMAIL=kayako.email, KAYAKO_PASSWORD=kayako.password)
    app = make_app(config)
    resolved_call(Caller(app.test_client()))
    env = dict(os.environ, DATABASE_URL=db_url, KAYAKO_URL=kayako.url, KAYAKO_EMAIL=kayako.email,
               KAYAKO_PASSWORD=kayako.password, TICKET_CLAIM_TTL_S="2", TICKET_RETRY_BASE_S="0",
               LOG_LEVEL="WARNING", OPENAI_API_KEY="")
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "tickets", "worker", "--once"]
    kayako.fail_next(429, retry_after=4, path_prefix="/api/v1/cases", method="POST", exact=True)
    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not kayako.requests_for("/api/v1/cases", method="POST") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kayako.requests_for("/api/v1/cases", method="POST"), "the first worker never reached Kayako"
    time.sleep(2.3)  # the first worker's claim has expired by now
    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr[-2000:]
    assert first.wait(timeout=30) == 0, first.stderr.read()[-2000:]
    assert len(kayako.cases) == 1, kayako.cases
    with app.app_context():
        ticket = db.session.scalar(select(TicketOutbox))
        assert ticket.status == "delivered" and ticket.external_id == str(next(iter(kayako.cases)))
        assert [a.ok for a in ticket.attempt_log] == [False, True]
        assert "429" in ticket.attempt_log[0].error


def test_a_claim_taken_over_is_not_delivered_twice(kayako_app, kayako):
    from callflow.outbox import claim_due, renew_claim

    kayako_app.config["TICKET_CLAIM_TTL_S"] = 60
    for _ in range(2):
        resolved_call(Caller(kayako_app.test_client()))
    with kayako_app.app_context():
        first, second = claim_due(owner="worker-a")
        # worker-a spends its whole claim on the first ticket; worker-b takes the second one over
        db.session.execute(update(TicketOutbox).values(claimed_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        (taken,) = claim_due(limit=1, owner="worker-b")
        assert taken.id == first.id  # the oldest expired claim goes first
        assert renew_claim(second, owner="worker-a")  # still its own: renewed for a full TTL
        db.session.refresh(second)
        assert second.claimed_until > utcnow() + timedelta(seconds=50)
        assert not renew_claim(first, owner="worker-a")  # worker-b has it now
        row = db.session.get(TicketOutbox, first.id)
        assert (row.status, row.claimed_by) == ("sending", "worker-b")


def test_retry_leaves_a_ticket_being_sent_alone(kayako_app, kayako):
    from callflow.outbox import claim_due

    kayako_app.config["TICKET_CLAIM_TTL_S"] = 60
    resolved_call(Caller(kayako_app.test_client()))
    with kayako_app.app_context():
        (ticket,) = claim_due(owner="worker-a")
        ticket_id = ticket.id
    result = kayako_app.test_cli_runner().invoke(args=["tickets", "retry", str(ticket_id)])
    assert result.exit_code != 0 and "being sent" in result.output
    with kayako_app.app_context():
        row = db.session.get(TicketOutbox, ticket_id)
        assert (row.status, row.claimed_by) == ("sending", "worker-a")  # the worker's claim stands
        db.session.execute(update(TicketOutbox).values(claimed_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    result = kayako_app.test_cli_runner().invoke(args=["tickets", "retry", str(ticket_id)])
    assert result.exit_code == 0 and "queued" in result.output  # its worker died: queued again
    with kayako_app.app_context():
        row = db.session.get(TicketOutbox, ticket_id)
        assert (row.status, row.claimed_by, row.claimed_until) == ("queued", None, None)


def test_openai_slow_falls_back_within_the_turn_deadline(tmp_path):
    with FakeOpenAI(api_key="sk-test") as fake:
        config = base_config(tmp_path)
        config.update(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake.base_url, OPENAI_DRAFT_TIMEOUT_S=1.0, OPENAI_TTS_TIMEOUT_S=1.0)
        app = make_app(config)
        caller = Caller(app.test_client())
        caller.start()
        caller.say("Jane")
        caller.say("jane at example dot com")
        caller.say("yes")
        fake.hang = 20  # every OpenAI request now hangs far past its deadline
        started = time.monotonic()
        root = caller.say("how do I reset my password")
        elapsed = time.monotonic() - started
        fake.reset()
    assert elapsed < 5.5  # drafting (1 s) and speech (the rest of the 5 s budget) gave up in time
    texts = [el.text for el in root.iter("Say")]
    assert any(t.startswith("From our article") for t in texts) and prompts.CHECK_RESOLVED in texts


def _break_database(app, selects: int):
    """Make the next ``selects`` SELECT statements fail as if the server were gone."""
    with app.app_context():
        engine = db.engine
    left = {"n": selects}

    def broken(conn, cursor, statement, parameters, context, executemany):
        if left["n"] and statement.lstrip().upper().startswith("SELECT"):
            left["n"] -= 1
            raise OperationalError(statement, parameters, Exception("database is down"))

    event.listen(engine, "before_cursor_execute", broken)
    return lambda: event.remove(engine, "before_cursor_execute", broken)


def test_a_database_glitch_is_retried_invisibly(app, caller):
    caller.start()
    restore = _break_database(app, selects=1)
    try:
        caller.say("Maria")
    finally:
        restore()
    assert prompts.ASK_EMAIL in caller.text()


def test_database_unavailable_for_one_request_gets_a_spoken_apology(app, caller):
    caller.start()
    restore = _break_database(app, selects=1000)
    try:
        response = caller.post(caller.action, caller.params(SpeechResult="Maria"))
    finally:
        restore()
    assert response.status_code == 200 and response.mimetype == "text/xml"
    assert b"one moment" in response.data
    # once the database is back, the Redirect carries the call on (the caller is asked again)
    redirect = caller._follow(response).find("Redirect").text
    root = caller._follow(caller.post(redirect[len("https://callflow.example.test"):], caller.params()))
    assert prompts.DIDNT_CATCH in caller.text() and root.find("Gather") is not None


def test_database_down_for_good_still_answers_twiml(app, caller):
    caller.start()
    with app.app_context():
        engine = db.engine

    def broken(conn, cursor, statement, parameters, context, executemany):
        raise OperationalError(statement, parameters, Exception("database is down"))

    event.listen(engine, "before_cursor_execute", broken)
    try:
        first = caller.post(caller.action, caller.params(SpeechResult="Maria"))
        root = caller._follow(first)
        redirect = root.find("Redirect").text
        second = caller.post(redirect[len("https://callflow.example.test"):], caller.params())
        incoming = Caller(app.test_client()).post("/voice/incoming", caller.params(CallSid="CA" + "9" * 32))
    finally:
        event.remove(engine, "before_cursor_execute", broken)
    assert second.status_code == 200 and prompts.APOLOGY.encode() in second.data and b"<Hangup" in second.data
    assert incoming.status_code == 200 and b"<Say" in incoming.data


def test_a_caller_the_database_failed_at_the_greeting_is_passed_to_a_person(app, caller):
    """The database was down when the call came in: the caller heard "something went wrong... I'll pass this
    on to our expert team" and the call has no row. Its status callback (database back) queued an
    ``abandoned`` ticket of normal priority, "no question captured": nobody followed up as promised.
    A ``completed`` call we never greeted was answered by something else (this apology, Twilio's
    "application error" or the fallback URL): it is passed to a person as interrupted by a system error."""
    restore = _break_database(app, selects=1000)
    try:
        incoming = caller.post("/voice/incoming", caller.params(CallStatus="ringing"))
    finally:
        restore()
    assert prompts.ESCALATE.encode() in incoming.data and b"<Hangup" in incoming.data
    caller.hangup(duration=12)
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid))
        assert (call.outcome, call.escalation_reason, call.duration_s) == ("needs-human", "error", 12)
        payload = call.ticket.payload
    assert payload["tags"] == ["ai-call", "needs-human"] and payload["priority"] == "urgent"
    assert payload["subject"] == "Phone call interrupted by a system error"
    assert "A system error interrupted the call." in payload["summary"]


@pytest.mark.parametrize("status", ["no-answer", "canceled", "busy", "failed"])
def test_a_caller_who_hung_up_before_the_greeting_is_abandoned(app, caller, status):
    """Not answered (the caller hung up while it rang: ``no-answer`` since 2024-10-01, ``canceled`` before;
    https://www.twilio.com/docs/voice/twiml/changelog): nobody was promised anything, an ``abandoned`` ticket."""
    caller.hangup(status=status, duration=0)
    with app.app_context():
        payload = db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid)).ticket.payload
    assert payload["tags"] == ["ai-call", "abandoned"] and payload["priority"] == "normal"


def test_twilio_never_finalizes_the_sweeper_does(app, caller, runner):
    caller.start()
    caller.say("Maria")
    idle_calls(app)
    result = runner.invoke(args=["tickets", "worker", "--once"])
    assert result.exit_code == 0 and "finalized 1" in result.output
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid))
        assert call.ended_at is not None and call.outcome == "abandoned"
        assert call.ticket.payload["tags"] == ["ai-call", "abandoned"]


def test_finished_calls_are_swept_after_two_minutes(app, caller, runner):
    caller.start()
    caller.say("let me talk to a person")
    result = runner.invoke(args=["tickets", "worker", "--once"])
    assert "finalized 0" in result.output  # too soon: Twilio's status callback may still come
    idle_calls(app, minutes=3)
    result = runner.invoke(args=["tickets", "worker", "--once"])
    assert "finalized 1" in result.output
    with app.app_context():
        assert db.session.scalar(select(TicketOutbox)).payload["tags"] == ["ai-call", "needs-human"]


def test_sweeper_losing_a_race_to_a_webhook_skips_the_call_and_keeps_running(app, caller, runner):
    """A webhook moving the call between the sweeper's read and its write: no crash, no ticket
    twice; the next sweep finalizes the call."""
    caller.start()
    caller.say("Maria")
    idle_calls(app)
    with app.app_context():
        engine = db.engine
    raced = {"n": 0}

    def webhook_first(conn, cursor, statement, parameters, context, executemany):
        if not raced["n"] and "UPDATE call SET" in statement:
            raced["n"] += 1
            cursor.execute("UPDATE call SET version = version + 1")  # the "webhook" wins

    event.listen(engine, "before_cursor_execute", webhook_first)
    try:
        first = runner.invoke(args=["tickets", "worker", "--once"])
    finally:
        event.remove(engine, "before_cursor_execute", webhook_first)
    assert raced["n"] == 1
    assert first.exit_code == 0 and "finalized 0" in first.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TicketOutbox)) == 0
    second = runner.invoke(args=["tickets", "worker", "--once"])
    assert second.exit_code == 0 and "finalized 1" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TicketOutbox)) == 1


def test_worker_loop_outlives_a_database_outage(app, caller, runner, monkeypatch, caplog):
    """The long-running ``tickets worker`` keeps going through database errors, backing off,
    and finalizes the call once the database answers again."""
    caller.start()
    caller.say("Maria")
    idle_calls(app)
    pauses: list[float] = []

    class Stop(Exception):
        pass

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 4:  # three failed rounds, then one good round
            raise Stop

    monkeypatch.setattr("callflow.cli.time.sleep", sleep)
    app.config["TICKET_WORKER_POLL_S"] = 2.0
    restore = _break_database(app, selects=3)
    try:
        result = runner.invoke(args=["tickets", "worker"])
    finally:
        restore()
    assert isinstance(result.exception, Stop)  # the loop was still running: no exit on the errors
    assert pauses == [2.0, 4.0, 8.0, 2.0]  # backoff while down, the normal poll once back
    warnings = [r.getMessage() for r in caplog.records if r.name == "callflow.cli"]
    assert sum("database error (OperationalError)" in m for m in warnings) == 3
    assert any("the database is back" in m for m in warnings)
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid))
        assert call.outcome == "abandoned" and call.ticket is not None


def test_worker_once_still_fails_on_a_database_error(app, runner):
    restore = _break_database(app, selects=1)
    try:
        result = runner.invoke(args=["tickets", "worker", "--once"])
    finally:
        restore()
    assert result.exit_code != 0 and isinstance(result.exception, OperationalError)


def test_a_ticket_deleted_during_its_delivery_does_not_stop_the_worker(kayako_app, kayako, caplog):
    """The row went away while Kayako was creating its case (an operator's DELETE, a restore): the worker logged
    it and went on with the next ticket. It died on ``ObjectDeletedError`` reading the deleted row's id."""
    import threading

    from callflow.outbox import run_once

    for _ in range(2):
        resolved_call(Caller(kayako_app.test_client()))
    kayako.delay(1.0, "/api/v1/cases", method="POST", n=1, exact=True)
    with kayako_app.app_context():
        first_id = min(db.session.scalars(select(TicketOutbox.id)))

    def delete_when_posted():
        deadline = time.monotonic() + 10
        while not kayako.requests_for("/api/v1/cases", "POST", exact=True) and time.monotonic() < deadline:
            time.sleep(0.01)
        with kayako_app.app_context():
            db.session.execute(delete(TicketOutbox).where(TicketOutbox.id == first_id))
            db.session.commit()
            db.session.remove()

    deleter = threading.Thread(target=delete_when_posted)
    deleter.start()
    with kayako_app.app_context():
        counts = run_once()
    deleter.join()
    assert counts.get("failed") == 1 and counts.get("delivered") == 1
    assert f"ticket {first_id}: delivery crashed" in caplog.text
    with kayako_app.app_context():
        (row,) = db.session.scalars(select(TicketOutbox))
        assert (row.status, row.external_id is not None) == ("delivered", True)


def test_a_turn_held_up_by_a_lock_answers_within_the_lock_timeout(tmp_path, database_url):
    """A migration or a long transaction locks the call table: the turn waited for it (39 s measured, past
    Twilio's 15 s and gunicorn's timeout). Now PostgreSQL's lock_timeout ends the wait, once, and the caller hears
    "one moment" while Twilio posts the Gather again."""
    if not database_url.startswith("postgresql"):
        pytest.skip("lock_timeout is PostgreSQL's; SQLite waits busy_timeout (5 s) and is one file per instance")
    import threading

    from sqlalchemy import create_engine, text

    app = make_app(dict(base_config(tmp_path, database_url), DB_LOCK_TIMEOUT_MS=300))
    caller = Caller(app.test_client())
    caller.start()
    locker = create_engine(database_url).connect()
    locker.execute(text("LOCK TABLE call IN ACCESS EXCLUSIVE MODE"))  # held until the rollback
    release = threading.Timer(8.0, locker.rollback)
    release.start()
    try:
        started = time.monotonic()
        response = caller.post(caller.action, caller.params(SpeechResult="Maria"))
        elapsed = time.monotonic() - started
    finally:
        release.cancel()
        locker.rollback()
        locker.close()
    assert response.status_code == 200 and b"one moment" in response.data
    assert elapsed < 3.0, elapsed  # one 0.3 s wait, not three, and not the 8 s the lock was held
    redirect = caller._follow(response).find("Redirect").text  # the lock is gone: the call goes on
    caller._follow(caller.post(redirect[len("https://callflow.example.test"):], caller.params(SpeechResult="Maria")))
    assert "Maria" in caller.text()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_postgresql_time_limits_are_for_the_web_processes_only():
    from callflow.extensions import postgresql_engine_options

    config = {"DB_CONNECT_TIMEOUT_S": 4, "DB_LOCK_TIMEOUT_MS": 3000, "DB_STATEMENT_TIMEOUT_MS": 8000}
    given = {"pool_pre_ping": True, "connect_args": {"options": "-c timezone=UTC"}}
    serving = postgresql_engine_options(given, config, serving=True)
    assert serving["pool_pre_ping"] and serving["connect_args"] == {
        "connect_timeout": 4, "options": "-c timezone=UTC -c lock_timeout=3000 -c statement_timeout=8000"}
    assert postgresql_engine_options(given, config, serving=False)["connect_args"] == {
        "connect_timeout": 4, "options": "-c timezone=UTC"}  # migrations and the worker keep no statement limit
    assert given["connect_args"] == {"options": "-c timezone=UTC"}  # not changed in place
