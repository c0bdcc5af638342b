"""Retention and erasure of callers' data: ``flask --app wsgi calls purge`` / ``calls forget``.

A call's personal data lives in four tables: ``call`` (phone numbers, name, email, questions),
``turn`` (the transcript), ``ticket_outbox`` (the composed ticket with the requester) and
``ticket_attempt`` (delivery errors). Both operations delete a call together with its rows
in the other three, children first, so they work whether or not the database enforces the
``ON DELETE CASCADE`` foreign keys (SQLite does not by default).

* :func:`purge_calls` -- retention: delete calls started before a cutoff, except those whose
  ticket has not reached the helpdesk yet (status ``queued``, ``sending`` or ``failed``) or
  that are not finalized yet (their ticket is still to be composed): those are *kept* and
  counted, so enforcing retention never loses an inquiry.
* :func:`forget_caller` -- erasure (GDPR art. 17, https://gdpr-info.eu/art-17-gdpr/): delete
  every call of one caller, matched by email (case-insensitive) or phone number (digits
  only), whatever its ticket status. The copy already delivered to Kayako is not touched:
  the operator erases the requester there. A call still in progress, or whose ticket a worker
  is delivering right now, is kept and counted (deleting it would restart the live call from
  the greeting, or let the case reach Kayako after the erasure): the operator runs it again.

Neither function logs or returns personal data: only counts and Kayako case ids.
"""
from __future__ import annotations

import logging
import re

import click
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Optional

from flask.cli import AppGroup
from sqlalchemy import delete, func, or_, select, update

from .clock import utcnow
from .extensions import db
from .models import Call, TicketAttempt, TicketOutbox, Turn
from .tts import delete_call_audio

log = logging.getLogger(__name__)

#: Ticket statuses of an inquiry that has not reached the helpdesk: such calls are never purged.
UNDELIVERED_STATUSES = ("queued", "sending", "failed")
#: Rows deleted per statement (stays far below SQLite's and PostgreSQL's bound-parameter limits).
BATCH = 500
MAX_AGE_DAYS = 100 * 366
_AGE_RE = re.compile(r"^\s*(\d{1,7})\s*([dh])\s*$", re.IGNORECASE)


def parse_age(text: str) -> timedelta:
    """``"90d"`` -> 90 days, ``"12h"`` -> 12 hours.

    Accepts ``N`` followed by ``d`` (days) or ``h`` (hours), ``N >= 1``, at most 100 years.
    Raises ``ValueError`` for anything else.
    """
    match = _AGE_RE.match(text or "")
    if not match:
        raise ValueError(f"expected a number of days or hours such as 90d or 36h, not {text!r}")
    amount, unit = int(match.group(1)), match.group(2).lower()
    age = timedelta(days=amount) if unit == "d" else timedelta(hours=amount)
    if amount < 1 or age > timedelta(days=MAX_AGE_DAYS):
        raise ValueError(f"the age must be between 1h and {MAX_AGE_DAYS}d, not {text!r}")
    return age


def phone_digits(value: Optional[str]) -> str:
    """The digits of a phone number: ``"+1 (415) 555-0100"`` -> ``"14155550100"``."""
    return re.sub(r"\D", "", value or "")


@dataclass
class DeleteCounts:
    """Rows deleted (or, on a dry run, that would be) per table."""

    calls: int = 0
    turns: int = 0
    tickets: int = 0
    attempts: int = 0
    #: Kayako case ids of the deleted tickets that were delivered (to erase there too).
    case_ids: list[str] = field(default_factory=list)
    #: CallSids of the deleted calls (their personal TTS audio goes after the commit; never printed).
    call_sids: list[str] = field(default_factory=list, repr=False)
    #: Personal TTS audio files deleted (a name or email read-back; 0 on a dry run).
    audio: int = 0

    def add(self, other: "DeleteCounts") -> None:
        """Add ``other``'s counts to these and append its case ids and CallSids (in place)."""
        self.calls += other.calls
        self.turns += other.turns
        self.tickets += other.tickets
        self.attempts += other.attempts
        self.case_ids.extend(other.case_ids)
        self.call_sids.extend(other.call_sids)
        self.audio += other.audio


@dataclass
class PurgeReport(DeleteCounts):
    """What :func:`purge_calls` did: deleted counts, the cutoff (aware UTC) and the calls kept."""

    cutoff: Optional[datetime] = None
    kept: int = 0  # older calls whose ticket is not delivered yet (or not composed yet)


@dataclass
class ForgetReport(DeleteCounts):
    """What :func:`forget_caller` did; ``undelivered`` counts dropped tickets not yet in Kayako,
    ``busy`` the caller's calls kept because they are still in progress or being delivered."""

    undelivered: int = 0
    busy: int = 0


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def _count(statement) -> int:
    return int(db.session.scalar(statement) or 0)


def _delete_calls(call_ids: list[int], dry_run: bool) -> DeleteCounts:
    """Delete the calls ``call_ids`` with their attempts, tickets and turns (children first)."""
    counts = DeleteCounts()
    for chunk in _chunks(call_ids):
        counts.call_sids.extend(db.session.scalars(select(Call.call_sid).where(Call.id.in_(chunk))))
        ticket_ids = list(db.session.scalars(select(TicketOutbox.id).where(TicketOutbox.call_id.in_(chunk))))
        counts.case_ids.extend(
            str(case)
            for case in db.session.scalars(
                select(TicketOutbox.external_id).where(
                    TicketOutbox.call_id.in_(chunk), TicketOutbox.external_id.is_not(None)
                )
            )
        )
        if dry_run:
            counts.attempts += _count(
                select(func.count()).select_from(TicketAttempt).where(TicketAttempt.ticket_id.in_(ticket_ids))
            ) if ticket_ids else 0
            counts.tickets += len(ticket_ids)
            counts.turns += _count(select(func.count()).select_from(Turn).where(Turn.call_id.in_(chunk)))
            counts.calls += len(chunk)
            continue
        options = {"synchronize_session": False}
        if ticket_ids:
            counts.attempts += db.session.execute(
                delete(TicketAttempt).where(TicketAttempt.ticket_id.in_(ticket_ids)), execution_options=options
            ).rowcount
            counts.tickets += db.session.execute(
                delete(TicketOutbox).where(TicketOutbox.id.in_(ticket_ids)), execution_options=options
            ).rowcount
        counts.turns += db.session.execute(delete(Turn).where(Turn.call_id.in_(chunk)), execution_options=options).rowcount
        counts.calls += db.session.execute(delete(Call).where(Call.id.in_(chunk)), execution_options=options).rowcount
    return counts


def purge_calls(older_than: timedelta, *, now: Optional[datetime] = None, dry_run: bool = False) -> PurgeReport:
    """Delete calls started more than ``older_than`` before ``now`` (default: the current UTC time).

    A call is deleted with its turns, ticket and delivery attempts when its ticket was
    delivered (``delivered``) or kept locally (``local``), or when it has no ticket but is
    finalized. It is *kept* (counted in ``kept``) while its ticket is ``queued``,
    ``sending`` or ``failed``, or while it is not finalized. Ticket rows are locked
    (``SELECT ... FOR UPDATE`` on PostgreSQL) so a worker cannot re-queue one mid-purge.
    Commits unless ``dry_run`` (then nothing changes and the counts say what would go).
    Raises ``sqlalchemy.exc.SQLAlchemyError`` on a database error (after a rollback).
    """
    cutoff = (now or utcnow()) - older_than
    report = PurgeReport(cutoff=cutoff)
    old = Call.started_at < cutoff
    pending = select(TicketOutbox.call_id).where(TicketOutbox.status.in_(UNDELIVERED_STATUSES))
    has_ticket = select(TicketOutbox.call_id)
    try:
        # Lock the old calls' tickets first, so their status cannot change under us.
        db.session.execute(
            select(TicketOutbox.id).join(Call, TicketOutbox.call_id == Call.id).where(old).with_for_update(of=TicketOutbox)
        ).all()
        deletable = list(
            db.session.scalars(
                select(Call.id)
                .where(old, Call.id.not_in(pending))
                .where(or_(Call.id.in_(has_ticket), Call.ended_at.is_not(None)))
                .order_by(Call.id)
            )
        )
        report.kept = _count(select(func.count()).select_from(Call).where(old)) - len(deletable)
        _delete_and_finish(report, deletable, dry_run)
    except Exception:
        db.session.rollback()
        raise
    log.info(
        "calls purge%s: %d calls, %d turns, %d tickets, %d attempts deleted; %d kept (ticket not delivered yet)",
        " (dry run)" if dry_run else "",
        report.calls,
        report.turns,
        report.tickets,
        report.attempts,
        report.kept,
    )
    return report


def _delete_and_finish(report, call_ids: list[int], dry_run: bool) -> None:
    """Delete the calls (counting into ``report``), then commit and delete their personal TTS audio, or roll
    back on a dry run."""
    report.add(_delete_calls(call_ids, dry_run))
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
        report.audio = delete_call_audio(report.call_sids)


def _calls_of(email: Optional[str], phone: Optional[str]) -> list[int]:
    """Ids of calls whose email equals ``email`` (case-insensitive) or whose caller number, or the number the caller
    gave to be called back on, has exactly the digits of ``phone``."""
    ids: set[int] = set()
    if email:
        ids.update(db.session.scalars(select(Call.id).where(func.lower(Call.email) == email.strip().lower())))
    if phone:
        wanted = phone_digits(phone)
        rows = db.session.execute(
            select(Call.id, Call.from_number, Call.callback_number)
            .where(or_(Call.from_number.is_not(None), Call.callback_number.is_not(None)))
            .execution_options(yield_per=2000)
        )
        ids.update(call_id for call_id, number, callback in rows
                   if wanted in (phone_digits(number), phone_digits(callback)))
    return sorted(ids)


def _busy_calls(call_ids: list[int]) -> set[int]:
    """Of ``call_ids``, the calls not finalized yet (a live call: a webhook would recreate the row and greet the
    caller again) or whose ticket a worker is delivering (status ``sending``, claim running: the case would reach
    the helpdesk after the erasure).

    First locks the calls and their tickets until the commit with writes that change nothing (PostgreSQL locks
    the rows, SQLite takes its write lock), so no webhook finalizes a call and no worker claims a ticket between
    this check and the deletion.
    """
    now = utcnow()
    delivering = select(TicketOutbox.call_id).where(
        TicketOutbox.status == "sending", TicketOutbox.claimed_until >= now
    )
    busy: set[int] = set()
    for chunk in _chunks(call_ids):
        options = {"synchronize_session": False}
        db.session.execute(update(Call).where(Call.id.in_(chunk)).values(version=Call.version), execution_options=options)
        db.session.execute(
            update(TicketOutbox).where(TicketOutbox.call_id.in_(chunk)).values(claimed_by=TicketOutbox.claimed_by),
            execution_options=options,
        )
        busy.update(db.session.scalars(
            select(Call.id).where(Call.id.in_(chunk), or_(Call.ended_at.is_(None), Call.id.in_(delivering)))
        ))
    return busy


def forget_caller(*, email: Optional[str] = None, phone: Optional[str] = None, dry_run: bool = False) -> ForgetReport:
    """Delete every call of the caller with ``email`` and/or ``phone``, whatever its ticket status.

    ``email`` is matched case-insensitively against the call's confirmed/collected address;
    ``phone`` by its digits (``+1 415-555-0100`` matches ``+14155550100``, not
    ``4155550100``: a country code is never guessed). Deletes the calls' turns, tickets
    (``undelivered`` counts those that had not reached the helpdesk) and attempts, then
    commits (nothing changes on ``dry_run``). Calls still in progress or being delivered
    right now are kept (``busy``, see :func:`_busy_calls`). Raises ``ValueError`` when neither is given,
    when ``email`` has no ``@`` or when ``phone`` has fewer than 4 digits;
    ``sqlalchemy.exc.SQLAlchemyError`` on a database error (after a rollback).
    """
    email = (email or "").strip() or None
    phone = (phone or "").strip() or None
    if not email and not phone:
        raise ValueError("give --email or --phone (or both)")
    if email and "@" not in email:
        raise ValueError("--email must be an email address")
    if phone and len(phone_digits(phone)) < 4:
        raise ValueError("--phone must have at least 4 digits")
    report = ForgetReport()
    try:
        call_ids = _calls_of(email, phone)
        busy = _busy_calls(call_ids)
        report.busy = len(busy)
        call_ids = [call_id for call_id in call_ids if call_id not in busy]
        for chunk in _chunks(call_ids):
            report.undelivered += _count(
                select(func.count())
                .select_from(TicketOutbox)
                .where(TicketOutbox.call_id.in_(chunk), TicketOutbox.status.in_(UNDELIVERED_STATUSES))
            )
        _delete_and_finish(report, call_ids, dry_run)
    except Exception:
        db.session.rollback()
        raise
    log.info(
        "calls forget%s: %d calls, %d turns, %d tickets (%d undelivered), %d attempts deleted; %d busy calls kept",
        " (dry run)" if dry_run else "",
        report.calls,
        report.turns,
        report.tickets,
        report.undelivered,
        report.attempts,
        report.busy,
    )
    return report


# --- CLI: flask --app wsgi calls purge|forget -------------------------------------------------

calls_cli = AppGroup("calls", help="Retention and erasure of callers' data.")

KAYAKO_NOTE = (
    "note: the caller's data also sits in Kayako (the requester user and their cases): "
    "erase the requester there as well."
)


def _counts_line(counts: DeleteCounts, calls_qualifier: str = "", dry_run: bool = False) -> str:
    line = (f"{counts.calls} calls{calls_qualifier}, with {counts.turns} turns, {counts.tickets} tickets "
            f"and {counts.attempts} delivery attempts")
    return line if dry_run else f"{line}; {counts.audio} personal audio files"


@calls_cli.command("purge")
@click.option("--older-than", "older_than", required=True, metavar="AGE",
              help="Delete calls started more than AGE ago: Nd (days) or Nh (hours), e.g. 90d.")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
def purge_command(older_than: str, dry_run: bool) -> None:
    """Enforce retention: delete old calls with their transcripts and tickets.

    Calls whose ticket has not reached the helpdesk yet (queued, sending, failed) or that
    are not finalized are kept and counted. Prints counts only.

    \f
    Exit status 2 (``click.BadParameter``) if AGE is not ``Nd`` or ``Nh`` (see :func:`parse_age`).
    """
    try:
        age = parse_age(older_than)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from exc
    report = purge_calls(age, dry_run=dry_run)
    prefix = "calls purge (dry run): would delete" if dry_run else "calls purge: deleted"
    click.echo(f"{prefix} {_counts_line(report, f' started before {report.cutoff:%Y-%m-%d %H:%M} UTC', dry_run)}")
    click.echo(f"calls purge: kept {report.kept} older calls whose ticket is not delivered (or not composed) yet")


@calls_cli.command("forget")
@click.option("--email", help="The caller's email address (matched case-insensitively).")
@click.option("--phone", help="The caller's phone number (matched by its digits, e.g. +14155550100).")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
def forget_command(email: Optional[str], phone: Optional[str], dry_run: bool) -> None:
    """Erase every call of one caller: calls, transcripts, tickets and delivery attempts.

    Give --email, --phone or both. Prints counts only (never the address or number), the
    Kayako case ids of delivered tickets, and a reminder to erase the requester in Kayako.

    \f
    Exit status 2 (``click.UsageError``) if neither is given, or :func:`forget_caller` refuses
    them (``ValueError``: not an email address, a phone number with fewer than 4 digits).
    """
    if not (email or "").strip() and not (phone or "").strip():
        raise click.UsageError("give --email or --phone (or both)")
    try:
        report = forget_caller(email=email, phone=phone, dry_run=dry_run)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    prefix = "calls forget (dry run): would delete" if dry_run else "calls forget: deleted"
    click.echo(f"{prefix} {_counts_line(report, dry_run=dry_run)}"
               + (f" ({report.undelivered} tickets had not reached the helpdesk)" if report.undelivered else ""))
    if report.case_ids:
        click.echo("Kayako cases of these calls: " + ", ".join(report.case_ids))
    if report.busy:
        click.echo(f"calls forget: kept {report.busy} calls still in progress or being delivered to the helpdesk "
                   "right now; run this command again in a few minutes")
    click.echo(KAYAKO_NOTE)
