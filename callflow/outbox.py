"""The ticket outbox: finalize idle calls, claim due tickets, deliver them, back off on failure.

Ticket statuses: ``queued`` (waiting for its next attempt), ``sending`` (claimed by a
worker until ``claimed_until``), ``delivered`` (a helpdesk case exists), ``local`` (kept in
the local outbox: no helpdesk configured), ``failed`` (gave up; ``tickets retry ID``
sends it again). Several workers may run at once: claims use ``FOR UPDATE SKIP LOCKED``
on PostgreSQL and a conditional claim column update elsewhere.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from datetime import timedelta
from typing import Any, Callable, Optional

from flask import current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from . import call_store
from .call_store import StaleCall
from .clock import utcnow
from .extensions import db
from .kayako import KayakoError
from .logging_setup import call_sid_context
from .models import Call, TicketAttempt, TicketOutbox
from .tickets import compose_ticket, finalize_record, transcript_of
from .tts import delete_call_audio, expire_call_audio

log = logging.getLogger(__name__)

FINISHED_IDLE = timedelta(minutes=2)  # escalate/goodbye calls: Twilio has hung up already


def worker_id() -> str:
    """A name for this worker process: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def sweep_idle_calls(idle: Optional[timedelta] = None) -> int:
    """Finalize calls whose status callback never came; returns how many were finalized.

    Live calls idle for ``CALL_IDLE_TIMEOUT_MIN`` (30 min) become abandoned; calls already
    in a final state (escalate, goodbye) are finalized after 2 minutes.
    """
    idle = idle or timedelta(minutes=current_app.config["CALL_IDLE_TIMEOUT_MIN"])
    now = utcnow()
    stale = db.session.scalars(
        select(Call.call_sid).where(
            Call.ended_at.is_(None),
            or_(
                Call.last_activity_at < now - idle,
                and_(Call.state.in_(("escalate", "goodbye")), Call.last_activity_at < now - FINISHED_IDLE),
            ),
        ).limit(200)
    ).all()
    db.session.rollback()  # end the read; each call is finalized in a transaction of its own
    finalized = []
    for sid in stale:
        with call_sid_context(sid):  # a failure's log line names the call
            try:
                with db.engine.begin() as conn:
                    call = call_store.load(conn, sid)
                    # Twilio never said when the call ended: at its last webhook, not now (30 idle
                    # minutes later), or every swept call adds half an hour to the handling time.
                    if call is not None and not call.finalized and finalize_record(
                        conn, call, twilio_status=call.twilio_status or "timeout", ended_at=call.last_activity_at
                    ):
                        finalized.append(sid)
            except (StaleCall, IntegrityError):
                # A webhook (the status callback, most likely) changed or finalized the call
                # meanwhile: it queued the ticket, or the next sweep looks at the call again.
                continue
            except (OperationalError, InterfaceError):
                raise
            except Exception as exc:  # a bug with this call: the others are still finalized
                # the class only: a database error's message quotes the row (personal data)
                log.error("sweeper: call %s could not be finalized (%s)", sid, type(exc).__name__)
                continue
    return len(finalized)


def claim_due(limit: int = 10, owner: Optional[str] = None) -> list[TicketOutbox]:
    """Claim up to ``limit`` due tickets for ``owner`` (default :func:`worker_id`) and commit the claim.

    Due: ``next_attempt_at`` passed and ``queued``, or ``sending`` with an expired claim (its
    worker died). Returns the claimed tickets, lowest id first, now ``sending`` for ``TICKET_CLAIM_TTL_S`` seconds.
    """
    owner = owner or worker_id()
    now = utcnow()
    until = now + timedelta(seconds=current_app.config["TICKET_CLAIM_TTL_S"])
    due = and_(
        TicketOutbox.next_attempt_at <= now,
        or_(
            TicketOutbox.status == "queued",
            and_(TicketOutbox.status == "sending", TicketOutbox.claimed_until < now),
        ),
    )
    if db.engine.dialect.name == "postgresql":
        rows = db.session.scalars(
            select(TicketOutbox).where(due).order_by(TicketOutbox.id).limit(limit).with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            row.status, row.claimed_by, row.claimed_until = "sending", owner, until
        db.session.commit()
        return list(rows)
    ids = db.session.scalars(select(TicketOutbox.id).where(due).order_by(TicketOutbox.id).limit(limit)).all()
    claimed = []
    for ticket_id in ids:
        result = db.session.execute(
            update(TicketOutbox)
            .where(TicketOutbox.id == ticket_id, due)
            .values(status="sending", claimed_by=owner, claimed_until=until)
        )
        if result.rowcount == 1:
            claimed.append(ticket_id)
    db.session.commit()
    if not claimed:
        return []
    return list(db.session.scalars(select(TicketOutbox).where(TicketOutbox.id.in_(claimed)).order_by(TicketOutbox.id)))


def renew_claim(ticket: TicketOutbox, owner: Optional[str] = None) -> bool:
    """Extend this worker's claim on ``ticket`` to a full ``TICKET_CLAIM_TTL_S`` (seconds) from
    now, just before delivering it; commit. Returns False (the ticket is not delivered) when the
    claim has passed to another worker: a batch's later tickets may wait longer than the TTL.
    """
    owner = owner or worker_id()
    until = utcnow() + timedelta(seconds=current_app.config["TICKET_CLAIM_TTL_S"])
    result = db.session.execute(
        update(TicketOutbox)
        .where(TicketOutbox.id == ticket.id, TicketOutbox.status == "sending", TicketOutbox.claimed_by == owner)
        .values(claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:
        log.info("ticket %s: claim taken over by another worker, skipping it", ticket.id)
        return False
    return True


def _backoff(attempts: int) -> timedelta:
    cfg = current_app.config
    seconds = min(cfg["TICKET_RETRY_MAX_S"], cfg["TICKET_RETRY_BASE_S"] * (2 ** min(max(0, attempts - 1), 32)))
    return timedelta(seconds=seconds)


def _enrich(ticket: TicketOutbox) -> None:
    """Swap the rule-based summary for OpenAI's, if configured (falls back silently)."""
    summarizer = current_app.extensions.get("summarizer")
    if summarizer is None or ticket.payload.get("summary_source") != "rules":
        return
    call = ticket.call
    try:
        summary = summarizer.summarize(transcript_of(call))
    except Exception as exc:
        log.warning("call summary failed, keeping the rule-based one: %s", type(exc).__name__)
        return
    ticket.payload = compose_ticket(call, summary, source="openai")
    call.topic, call.sentiment = summary.topic, summary.sentiment


def deliver(ticket: TicketOutbox, out: Callable[[str], None] | None = None) -> str:
    """Deliver one claimed ticket and record the attempt; returns the new status."""
    helpdesk = current_app.extensions["helpdesk"]
    started = time.perf_counter()
    now = utcnow()
    if getattr(helpdesk, "is_local", False):
        _enrich(ticket)
        ticket.status, ticket.claimed_by, ticket.claimed_until = "local", None, None
        ticket.attempts += 1
        ticket.attempt_log.append(TicketAttempt(at=now, ok=True, duration_ms=0, error=None))
        db.session.commit()
        if out:  # one line: a worker's output ends up in the logs, the ticket holds personal data
            out(f"ticket {ticket.id} kept in the local outbox (flask --app wsgi tickets show {ticket.id})")
        return ticket.status
    try:
        _enrich(ticket)
        # Half the claim for the helpdesk: its last request ends well inside the claim.
        result = helpdesk.deliver(ticket.payload, time_budget_s=current_app.config["TICKET_CLAIM_TTL_S"] / 2)
    except Exception as exc:
        elapsed = int((time.perf_counter() - started) * 1000)
        message = f"{type(exc).__name__}: {exc}"[:1000]
        ticket.attempts += 1
        ticket.last_error = message
        ticket.attempt_log.append(TicketAttempt(at=now, ok=False, duration_ms=elapsed, error=message))
        max_age = timedelta(hours=current_app.config["TICKET_MAX_AGE_H"])
        transient = getattr(exc, "transient", True)
        if not transient or utcnow() - ticket.created_at > max_age:
            ticket.status = "failed"
        else:
            ticket.status = "queued"
            ticket.next_attempt_at = utcnow() + _backoff(ticket.attempts)
        ticket.claimed_by = ticket.claimed_until = None
        db.session.commit()
        # the class, and a KayakoError's HTTP status and code: its message may quote the caller's details
        detail = " ".join(str(v) for v in (exc.status, exc.code) if v) if isinstance(exc, KayakoError) else ""
        log.warning("ticket %s delivery failed (%s%s), status %s", ticket.id, type(exc).__name__,
                    f" {detail}" if detail else "", ticket.status)
        return ticket.status
    elapsed = int((time.perf_counter() - started) * 1000)
    case_id, case_url = result if result else (None, None)
    ticket.status = "delivered"
    ticket.external_id = str(case_id) if case_id is not None else None
    ticket.external_url = case_url
    ticket.delivered_at = utcnow()
    ticket.attempts += 1
    ticket.last_error = None
    ticket.claimed_by = ticket.claimed_until = None
    ticket.attempt_log.append(TicketAttempt(at=now, ok=True, duration_ms=elapsed))
    ticket.call.case_id = ticket.external_id
    db.session.commit()
    if out:
        out(f"ticket {ticket.id} delivered as case {ticket.external_id}")
    return ticket.status


#: Seconds between two expiries of old personal TTS audio by one worker process.
AUDIO_EXPIRY_INTERVAL_S = 600.0
_next_audio_expiry = 0.0


def expire_audio_now_and_then() -> int:
    """Run :func:`callflow.tts.expire_call_audio` at most every ``AUDIO_EXPIRY_INTERVAL_S`` seconds per process (it
    lists the store: a directory scan or bucket listing, too much for every poll); returns files deleted (0 when
    it is not time yet). Never raises."""
    global _next_audio_expiry
    now = time.monotonic()
    if now < _next_audio_expiry:
        return 0
    _next_audio_expiry = now + AUDIO_EXPIRY_INTERVAL_S
    return expire_call_audio()


def run_once(out: Callable[[str], None] | None = None, batch: int = 10) -> dict[str, int]:
    """Sweep idle calls, expire old personal audio now and then, then deliver every due ticket; returns counts by
    resulting status (and ``finalized`` calls).

    A ticket's first attempt also deletes its call's personal TTS audio: every ended call has exactly one ticket,
    and the worker, not the status callback, is where a slow bucket may take its time."""
    counts: dict[str, int] = {"finalized": sweep_idle_calls()}
    expire_audio_now_and_then()
    while True:
        claimed = claim_due(batch)
        if not claimed:
            break
        statuses = []
        for ticket in claimed:
            if not renew_claim(ticket):  # renewed just before its delivery, not for the whole batch
                continue
            ticket_id = ticket.id  # still readable if the row is deleted under the delivery
            with call_sid_context(ticket.payload.get("call_sid")):  # its log lines name the call
                status = _deliver_claimed(ticket, ticket_id, out)
            counts[status] = counts.get(status, 0) + 1
            statuses.append(status)
        if all(status == "queued" for status in statuses):
            break  # everything failed transiently (or went to other workers): wait for the backoff
    return counts


def _deliver_claimed(ticket: TicketOutbox, ticket_id: int, out: Callable[[str], None] | None) -> str:
    """Delete the call's personal audio at the first attempt, then :func:`deliver` ``ticket``; returns its status.
    A crash other than a database error marks it failed (logged) so the worker goes on with the others."""
    if not ticket.attempts:  # its call is over: the personal audio goes (off the webhooks; never raises)
        delete_call_audio([ticket.payload.get("call_sid")])
    try:
        return deliver(ticket, out)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:  # a bug, or the row deleted meanwhile: park it, keep delivering the others
        db.session.rollback()
        log.error("ticket %s: delivery crashed (%s), marked failed", ticket_id, type(exc).__name__)
        db.session.execute(update(TicketOutbox).where(TicketOutbox.id == ticket_id).values(
            status="failed", claimed_by=None, claimed_until=None,
            last_error=f"{type(exc).__name__}: {exc}"[:1000]))
        db.session.commit()
        return "failed"


def _requeue(now, *conditions) -> int:
    """Queue the tickets matching ``conditions`` for delivery ``now``, with a fresh maximum age
    (``created_at``) for the new round of attempts; one ``UPDATE``, committed. Returns the row count."""
    result = db.session.execute(
        update(TicketOutbox)
        .where(*conditions)
        .values(status="queued", next_attempt_at=now, created_at=now, claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount or 0


def retry_ticket(ticket_id: int) -> Optional[TicketOutbox]:
    """Make a ticket due again now; returns it (with its status), or None if there is no such ticket.

    One conditional ``UPDATE``, so it cannot race a worker: a ``delivered`` ticket is left
    alone, and so is a ``sending`` one whose claim is still running (a worker is delivering
    it; re-queuing it would let a second worker deliver it at the same time). A ``sending``
    ticket whose worker died (claim expired) is queued again.
    """
    now = utcnow()
    _requeue(
        now,
        TicketOutbox.id == ticket_id,
        TicketOutbox.status != "delivered",
        or_(TicketOutbox.status != "sending", TicketOutbox.claimed_until.is_(None), TicketOutbox.claimed_until < now),
    )
    return db.session.get(TicketOutbox, ticket_id, populate_existing=True)


def retry_failed() -> int:
    """Make every ``failed`` ticket due again now (after Kayako's credentials or URL were fixed, say);
    returns how many were queued. One ``UPDATE``: a ticket a worker is sending is not ``failed``, so
    this never races a delivery. Each gets a fresh maximum age, as with :func:`retry_ticket`."""
    return _requeue(utcnow(), TicketOutbox.status == "failed")


def format_ticket(ticket: TicketOutbox) -> str:
    """A readable text rendering of a ticket for the terminal (CLI output, not a log)."""
    p: dict[str, Any] = ticket.payload
    req = p.get("requester") or {}
    lines = [
        f"--- ticket {ticket.id} [{ticket.status}] call {p.get('call_sid')}",
        f"subject:   {p.get('subject')}",
        f"priority:  {p.get('priority')}",
        f"tags:      {', '.join(p.get('tags') or [])}",
        f"requester: {req.get('name') or '-'} <{req.get('email') or 'no email'}> {req.get('phone') or ''}",
        f"outcome:   {p.get('outcome')}   duration: {p.get('duration_s')} s",
        f"summary:   {p.get('summary')}",
    ]
    return "\n".join(lines)


LOOKUP_FIELDS = (
    "subject", "priority", "tags", "outcome", "requester", "summary", "topic", "sentiment",
    "duration_s", "article_id", "email_confirmed",
)


def ticket_for_call(call_sid: str) -> Optional[dict[str, Any]]:
    """The queued ticket of a call as a short dict for the simulator, or None."""
    call = db.session.scalar(select(Call).where(Call.call_sid == call_sid))
    if call is None or call.ticket is None:
        return None
    ticket = call.ticket
    summary = {key: ticket.payload.get(key) for key in LOOKUP_FIELDS}
    summary.update(id=ticket.id, status=ticket.status, case=ticket.external_url)
    return summary
