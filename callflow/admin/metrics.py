"""Support metrics for a period: the dashboard and ``GET /admin/api/metrics``.

A period is a range of whole UTC days, both ends included; a call belongs to the day it
started. "Finished" calls are those with an end time (and so an outcome). "Silent" calls are
finished ``abandoned`` calls in which the caller never said a word: a caller who hung up while it
rang (Twilio's ``no-answer``/``canceled``/``busy``/``failed``, 0 s) or a silent line (a pocket
dial). They are counted, but left out of the rates and the average handling time: a pocket dial
is nothing the bot could resolve, and 0 s calls would shorten the handling time. Rates are over
the other finished calls (``conversations``) and are None when there are none. Everything is aggregated in SQL, with
portable expressions but for a call's UTC day (:class:`utc_day`, one per dialect).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Optional

from rapidfuzz import fuzz, process, utils
from sqlalchemy import String, and_, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..clock import utcnow
from ..extensions import db
from ..models import ABANDONED, NEEDS_HUMAN, RESOLVED, Call, TicketOutbox, Turn
from ..tickets import PLACEHOLDER_TOPICS

DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 366
#: Escalations that mean "the knowledge base had no answer".
UNANSWERED_REASONS = ("no-kb-match", "not-grounded")
#: Questions at least this similar (rapidfuzz token_set_ratio, 0..100) share a group.
SIMILARITY_THRESHOLD = 70
#: At most this many recent unanswered questions are grouped (bounded work per request: grouping is quadratic in
#: distinct questions; 2,000 distinct ones took 3.8-6 s of a dashboard request, 500 take 0.2-0.3 s).
MAX_UNANSWERED_QUESTIONS = 500
TOP_TOPICS = 10
TOP_QUESTION_GROUPS = 20

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Dates a period may name: wide enough for any call, narrow enough that the day arithmetic
#: of a period (a day after its end, a default span before it) stays inside ``date``.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2999, 12, 31)


class PeriodError(ValueError):
    """A period given by the user is not valid (message safe to show)."""


@dataclass(frozen=True)
class Period:
    """Whole UTC days from ``start`` to ``end``, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        """Number of days in the period, both ends counted."""
        return (self.end - self.start).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        """``[start 00:00 UTC, day after end 00:00 UTC)``."""
        lo = datetime.combine(self.start, time.min, tzinfo=timezone.utc)
        hi = datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=timezone.utc)
        return lo, hi

    def dates(self) -> list[date]:
        """Every day of the period, ``start`` first."""
        return [self.start + timedelta(days=i) for i in range(self.days)]


def parse_date(value: Optional[str], name: str) -> Optional[date]:
    """``YYYY-MM-DD`` to a date; None for an empty value; :class:`PeriodError` otherwise."""
    if value is None or str(value).strip() == "":
        return None
    value = str(value).strip()
    if not _ISO_DATE.match(value):
        raise PeriodError(f"'{name}' must be a date as YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise PeriodError(f"'{name}' is not a valid date") from None
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise PeriodError(f"'{name}' must be between {EARLIEST_DATE} and {LATEST_DATE}")
    return day


def make_period(
    start: Optional[date],
    end: Optional[date],
    *,
    today: Optional[date] = None,
    default_days: int = DEFAULT_PERIOD_DAYS,
    max_days: int = MAX_PERIOD_DAYS,
) -> Period:
    """Fill in missing ends and check the range; ``default_days`` and ``max_days`` are numbers of days.

    A missing ``end`` is ``today`` (UTC unless given), or ``start`` if that is later; a missing
    ``start`` makes the period ``default_days`` long. Raises :class:`PeriodError` if ``end`` is
    before ``start`` or the period is longer than ``max_days``.
    """
    today = today or utcnow().date()
    if end is None:
        end = today if start is None else max(today, start)
    if start is None:
        start = end - timedelta(days=default_days - 1)
    if end < start:
        raise PeriodError("'to' must not be before 'from'")
    period = Period(start, end)
    if period.days > max_days:
        raise PeriodError(f"the period must not be longer than {max_days} days")
    return period


def parse_period(from_value: Optional[str], to_value: Optional[str], **kwargs: Any) -> Period:
    """A :class:`Period` from query-string values (see :func:`make_period`)."""
    return make_period(parse_date(from_value, "from"), parse_date(to_value, "to"), **kwargs)


def _in_period(period: Period):
    lo, hi = period.bounds()
    return and_(Call.started_at >= lo, Call.started_at < hi)


def _ratio(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 4) if whole else None


def silent_call():
    """SQL condition: a finished ``abandoned`` call with no caller turn that says anything (rang out, or a
    silent line). Such a call is no conversation: it is left out of the rates and the handling time."""
    spoke = (
        select(Turn.id)
        .where(Turn.call_id == Call.id, Turn.speaker == "caller", func.trim(Turn.text) != "")
        .exists()
    )
    return and_(Call.ended_at.is_not(None), Call.outcome == ABANDONED, ~spoke)


def outcome_figures(period: Period) -> dict[str, Any]:
    """Counts by outcome, rates, mean handling time and email capture, in two SQL queries.

    ``calls.abandoned`` counts every abandoned call (as the calls list does); ``calls.silent`` those in which
    the caller never spoke (:func:`silent_call`). Rates and the mean handling time (seconds) are over
    ``calls.conversations``: the finished calls that are not silent. The silent calls are a second query
    (only abandoned calls look at their turns): as a column of the first, the turn lookup ran once per figure
    made the figures take 0.8 s instead of 0.3 s for a year of 100,000 calls, a third abandoned, on SQLite.
    """
    finished = Call.ended_at.is_not(None)

    def count_if(*conditions) -> Any:
        return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)

    row = db.session.execute(
        select(
            func.count(Call.id),
            count_if(finished),
            count_if(finished, Call.outcome == RESOLVED),
            count_if(finished, Call.outcome == NEEDS_HUMAN),
            count_if(finished, Call.outcome == ABANDONED),
            count_if(finished, Call.email_confirmed.is_(True)),
            func.sum(case((finished, Call.duration_s), else_=None)),
            func.count(case((finished, Call.duration_s), else_=None)),
        ).where(_in_period(period))
    ).one()
    quiet = db.session.execute(
        select(
            func.count(Call.id),
            count_if(Call.email_confirmed.is_(True)),
            func.sum(Call.duration_s),
            func.count(Call.duration_s),
        ).where(_in_period(period), silent_call())
    ).one()
    total, done, resolved, escalated, abandoned, emails, seconds, timed = (int(v or 0) for v in row)
    silent, silent_emails, silent_seconds, silent_timed = (int(v or 0) for v in quiet)
    talks, timed_talks = done - silent, timed - silent_timed
    return {
        "calls": {
            "total": total,
            "finished": done,
            "in_progress": total - done,
            "silent": silent,
            "conversations": talks,
            "ai_resolved": resolved,
            "needs_human": escalated,
            "abandoned": abandoned,
            "email_confirmed": emails,
        },
        "rates": {
            "resolution": _ratio(resolved, talks),
            "escalation": _ratio(escalated, talks),
            "abandon": _ratio(abandoned - silent, talks),
            "email_capture": _ratio(emails - silent_emails, talks),
        },
        "average_handling_time_s": round((seconds - silent_seconds) / timed_talks, 1) if timed_talks else None,
    }


def escalation_reasons(period: Period) -> list[dict[str, Any]]:
    """Why the period's finished ``needs-human`` calls were passed to a person: ``[{"reason", "calls"}]``, most
    frequent first (ties by reason); a call escalated without a reason counts as ``unknown``."""
    reason = func.coalesce(Call.escalation_reason, "unknown")
    n = func.count(Call.id).label("n")
    rows = db.session.execute(
        select(reason, n)
        .where(_in_period(period), Call.ended_at.is_not(None), Call.outcome == NEEDS_HUMAN)
        .group_by(reason)
        .order_by(n.desc(), reason)
    )
    return [{"reason": value, "calls": int(count)} for value, count in rows]


#: Every delivery status a ticket can have (see :mod:`callflow.outbox`).
TICKET_STATUSES = ("queued", "sending", "delivered", "local", "failed")


def ticket_figures(period: Period) -> dict[str, int]:
    """How many tickets of the period's calls are in each delivery status (zeros included)."""
    counts = dict.fromkeys(TICKET_STATUSES, 0)
    rows = db.session.execute(
        select(TicketOutbox.status, func.count(TicketOutbox.id))
        .join(Call, Call.id == TicketOutbox.call_id)
        .where(_in_period(period))
        .group_by(TicketOutbox.status)
    )
    for status, n in rows:
        counts[status] = int(n)
    return counts


class utc_day(FunctionElement):
    """The UTC day of a :class:`~callflow.models.UTCDateTime` column, as ``YYYY-MM-DD`` text.

    https://docs.sqlalchemy.org/en/20/core/compiler.html
    """

    type = String()
    inherit_cache = True


@compiles(utc_day)
def _utc_day_sqlite(element, compiler, **kw) -> str:
    # SQLite keeps UTC times as naive "YYYY-MM-DD HH:MM:SS.ffffff" text (see UTCDateTime)
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element, compiler, **kw) -> str:
    # timestamptz AT TIME ZONE 'UTC': the UTC wall time, whatever the session's TimeZone
    return f"to_char({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def volume_per_day(period: Period) -> list[dict[str, Any]]:
    """``[{"date": "YYYY-MM-DD", "calls": n}, ...]`` for every day of the period (zeros included).

    Counted in SQL, one row per day with calls: fetching every start time took ~0.8 s of a
    dashboard request for a year of 100,000 calls.
    """
    counts = {d.isoformat(): 0 for d in period.dates()}
    day = utc_day(Call.started_at)
    for started, n in db.session.execute(select(day, func.count()).where(_in_period(period)).group_by(day)):
        if started in counts:
            counts[started] += int(n)
    return [{"date": d, "calls": n} for d, n in counts.items()]


def top_topics(period: Period, limit: int = TOP_TOPICS) -> list[dict[str, Any]]:
    """The ``limit`` most frequent call topics (call drivers): ``[{"topic", "calls"}]``, most frequent first
    (ties by topic). The placeholders of calls without a topic (``no question``, ``unanswered question``:
    :data:`~callflow.tickets.PLACEHOLDER_TOPICS`) are left out: in an audit mix "no question" (pocket dials,
    callers who asked for a person at once) was the top "driver", above the real topics."""
    n = func.count(Call.id).label("n")
    rows = db.session.execute(
        select(Call.topic, n)
        .where(_in_period(period), Call.topic.is_not(None), Call.topic != "", Call.topic.not_in(PLACEHOLDER_TOPICS))
        .group_by(Call.topic)
        .order_by(n.desc(), Call.topic)
        .limit(limit)
    )
    return [{"topic": topic, "calls": int(count)} for topic, count in rows]


def group_questions(questions: Iterable[str], threshold: float = SIMILARITY_THRESHOLD) -> list[dict[str, Any]]:
    """Group similar questions greedily: each joins the first group whose first question is similar.

    Similarity is ``fuzz.token_set_ratio`` with ``utils.default_process`` (case and
    punctuation ignored). Returns ``[{"count", "example", "examples"}]``, biggest first;
    ``example`` is the group's first question, ``examples`` up to three different ones.
    """
    groups: list[dict[str, Any]] = []
    heads: list[str] = []
    for question in questions:
        text = " ".join(str(question or "").split())
        if not text:
            continue
        match = process.extractOne(
            text, heads, scorer=fuzz.token_set_ratio, processor=utils.default_process, score_cutoff=threshold
        )
        if match is None:
            heads.append(text)
            groups.append({"count": 1, "example": text, "examples": [text]})
            continue
        group = groups[match[2]]
        group["count"] += 1
        if len(group["examples"]) < 3 and text not in group["examples"]:
            group["examples"].append(text)
    return sorted(groups, key=lambda g: -g["count"])  # stable: first seen wins ties


def unanswered_questions(period: Period, limit: int = TOP_QUESTION_GROUPS) -> list[dict[str, Any]]:
    """The questions the KB could not answer, grouped by similarity, most asked first: at most ``limit``
    groups (see :func:`group_questions`) of the latest ``MAX_UNANSWERED_QUESTIONS`` such questions."""
    rows = db.session.scalars(
        select(Call.last_question)
        .where(
            _in_period(period),
            Call.escalation_reason.in_(UNANSWERED_REASONS),
            Call.last_question.is_not(None),
        )
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(MAX_UNANSWERED_QUESTIONS)
    )
    return group_questions(rows)[:limit]


def compute_metrics(period: Period) -> dict[str, Any]:
    """Every dashboard figure for ``period``, JSON-ready."""
    figures = outcome_figures(period)
    return {
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "days": period.days,
        "timezone": "UTC",
        **figures,
        "escalation_reasons": escalation_reasons(period),
        "tickets": ticket_figures(period),
        "volume_per_day": volume_per_day(period),
        "top_topics": top_topics(period),
        "unanswered_questions": unanswered_questions(period),
    }
