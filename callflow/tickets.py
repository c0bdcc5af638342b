"""Compose the ticket (Kayako case) for a finished call, and finalize calls exactly once.

The payload stored in ``ticket_outbox.payload`` is the helpdesk-neutral shape every
delivery uses::

    {"call_sid", "subject", "contents_html", "summary", "topic", "sentiment",
     "summary_source": "rules" | "openai", "priority": "urgent" | "normal",
     "tags": ["ai-call", <outcome>], "outcome", "email_confirmed": bool,
     "requester": {"name", "email", "phone"}, "duration_s", "started_at", "ended_at",
     "article_id"}

Tags: ``ai-call`` plus exactly one of ``ai-resolved``, ``needs-human``, ``abandoned``;
priority is urgent if and only if the ticket is needs-human. Contents are HTML with every
caller word escaped.
"""
from __future__ import annotations

import re
from datetime import datetime
from html import escape
from typing import Any, Optional, Sequence

from sqlalchemy import Connection, bindparam, select

from . import call_store
from .call_store import CallRecord
from .clock import utcnow
from .extensions import db
from .drafts import CallSummary
from .models import ABANDONED, NEEDS_HUMAN, RESOLVED, Call, KbArticle, TicketOutbox

TERMINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
MAX_SUBJECT_CHARS = 120

_REASONS = {
    "no-kb-match": "No help-center article matched the question, so a person needs to answer it.",
    "not-grounded": "The knowledge base had no answer grounded in an article, so a person needs to answer it.",
    "not-resolved": "The caller said the suggested answer did not solve the issue.",
    "caller-request": "The caller asked to speak to a person.",
    "silence": "The caller stopped responding, so the call was escalated.",
    "unclear": "The caller's answers could not be understood, so the call was escalated.",
    "error": "A system error interrupted the call.",
    "question-limit": "The caller had more questions than one call answers, so a person needs to take the rest.",
}


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


def _article_title(article_id: Optional[str]) -> Optional[str]:
    if not article_id:
        return None
    return db.session.scalar(select(KbArticle.title).where(KbArticle.external_id == article_id))


def transcript_of(call: Call) -> list[tuple[str, str]]:
    """The call as ``[(speaker, text), ...]``, speaker "caller" or "agent"."""
    return [(t.speaker, t.text or "(no response)") for t in call.turns]


def rule_summary(call: Call, title: Optional[str] = None) -> CallSummary:
    """A summary built by rules from the call's facts (used offline or when OpenAI fails).

    ``title``: the used article's title if the caller already looked it up. A call that ended
    in ``check_resolved`` was read an answer it never confirmed or rejected: the summary says so,
    even when an earlier answer of the call was confirmed (outcome ``ai-resolved``).
    """
    title = title or _article_title(call.article_id)
    who = call.name or "The caller"
    lines = []
    question = question_of(call)
    if question and (call.questions_asked or 0) > 1:
        lines.append(f"{who} asked {call.questions_asked} questions, the last: \"{_shorten(question, 200)}\".")
    elif question:
        lines.append(f"{who} asked: \"{_shorten(question, 200)}\".")
    else:
        lines.append(f"{who} called but no question was captured.")
    unconfirmed = call.state == "check_resolved" and call.outcome != NEEDS_HUMAN
    article = title or call.article_id
    if unconfirmed:
        lines.append(f"Answered from the help-center article \"{article}\"; the caller hung up before saying whether it helped.")
        if call.outcome == RESOLVED:
            lines.append("The caller had confirmed that an earlier answer on this call solved their issue.")
    elif call.outcome == RESOLVED:
        lines.append(
            f"Answered from the help-center article \"{article}\"; the caller confirmed it solved the issue."
        )
    elif call.outcome == NEEDS_HUMAN:
        lines.append(_REASONS.get(call.escalation_reason or "", "The call was escalated to a person."))
        if title and call.escalation_reason == "not-resolved":
            lines.append(f"Suggested article: \"{title}\".")
    else:
        lines.append("The caller hung up before the issue was resolved.")
    answered = call.outcome == RESOLVED or call.escalation_reason == "not-resolved" or unconfirmed
    if title and answered:
        topic = _shorten(title.lower(), 40)
    else:
        topic = "unanswered question" if question else "no question"
    sentiment = "positive" if call.outcome == RESOLVED and not unconfirmed else (
        "negative" if call.escalation_reason in ("not-resolved", "caller-request") else "neutral"
    )
    return CallSummary(summary=" ".join(lines), topic=topic, sentiment=sentiment)


_NO_QUESTION_SUBJECTS = {
    "caller-request": "Caller asked to speak to a person",
    "silence": "Phone call: the caller did not respond",
    "unclear": "Phone call: the caller could not be understood",
    "error": "Phone call interrupted by a system error",
}


def question_of(call: Call) -> Optional[str]:
    """The caller's question: the last one asked, else one stated at the greeting and never reached."""
    return call.last_question or call.pending_question


def _subject(call: Call) -> str:
    question = question_of(call)
    if question:
        return _shorten(question[:1].upper() + question[1:], MAX_SUBJECT_CHARS)
    return _NO_QUESTION_SUBJECTS.get(call.escalation_reason or "", "Phone call: no question captured")


def _fmt_duration(seconds: Optional[int]) -> str:
    if seconds is None:
        return "unknown"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _fmt_time(moment: Optional[datetime], start: Optional[datetime]) -> str:
    if moment is None:
        return ""
    offset = ""
    if start is not None:
        delta = max(0, int((moment - start).total_seconds()))
        offset = f" (+{delta // 60}:{delta % 60:02d})"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") + offset


_TAG_SAFE = re.compile(r"[^a-z0-9]+")


def topic_tag(topic: str) -> Optional[str]:
    """A triage tag ``topic-<slug>`` for a topic label, or None if nothing is left of it."""
    slug = _TAG_SAFE.sub("-", topic.lower()).strip("-")[:40].strip("-")
    return f"topic-{slug}" if slug else None


_LOOK_UP = object()


def compose_ticket(
    call: Call,
    summary: Optional[CallSummary] = None,
    source: str = "rules",
    *,
    turns: Optional[Sequence[Any]] = None,
    title: Any = _LOOK_UP,
) -> dict[str, Any]:
    """Build the ticket payload for a finalized call (``call.outcome`` must be set).

    ``call`` is a :class:`Call` or a :class:`~callflow.call_store.CallRecord`; ``turns``
    (objects with speaker, text, state, created_at; default ``call.turns``) and ``title``
    (the used article's title; default looked up) let a caller that already has them pass them.
    """
    if title is _LOOK_UP:
        title = _article_title(call.article_id)
    summary = summary or rule_summary(call, title)
    outcome = call.outcome or ABANDONED
    priority = "urgent" if outcome == NEEDS_HUMAN else "normal"
    tags = ["ai-call", outcome]
    if source != "rules":
        extra = topic_tag(summary.topic)
        if extra:
            tags.append(extra)
    email = call.email if call.email_confirmed else None
    subject = _subject(call)
    e = escape
    if email:
        email_line = f"{e(email)} (confirmed by the caller)"
    elif call.email:
        email_line = f"not confirmed; last heard as {e(call.email)}"
    else:
        email_line = "not captured" + (" after 3 tries" if call.email_attempts >= 3 else "")
    rows = []
    for turn in call.turns if turns is None else turns:
        who = "Caller" if turn.speaker == "caller" else "Agent"
        text = turn.text or "(no response)"
        rows.append(
            f"<li><b>[{e(_fmt_time(turn.created_at, call.started_at))}] {who}</b> "
            f"<i>({e(turn.state)})</i>: {e(text)}</li>"
        )
    reason = _REASONS.get(call.escalation_reason or "", "") if outcome == NEEDS_HUMAN else ""
    contents = "".join(
        [
            f"<h3>SUBJECT</h3><p>{e(subject)}</p>",
            f"<h3>SUMMARY</h3><p>{e(summary.summary)}</p>",
            f"<p>Topic: {e(summary.topic)}. Caller sentiment: {e(summary.sentiment)}.</p>",
            f"<h3>PRIORITY ESTIMATE</h3><p>{'Urgent' if priority == 'urgent' else 'Normal'}",
            f" ({e(reason)})" if reason else "",
            "</p><h3>CALLER</h3><ul>",
            f"<li>Name: {e(call.name or 'not given')}</li>",
            f"<li>Email: {email_line}</li>",
            f"<li>Phone: {e(call.from_number or 'unknown')}</li></ul>",
            "<h3>CALL</h3><ul>",
            f"<li>Started: {e(_fmt_time(call.started_at, None))}</li>",
            f"<li>Duration: {e(_fmt_duration(call.duration_s))}</li>",
            f"<li>Outcome: {e(outcome)}</li>",
            f"<li>Help-center article: {e(title or 'no longer in the knowledge base')} "  # removed by a KB sync
            f"(id {e(call.article_id or '')}, score {call.article_score})</li>" if call.article_id else "",
            "</ul><h3>CALL TRANSCRIPT</h3><ol>",
            "".join(rows),
            "</ol>",
            f"<p>callflow call: {e(call.call_sid)}</p>",
        ]
    )
    return {
        "call_sid": call.call_sid,
        "subject": subject,
        "contents_html": contents,
        "summary": summary.summary,
        "topic": summary.topic,
        "sentiment": summary.sentiment,
        "summary_source": source,
        "priority": priority,
        "tags": tags,
        "outcome": outcome,
        "email_confirmed": bool(email),
        "requester": {"name": call.name, "email": email, "phone": call.from_number},
        "duration_s": call.duration_s,
        "started_at": call.started_at.isoformat() if call.started_at else None,
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "article_id": call.article_id,
    }


def close_call(
    call: CallRecord, *, twilio_status: Optional[str], duration_s: Optional[int], ended_at: Optional[datetime] = None
) -> datetime:
    """Mark a call ended (a ``CallRecord``, not yet saved); returns the time used as "now".

    Sets ``ended_at`` (kept if already set; else ``ended_at``, default now), ``twilio_status``,
    ``duration_s`` (Twilio's ``CallDuration`` in seconds, else measured from ``started_at``) and
    the outcome if none is set yet (``ai-resolved`` if the caller confirmed an answer, else
    ``abandoned``).
    """
    now = utcnow()
    call.ended_at = call.ended_at or ended_at or now
    call.twilio_status = twilio_status or call.twilio_status
    if duration_s is None:
        duration_s = max(0, int((call.ended_at - call.started_at).total_seconds()))
    call.duration_s = duration_s
    if call.outcome is None:
        call.outcome = RESOLVED if call.resolved_count else ABANDONED
    return now


def finalize_record(
    conn: Connection,
    call: CallRecord,
    *,
    twilio_status: Optional[str],
    duration_s: Optional[int] = None,
    ended_at: Optional[datetime] = None,
) -> bool:
    """End a call and queue its ticket, exactly once: the status callback and the idle sweeper.

    ``ended_at`` (default: now) is when the call ended, for a caller who did not say: the
    sweeper gives the call's last activity, so the idle wait is no talk time.

    Reads only, then one :func:`callflow.call_store.write` (the call and its ticket: one
    statement on PostgreSQL, so ``conn`` may be in autocommit).
    Returns False (and changes nothing) if the call already has its ticket. Raises
    ``IntegrityError`` if a concurrent request queued the ticket first, and
    :class:`~callflow.call_store.StaleCall` if the row changed since it was read.
    """
    if conn.execute(_TICKET_OF_CALL, {"call_id": call.id}).first() is not None:
        return False
    now = close_call(call, twilio_status=twilio_status, duration_s=duration_s, ended_at=ended_at)
    turns = conn.execute(_TURNS_OF_CALL, {"call_id": call.id}).all()
    title = conn.execute(_TITLE_OF_ARTICLE, {"article_id": call.article_id}).scalar() if call.article_id else None
    payload = compose_ticket(call, turns=turns, title=title)
    call.topic, call.sentiment = payload["topic"], payload["sentiment"]
    ticket = {"payload": payload, "status": "queued", "attempts": 0, "next_attempt_at": now, "created_at": now}
    call_store.write(conn, call, [ticket], table=_OUTBOX)
    return True


_OUTBOX = TicketOutbox.__table__
_TICKET_OF_CALL = select(_OUTBOX.c.id).where(_OUTBOX.c.call_id == bindparam("call_id"))
_TURNS_OF_CALL = (
    select(call_store.TURN.c.speaker, call_store.TURN.c.text, call_store.TURN.c.state, call_store.TURN.c.created_at)
    .where(call_store.TURN.c.call_id == bindparam("call_id"))
    .order_by(call_store.TURN.c.seq)
)
_TITLE_OF_ARTICLE = select(KbArticle.__table__.c.title).where(KbArticle.__table__.c.external_id == bindparam("article_id"))


