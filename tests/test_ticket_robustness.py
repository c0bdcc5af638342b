"""Ticket composition and the tickets worker against what outlives a call: a removed help-center article, a
ticket retried for days, an email Kayako refuses, odd caller ids. One broken call or ticket must not stop the rest."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from callflow.clock import utcnow
from callflow.extensions import db
from callflow.models import Call, KbArticle, TicketOutbox

from .conftest import Caller, idle_calls, resolved_call
from .test_faults import kayako, kayako_app  # noqa: F401 (fixtures: a fake Kayako and an app delivering to it)


def drop_kb(app) -> None:
    """`kb load other.json` / `kb sync` removed the article the call used."""
    with app.app_context():
        db.session.execute(delete(KbArticle))
        db.session.commit()


# --- 1. article gone -> escape(None) in compose_ticket -------------------------------------
def test_status_callback_after_article_removed_queues_a_ticket(app, caller):
    resolved_call(caller, hang_up=False)
    with app.app_context():
        assert db.session.scalar(select(Call.article_id))  # the call used an article
    drop_kb(app)
    caller.hangup()  # conftest asserts 200/204
    with app.app_context():
        assert db.session.scalar(select(TicketOutbox)) is not None


def test_sweeper_survives_a_call_whose_article_was_removed(app, runner):
    bad, good = Caller(app.test_client()), Caller(app.test_client())
    resolved_call(bad, hang_up=False)
    drop_kb(app)
    good.start()
    good.say("Maria")
    idle_calls(app)
    result = runner.invoke(args=["tickets", "worker", "--once"])
    assert result.exception is None, repr(result.exception)
    with app.app_context():
        # every idle call gets its ticket, the one with a removed article too
        assert len(db.session.scalars(select(TicketOutbox)).all()) == 2


class StubSummarizer:
    """Stands in for OpenAIDrafter.summarize (OPENAI_API_KEY set)."""

    def summarize(self, transcript):
        from callflow.drafts import CallSummary
        return CallSummary(summary="The caller asked about a password.", topic="password reset", sentiment="neutral")


def test_local_worker_with_summarizer_survives_a_removed_article(app, runner):
    app.extensions["summarizer"] = StubSummarizer()
    resolved_call(Caller(app.test_client()))  # ticket 1 queued while the article still existed
    drop_kb(app)
    other = Caller(app.test_client())  # ticket 2: an unrelated call, no article
    other.start()
    other.say("let me talk to a person")
    other.hangup()
    errors = []
    for _ in range(2):  # the supervisor restarts the worker once the claims have expired
        errors.append(repr(runner.invoke(args=["tickets", "worker", "--once"]).exception))
        with app.app_context():
            db.session.execute(update(TicketOutbox).values(claimed_until=utcnow() - timedelta(seconds=1)))
            db.session.commit()
    with app.app_context():
        statuses = db.session.scalars(select(TicketOutbox.status).order_by(TicketOutbox.id)).all()
    assert (statuses, errors) == (["local", "local"], ["None", "None"])


def test_kayako_worker_with_summarizer_delivers_after_article_removed(kayako_app, kayako):
    kayako_app.extensions["summarizer"] = StubSummarizer()
    resolved_call(Caller(kayako_app.test_client()))
    drop_kb(kayako_app)
    for _ in range(3):
        kayako_app.test_cli_runner().invoke(args=["tickets", "worker", "--once"])
    with kayako_app.app_context():
        ticket = db.session.scalar(select(TicketOutbox))
        assert (ticket.status, ticket.last_error) == ("delivered", None), (ticket.status, ticket.last_error)
    assert len(kayako.cases) == 1


# --- 2. backoff overflow ----------------------------------------------------------------
def test_backoff_after_many_attempts_does_not_crash_the_worker(kayako_app, kayako):
    kayako_app.config["TICKET_RETRY_BASE_S"] = 30.0  # the default (config.py: float(env or "30"))
    resolved_call(Caller(kayako_app.test_client()))
    with kayako_app.app_context():  # e.g. ~13 `tickets retry` rounds of ~78 attempts each
        db.session.execute(update(TicketOutbox).values(attempts=1024))
        db.session.commit()
    kayako.fail_next(500, n=None)
    result = kayako_app.test_cli_runner().invoke(args=["tickets", "worker", "--once"])
    assert result.exception is None, repr(result.exception)
    with kayako_app.app_context():
        assert db.session.scalar(select(TicketOutbox.status)) == "queued"  # not stuck in "sending"


# --- 2b. a hostile error message -------------------------------------------------------
def test_kayako_error_message_with_a_lone_surrogate_is_retried(kayako_app, kayako):
    resolved_call(Caller(kayako_app.test_client()))
    # "\ud800" in a JSON string decodes to a lone surrogate, which no database stores (UnicodeEncodeError)
    kayako.fail_next(503, message="busy \ud800\x85 try later", n=None, path_prefix="/api/v1/cases", method="POST")
    result = kayako_app.test_cli_runner().invoke(args=["tickets", "worker", "--once"])
    assert result.exit_code == 0, result.output
    with kayako_app.app_context():
        ticket = db.session.scalar(select(TicketOutbox))
        assert ticket.status == "queued", (ticket.status, ticket.last_error)  # transient: retried, not parked
        assert ticket.last_error.endswith("busy try later"), ticket.last_error
        assert [a.ok for a in ticket.attempt_log] == [False]  # the attempt is recorded


# --- 3. caller's email refused by Kayako ------------------------------------------------
def test_email_refused_by_kayako_still_creates_the_case(kayako_app, kayako):
    resolved_call(Caller(kayako_app.test_client()))
    # Kayako refuses the confirmed address (e.g. a blocked domain or its own stricter syntax rules)
    kayako.fail_next(400, code="FIELD_INVALID", parameter="email", path_prefix="/api/v1/users",
                     method="POST", exact=True)
    result = kayako_app.test_cli_runner().invoke(args=["tickets", "worker", "--once"])
    assert result.exit_code == 0, result.output
    with kayako_app.app_context():
        ticket = db.session.scalar(select(TicketOutbox))
        assert ticket.status == "delivered", (ticket.status, ticket.last_error)
    assert len(kayako.cases) == 1


def test_email_in_use_that_autocomplete_misses_still_creates_the_case(kayako_app, kayako):
    """The caller is already a Kayako user, but autocomplete (a search) does not return the address: the
    ``FIELD_DUPLICATE`` used to fail the ticket for good (no case for the call)."""
    jane = kayako.add_user("Jane", email="jane@example.com")
    kayako.respond_next(200, {"status": 200, "data": [], "total_count": 0}, n=None, path_prefix="/api/v1/autocomplete")
    resolved_call(Caller(kayako_app.test_client()))
    result = kayako_app.test_cli_runner().invoke(args=["tickets", "worker", "--once"])
    assert result.exit_code == 0, result.output
    with kayako_app.app_context():
        ticket = db.session.scalar(select(TicketOutbox))
        assert ticket.status == "delivered", (ticket.status, ticket.last_error)
    assert [c["requester_id"] for c in kayako.cases.values()] == [jane]


# --- 3b. KAYAKO_URL answered by a redirect -----------------------------------------------
def test_a_redirecting_kayako_keeps_the_tickets_queued_and_says_why(kayako_app, kayako, caplog):
    """``KAYAKO_URL=http://...`` for an https-only instance: every ticket used to be parked as failed (one
    ``tickets retry ID`` each once the URL was fixed) with ``Kayako 301 ERROR: HTTP 301``, logged as
    ``delivery failed (KayakoError)``. Now queued for its backoff, saying where the API moved to."""
    kayako.respond_next(301, "", n=None, headers={"Location": "https://acme.kayako.com/api/v1/me.json"})
    resolved_call(Caller(kayako_app.test_client()))
    result = kayako_app.test_cli_runner().invoke(args=["tickets", "worker", "--once"])
    assert result.exit_code == 0, result.output
    with kayako_app.app_context():
        ticket = db.session.scalar(select(TicketOutbox))
        assert ticket.status == "queued", (ticket.status, ticket.last_error)
        assert "301 REDIRECTED: redirected to https://acme.kayako.com, not followed" in ticket.last_error
    assert "delivery failed (KayakoError 301 REDIRECTED), status queued" in caplog.text
    kayako.clear_faults()
    with kayako_app.app_context():  # the URL fixed: delivered at its next attempt, without anyone's help
        db.session.execute(update(TicketOutbox).values(next_attempt_at=utcnow()))
        db.session.commit()
    kayako_app.test_cli_runner().invoke(args=["tickets", "worker", "--once"])
    with kayako_app.app_context():
        assert db.session.scalar(select(TicketOutbox.status)) == "delivered"
    assert len(kayako.cases) == 1


# --- odd caller ids and markup, finalized twice -----------------------------------------
@pytest.mark.parametrize("from_number", ["anonymous", "+266696687", "client:alice", "sip:bob@example.com;x=<b>", ""])
def test_odd_caller_ids_and_markup_deliver_escaped(kayako_app, kayako, from_number):
    caller = Caller(kayako_app.test_client(), from_number=from_number)
    caller.start()
    caller.say("<script>alert(1)</script> & Co")
    caller.say("<b>help</b> my \"password\" <img src=x onerror=alert(1)> " + "x" * 300)
    caller.say("yes")
    caller.hangup()
    result = kayako_app.test_cli_runner().invoke(args=["tickets", "worker", "--once"])
    assert result.exit_code == 0, result.output
    (case,) = kayako.cases.values()
    assert "<script" not in case["contents"] and "<img" not in case["contents"]
    assert len(case["subject"]) <= 120


def test_finalized_twice_and_call_without_turns_are_fine(app, runner):
    twice = Caller(app.test_client())
    twice.start()
    twice.hangup()
    twice.hangup(status="failed")  # a second terminal callback
    never = Caller(app.test_client())
    never.hangup()  # status callback for a call we never answered: no turns
    runner.invoke(args=["tickets", "worker", "--once"])
    with app.app_context():
        payloads = [t.payload for t in db.session.scalars(select(TicketOutbox))]
    assert len(payloads) == 2 and all(p["subject"] for p in payloads)


class OverlongSummarizer:
    """A summarizer whose sentiment overflows the call's 16-character column: PostgreSQL refuses the commit."""

    def summarize(self, transcript):
        from callflow.drafts import CallSummary
        return CallSummary(summary="A summary.", topic="password", sentiment="x" * 100)


def test_one_ticket_that_cannot_be_saved_does_not_stop_the_others(app, runner, database_url):
    """A bug in one delivery (here: a value too long for its column, on PostgreSQL) used to end the worker loop,
    and every restart crashed on the same ticket while the rest of its batch waited."""
    first, second = Caller(app.test_client()), Caller(app.test_client())
    resolved_call(first)
    app.extensions["summarizer"] = OverlongSummarizer()
    result = runner.invoke(args=["tickets", "worker", "--once"])
    assert result.exception is None, repr(result.exception)
    app.extensions["summarizer"] = None
    resolved_call(second)
    assert runner.invoke(args=["tickets", "worker", "--once"]).exception is None
    with app.app_context():
        statuses = db.session.scalars(select(TicketOutbox.status).order_by(TicketOutbox.id)).all()
        errors = db.session.scalars(select(TicketOutbox.last_error).order_by(TicketOutbox.id)).all()
    if database_url.startswith("postgresql"):
        assert statuses == ["failed", "local"] and "StringDataRightTruncation" in (errors[0] or "")
    else:  # SQLite does not enforce the length: nothing to crash on
        assert statuses == ["local", "local"]


def test_every_command_help_is_plain_text(app, runner):
    """`flask --app wsgi GROUP COMMAND --help` is read by an operator: no reST markup, no internal names."""
    import click

    from callflow.cli import WORKER_BACKOFF_MAX_S

    for name in ("kb", "tickets", "tts", "calls", "admin", "simulate"):
        command = app.cli.get_command(click.Context(app.cli), name)
        subcommands = command.commands if isinstance(command, click.Group) else {"": command}
        for sub in subcommands:
            args = [name, sub, "--help"] if sub else [name, "--help"]
            result = runner.invoke(args=args)
            assert result.exit_code == 0, (args, result.output)
            assert "``" not in result.output and ":data:" not in result.output and ":func:" not in result.output, (
                args, result.output)
    worker_help = runner.invoke(args=["tickets", "worker", "--help"]).output
    assert f"doubling up to {WORKER_BACKOFF_MAX_S:.0f} s" in worker_help


def test_retry_failed_queues_every_ticket_parked_while_kayako_refused_the_login(kayako_app, kayako):
    """Wrong Kayako credentials park tickets as failed (retrying a refused login could lock the account).
    Once they are fixed, ``tickets retry --failed`` sends them all; before, it took one ``tickets retry ID``
    per call."""
    kayako.fail_next(401, n=None, path_prefix="/api/v1")
    for _ in range(3):
        resolved_call(Caller(kayako_app.test_client()))
    runner = kayako_app.test_cli_runner()
    runner.invoke(args=["tickets", "worker", "--once"])
    with kayako_app.app_context():
        assert db.session.scalars(select(TicketOutbox.status)).all() == ["failed"] * 3
    kayako.clear_faults()
    usage = runner.invoke(args=["tickets", "retry"])
    assert usage.exit_code == 2 and "--failed" in usage.output
    result = runner.invoke(args=["tickets", "retry", "--failed"])
    assert result.exit_code == 0 and "3 failed ticket(s) queued again" in result.output, result.output
    runner.invoke(args=["tickets", "worker", "--once"])
    with kayako_app.app_context():
        assert db.session.scalars(select(TicketOutbox.status)).all() == ["delivered"] * 3
    assert len(kayako.cases) == 3
    again = runner.invoke(args=["tickets", "retry", "--failed"])
    assert "0 failed ticket(s) queued again" in again.output  # a delivered ticket is left alone
