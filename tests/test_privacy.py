"""`calls purge` (retention) and `calls forget` (erasure): what goes, what stays, what is printed."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Optional
from uuid import uuid4

import pytest
from sqlalchemy import func, select, update

from callflow.clock import utcnow
from callflow.extensions import db
from callflow.models import Call, TicketAttempt, TicketOutbox, Turn
from callflow.privacy import forget_caller, parse_age, phone_digits, purge_calls

from .conftest import Caller

JANE_EMAIL = "jane.doe@example.com"
JANE_PHONE = "+14155550100"
BOB_PHONE = "+442071838750"
SECRETS = (JANE_EMAIL, "jane dot doe", JANE_PHONE, "4155550100", BOB_PHONE, "2071838750", "bob@example.org")


def place_call(client, from_number: str, spoken_email: str) -> str:
    """A whole call through the webhooks that ends with a queued ticket; returns its CallSid."""
    caller = Caller(client, from_number=from_number)
    caller.start()
    caller.say("My name is Pat")
    caller.say(spoken_email)
    caller.say("yes")
    caller.say("I forgot my password and can't log in, how do I reset it")
    caller.say("yes it did")
    caller.say("no that's all")
    caller.hangup(duration=50)
    return caller.call_sid


def add_call(
    *,
    from_number: Optional[str] = None,
    email: Optional[str] = None,
    age: timedelta = timedelta(days=1),
    ticket_status: Optional[str] = "delivered",
    finalized: bool = True,
    attempts: int = 1,
) -> str:
    """A call row with two turns, a ticket (unless ``ticket_status`` is None) and attempts."""
    started = utcnow() - age
    call = Call(
        call_sid="CA" + uuid4().hex,
        from_number=from_number,
        email=email,
        state="goodbye" if finalized else "answer",
        started_at=started,
        ended_at=started + timedelta(minutes=1) if finalized else None,
        outcome="ai-resolved" if finalized else None,
    )
    db.session.add(call)
    for seq, speaker in enumerate(("agent", "caller"), 1):
        db.session.add(Turn(call=call, seq=seq, speaker=speaker, text="hello", state="greet"))
    if ticket_status:
        ticket = TicketOutbox(
            call=call, payload={"requester": {"email": email, "phone": from_number}}, status=ticket_status,
            external_id="1001" if ticket_status == "delivered" else None,
        )
        db.session.add(ticket)
        for _ in range(attempts):
            db.session.add(TicketAttempt(ticket=ticket, ok=ticket_status == "delivered"))
    db.session.commit()
    return call.call_sid


def age_call(call_sid: str, days: int, ticket_status: Optional[str] = None) -> None:
    call = db.session.scalar(select(Call).where(Call.call_sid == call_sid))
    call.started_at = utcnow() - timedelta(days=days)
    if ticket_status:
        call.ticket.status = ticket_status
    db.session.commit()


def sids() -> set[str]:
    return set(db.session.scalars(select(Call.call_sid)))


def counts() -> dict[str, int]:
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Call, Turn, TicketOutbox, TicketAttempt)
    }


def assert_no_personal_data(output: str, records: list[logging.LogRecord]) -> None:
    texts = [output] + [r.getMessage() for r in records] + [repr(r.args) for r in records]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [("90d", timedelta(days=90)), ("36h", timedelta(hours=36)), (" 1D ", timedelta(days=1))])
def test_parse_age(text, expected):
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["", "90", "d", "0d", "-5d", "1.5d", "3w", "90 days", "99999999d"])
def test_parse_age_rejects(text):
    with pytest.raises(ValueError):
        parse_age(text)


def test_phone_digits():
    assert phone_digits("+1 (415) 555-0100") == "14155550100" and phone_digits(None) == ""


# -- purge -------------------------------------------------------------------------------------


def test_purge_deletes_old_delivered_calls_and_keeps_undelivered_and_recent(app, client, caplog):
    webhook_old = place_call(client, JANE_PHONE, "jane dot doe at example dot com")
    webhook_recent = place_call(client, BOB_PHONE, "bob at example dot org")
    with app.app_context():
        age_call(webhook_old, 120, ticket_status="delivered")
        age_call(webhook_recent, 10, ticket_status="delivered")
        old_delivered = add_call(from_number=JANE_PHONE, age=timedelta(days=100), attempts=3)
        old_local = add_call(age=timedelta(days=91), ticket_status="local", attempts=0)
        old_queued = add_call(age=timedelta(days=200), ticket_status="queued", attempts=0)
        old_sending = add_call(age=timedelta(days=200), ticket_status="sending")
        old_failed = add_call(age=timedelta(days=365), ticket_status="failed", attempts=5)
        old_unfinalized = add_call(age=timedelta(days=95), ticket_status=None, finalized=False)
        old_finalized_no_ticket = add_call(age=timedelta(days=95), ticket_status=None)
        recent = add_call(age=timedelta(days=89))
        before = counts()

    runner = app.test_cli_runner()
    with caplog.at_level(logging.DEBUG):
        dry = runner.invoke(args=["calls", "purge", "--older-than", "90d", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output and "4 calls" in dry.output and "kept 4" in dry.output
    with app.app_context():
        assert counts() == before

    with caplog.at_level(logging.DEBUG):
        result = runner.invoke(args=["calls", "purge", "--older-than", "90d"])
    assert result.exit_code == 0, result.output
    assert "deleted 4 calls" in result.output and "kept 4" in result.output
    assert_no_personal_data(result.output + dry.output, caplog.records)

    with app.app_context():
        remaining = sids()
        assert {webhook_old, old_delivered, old_local, old_finalized_no_ticket}.isdisjoint(remaining)
        assert {webhook_recent, recent, old_queued, old_sending, old_failed, old_unfinalized} <= remaining
        after = counts()
        assert after["call"] == before["call"] - 4
        # no orphans anywhere
        call_ids = set(db.session.scalars(select(Call.id)))
        assert set(db.session.scalars(select(Turn.call_id))) <= call_ids
        assert set(db.session.scalars(select(TicketOutbox.call_id))) <= call_ids
        ticket_ids = set(db.session.scalars(select(TicketOutbox.id)))
        assert set(db.session.scalars(select(TicketAttempt.ticket_id))) <= ticket_ids
        # the undelivered tickets are intact, attempts included
        failed = db.session.scalar(select(Call).where(Call.call_sid == old_failed))
        assert failed.ticket.status == "failed" and len(failed.ticket.attempt_log) == 5 and len(failed.turns) == 2


def test_purge_by_hours_and_report(app):
    with app.app_context():
        add_call(age=timedelta(hours=50))
        add_call(age=timedelta(hours=10))
        report = purge_calls(timedelta(hours=48))
        assert (report.calls, report.turns, report.tickets, report.attempts, report.kept) == (1, 2, 1, 1, 0)
        assert len(sids()) == 1
        assert purge_calls(timedelta(hours=48)).calls == 0  # idempotent


def test_purge_rejects_a_bad_age(app):
    result = app.test_cli_runner().invoke(args=["calls", "purge", "--older-than", "ninety"])
    assert result.exit_code == 2 and "--older-than" in result.output
    result = app.test_cli_runner().invoke(args=["calls", "purge"])
    assert result.exit_code == 2


# -- forget ------------------------------------------------------------------------------------


def test_forget_by_email_erases_every_call_of_that_caller_only(app, client, caplog):
    jane_1 = place_call(client, JANE_PHONE, "jane dot doe at example dot com")
    jane_2 = place_call(client, "+15005550006", "jane dot doe at example dot com")  # another phone, same email
    bob = place_call(client, BOB_PHONE, "bob at example dot org")
    with app.app_context():
        jane_3 = add_call(email="JANE.Doe@Example.com", ticket_status="queued")  # undelivered: erased anyway
        other = add_call(email="jane.doe@example.co", from_number="+15005550007")
        assert db.session.scalar(select(Call.email).where(Call.call_sid == jane_1)) == JANE_EMAIL

    runner = app.test_cli_runner()
    dry = runner.invoke(args=["calls", "forget", "--email", "Jane.Doe@EXAMPLE.com", "--dry-run"])
    assert dry.exit_code == 0 and "would delete 3 calls" in dry.output
    with app.app_context():
        assert {jane_1, jane_2, jane_3} <= sids()

    with caplog.at_level(logging.DEBUG):
        result = runner.invoke(args=["calls", "forget", "--email", "Jane.Doe@EXAMPLE.com"])
    assert result.exit_code == 0, result.output
    assert "deleted 3 calls" in result.output and "3 tickets had not reached the helpdesk" in result.output
    assert "Kayako" in result.output and "requester" in result.output
    assert_no_personal_data(result.output + dry.output, caplog.records)
    assert "jane" not in result.output.lower()

    with app.app_context():
        remaining = sids()
        assert {jane_1, jane_2, jane_3}.isdisjoint(remaining)
        assert {bob, other} <= remaining
        bob_call = db.session.scalar(select(Call).where(Call.call_sid == bob))
        assert bob_call.ticket is not None and len(bob_call.turns) > 5
        emails = set(db.session.scalars(select(Call.email)))
        assert all((e or "").lower() != JANE_EMAIL for e in emails)
        turn_texts = " ".join(db.session.scalars(select(Turn.text)))
        assert "jane" not in turn_texts.lower()


def test_forget_by_phone_matches_digits_in_any_format(app, client, caplog):
    jane = place_call(client, JANE_PHONE, "jane dot doe at example dot com")
    bob = place_call(client, BOB_PHONE, "bob at example dot org")
    with app.app_context():
        jane_formatted = add_call(from_number="+1 (415) 555-0100")
        not_jane = add_call(from_number="+14155550101")
        national = add_call(from_number="4155550100")  # no country code: a different number, kept

    with caplog.at_level(logging.DEBUG):
        result = app.test_cli_runner().invoke(args=["calls", "forget", "--phone", "+1 415-555-0100"])
    assert result.exit_code == 0, result.output
    assert "deleted 2 calls" in result.output
    assert_no_personal_data(result.output, caplog.records)
    with app.app_context():
        remaining = sids()
        assert {jane, jane_formatted}.isdisjoint(remaining)
        assert {bob, not_jane, national} <= remaining


def test_forget_with_both_options_and_case_ids(app):
    with app.app_context():
        add_call(email="a@example.com", from_number="+15005550001")
        add_call(email="x@example.com", from_number="+15005550002", ticket_status="local", attempts=0)
        add_call(email="y@example.com", from_number="+15005550003")
        report = forget_caller(email="A@example.com", phone="15005550002")
        assert (report.calls, report.tickets, report.attempts, report.turns) == (2, 2, 1, 4)
        assert report.case_ids == ["1001"] and report.undelivered == 0
        assert len(sids()) == 1


@pytest.mark.parametrize(
    "args",
    [[], ["--email", ""], ["--phone", "  "], ["--email", "not-an-address"], ["--phone", "12"], ["--phone", "anonymous"]],
)
def test_forget_refuses_without_a_usable_option(app, args):
    with app.app_context():
        add_call(from_number="anonymous", email=None)
    result = app.test_cli_runner().invoke(args=["calls", "forget", *args])
    assert result.exit_code == 2, result.output
    with app.app_context():
        assert len(sids()) == 1


def test_forget_refuses_in_python_too(app):
    with app.app_context(), pytest.raises(ValueError):
        forget_caller()


def test_forget_keeps_a_call_still_in_progress_and_the_call_goes_on(app, client):
    """Erasing a caller who is still on the line: the live call is kept (not restarted from the
    greeting with the number stored again); once it ended, a second run erases it."""
    caller = Caller(client, from_number=JANE_PHONE)
    caller.start()
    caller.say("My name is Pat")
    caller.say("jane dot doe at example dot com")
    caller.say("yes")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["calls", "forget", "--phone", JANE_PHONE])
    assert result.exit_code == 0 and "deleted 0 calls" in result.output and "kept 1 calls" in result.output
    caller.say("how do I reset my password")
    assert "reset" in caller.text().lower() and "may i have your name" not in caller.text().lower()
    caller.say("yes")
    caller.say("no that's all")
    caller.hangup()
    result = runner.invoke(args=["calls", "forget", "--phone", JANE_PHONE])
    assert "deleted 1 calls" in result.output and "calls forget: kept" not in result.output
    with app.app_context():
        assert counts() == {"call": 0, "turn": 0, "ticket_outbox": 0, "ticket_attempt": 0}


def test_forget_keeps_a_call_whose_ticket_a_worker_is_delivering(app, client):
    """A ticket claimed by a worker is on its way to the helpdesk: erasing it now would not stop
    the case (it reached Kayako after the erasure, and its case id was never reported)."""
    from callflow.outbox import claim_due

    sid = place_call(client, JANE_PHONE, "jane dot doe at example dot com")
    with app.app_context():
        (ticket,) = claim_due(owner="worker-a")  # the worker is delivering it right now
        report = forget_caller(email=JANE_EMAIL)
        assert (report.calls, report.tickets, report.busy) == (0, 0, 1)
        assert sid in sids()
        db.session.execute(update(TicketOutbox).values(claimed_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()  # the worker died: its claim ran out, nothing is being delivered now
        report = forget_caller(email=JANE_EMAIL)
        assert (report.calls, report.tickets, report.busy, report.undelivered) == (1, 1, 0, 1)
        assert not sids()
