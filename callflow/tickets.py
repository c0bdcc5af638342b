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
caller word escaped, written for the support agent who opens the case: how to reach the caller,
the articles the answers came from, whether the last answer was confirmed, the transcript
("Caller" / "Bot").
"""
from __future__ import annotations

import re
from datetime import datetime
from html import escape
from typing import Any, Mapping, Optional, Sequence

from sqlalchemy import Connection, bindparam, case, func, select

from . import call_store
from .call_store import CallRecord
from .clock import utcnow
from .extensions import db
from .flow import EMAIL_STATES
from .intents import case_number
from .drafts import CallSummary
from .models import ABANDONED, NEEDS_HUMAN, RESOLVED, Call, KbArticle, TicketOutbox
from .phone import normalize_phone

TERMINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
#: Topics :func:`rule_summary` gives a call it cannot name a topic for: nothing was asked, or the question found
#: no article. Not call drivers: the admin dashboard leaves them out of its top topics.
NO_QUESTION_TOPIC = "no question"
UNANSWERED_TOPIC = "unanswered question"
PLACEHOLDER_TOPICS = (NO_QUESTION_TOPIC, UNANSWERED_TOPIC)
#: The topic of a call passed on for what the caller reported rather than asked (``Call.escalation_reason``), even
#: after an answered question: what the team must act on.
REPORT_TOPICS = {"outage": "service outage", "security": "security", "complaint": "complaint",
                 "case-follow-up": "case follow-up", "language": "another language"}
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
    "outage": "The caller reported the service down or not working, so the call was passed to a person at once.",
    "security": "The caller reported their account or helpdesk broken into, so the call was passed to a person at "
                "once.",
    "complaint": "The caller made a complaint, so the call was passed to a person at once.",
    "language": "The caller asked for another language than English, so the call was passed to a person.",
    "case-follow-up": "The caller is following up on a case they opened earlier, so the call was passed to a person.",
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


EMAIL_LEFT_OUT = "(about the email address; left out)"


def transcript_of(call: Call) -> list[tuple[str, str]]:
    """The call as ``[(speaker, text), ...]``, speaker "caller" or "agent", for the OpenAI summary.

    The turns of the email exchange (states ``collect_email`` and ``confirm_email``: the caller spelling the address,
    the agent reading it back) become :data:`EMAIL_LEFT_OUT`: the summary does not need the address, the ticket
    carries it, and caller data goes to OpenAI only where it is needed.
    """
    return [(t.speaker, EMAIL_LEFT_OUT if t.state in EMAIL_STATES else (t.text or "(no response)"))
            for t in call.turns]


def _silent_line(call: Call, turns: Sequence[Any]) -> bool:
    """The call ended on a line silent since the greeting (``no_input``): no caller turn said anything."""
    return (call.state == "goodbye" and call.outcome == ABANDONED
            and not any(t.speaker == "caller" and (t.text or "").strip() for t in turns))


def rule_summary(call: Call, title: Optional[str] = None, *, silent_line: bool = False,
                 read: Sequence[str] = ()) -> CallSummary:
    """A summary built by rules from the call's facts (used offline or when OpenAI fails).

    ``title``: the used article's title if the caller already looked it up. A call that ended
    in ``check_resolved`` was read an answer it never confirmed or rejected: the summary says so,
    even when an earlier answer of the call was confirmed (outcome ``ai-resolved``).
    A caller who put the last answer off ("I'll try that later", ``answer_deferred``) and was not passed to a person
    since: the summary says the answer is still to be tried.
    A call that ended while the caller was asked to tell more about a short question ("billing") says it was not
    answered, even when an earlier answer was confirmed. A caller who ended the call with a goodbye before a question
    was answered ("bye", "sorry, wrong number", "I'll call back later") is said to have ended it, not hung up.
    ``silent_line``: nothing was heard from the caller (see :func:`_silent_line`). ``read``: the ids of the
    articles read to the caller; the topic is the call's article when it was read (a caller who asked for a
    person after hearing its answer), "unanswered question" only when it was not.
    """
    title = title or _article_title(call.article_id)
    who = call.name or "The caller"
    lines = []
    question = question_of(call)
    if silent_line:
        return CallSummary(
            summary="The line was silent: nothing was heard after the greeting and two re-prompts, so the caller "
                    "was asked to call again (a pocket dial, or a caller who could not be heard).",
            topic=NO_QUESTION_TOPIC, sentiment="neutral")
    reported = call.outcome == NEEDS_HUMAN and call.escalation_reason in REPORT_TOPICS
    if question and reported:  # "the website is down", a complaint: said, not asked
        lines.append(f"{who} said: \"{_shorten(question, 200)}\".")
    elif question and (call.questions_asked or 0) > 1:
        lines.append(f"{who} asked {call.questions_asked} questions, the last: \"{_shorten(question, 200)}\".")
    elif question:
        lines.append(f"{who} asked: \"{_shorten(question, 200)}\".")
    else:
        lines.append(f"{who} called but no question was captured.")
    unconfirmed = call.state == "check_resolved" and call.outcome != NEEDS_HUMAN
    # the last question was a short one the KB could not place: the caller was asked to tell more and never did
    untold = bool(call.pending_question) and call.state in ("answer", "goodbye")
    article = title or call.article_id
    # "I'll try that later" to the last answer, and no escalation since
    deferred = bool(call.answer_deferred) and call.outcome != NEEDS_HUMAN and not unconfirmed and not untold
    if untold and call.outcome == RESOLVED:
        lines.append("The caller was asked to say more about it and ended the call before it was answered.")
        lines.append(f"The caller had confirmed that an earlier answer on this call, from the help-center article "
                     f"\"{article}\", solved their issue.")
    elif unconfirmed or deferred:
        why = ("the caller hung up before saying whether it helped" if unconfirmed else
               "the caller would try it later, so it is not known yet whether it solved the issue")
        lines.append(f"Answered from the help-center article \"{article}\"; {why}.")
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
        number = case_number(question) if call.escalation_reason == "case-follow-up" else None
        if number:
            lines.append(f"Case number given: {number}.")
    elif call.state == "goodbye":  # "bye", "I'll call back later", "wrong number": the caller ended it, not a hang-up
        lines.append("The caller ended the call before it was answered." if question else
                     "The caller ended the call before asking a question.")
    else:
        lines.append("The caller hung up before the issue was resolved.")
    if call.next_question:  # said with an earlier question, and the call ended before it was reached
        lines.append(f"{who} also asked: \"{_shorten(call.next_question, 200)}\"; it was not answered on the call.")
    answered = (call.outcome == RESOLVED or call.escalation_reason == "not-resolved" or unconfirmed
                or (call.article_id is not None and call.article_id in read))
    if reported:
        topic = REPORT_TOPICS[call.escalation_reason or ""]
    elif title and answered:
        topic = _shorten(title.lower(), 40)
    else:
        topic = UNANSWERED_TOPIC if question else NO_QUESTION_TOPIC
    sentiment = "positive" if call.outcome == RESOLVED and not (unconfirmed or deferred) else (
        "negative" if call.escalation_reason in ("not-resolved", "caller-request", "outage", "security", "complaint")
        else "neutral"
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


_WORD_RE = re.compile(r"[^\W_]+")
MAX_CASING_SOURCE_CHARS = 20_000


def _cased_like(text: str, source: Optional[str]) -> str:
    """``text`` with each all-lowercase word written as ``source`` writes it, when ``source`` writes it only
    with inner capitals ("sso" -> "SSO", "api key" -> "API key", "iphone" -> "iPhone"): speech recognition
    gives acronyms in lower case, and "Sso" is no subject a support agent recognises. Words that ``source``
    also writes in lower case, or only capitalised ("Slack", a sentence start), are left alone."""
    if not source or not text:
        return text
    forms: dict[str, str] = {}
    plain: set[str] = set()
    # the article's first 20,000 characters: this runs in the status callback (a webhook), and a body of the
    # KB's largest size (200,000) took 13-16 ms to read word by word
    for word in _WORD_RE.findall(source[:MAX_CASING_SOURCE_CHARS]):
        lower = word.lower()
        if word == lower or word == word.capitalize():
            plain.add(lower)
        else:
            forms.setdefault(lower, word)
    return _WORD_RE.sub(lambda m: forms.get(m.group(), m.group()) if m.group() not in plain else m.group(), text)


def _subject(call: Call, article_text: Optional[str] = None) -> str:
    """The caller's question (acronyms cased as the call's article writes them, see :func:`_cased_like`),
    first letter capitalised, at most ``MAX_SUBJECT_CHARS``; else what happened on the call."""
    question = question_of(call)
    if question and call.escalation_reason == "complaint" and "complain" not in question.casefold():
        question = f"Complaint: {question}"
    elif question and call.escalation_reason == "case-follow-up":
        number = case_number(question)
        return f"Follow-up on case {number}" if number else _shorten(f"Follow-up: {question}", MAX_SUBJECT_CHARS)
    if question:
        cased = _cased_like(question, article_text)
        if cased.split(" ", 1)[0] == question.split(" ", 1)[0]:  # "iPhone app" keeps its small i
            cased = cased[:1].upper() + cased[1:]
        return _shorten(cased, MAX_SUBJECT_CHARS)
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
SPEAKER_LABELS = {"caller": "Caller", "agent": "Bot"}  # "agent": callflow itself, never a person of the team


def _articles_of(ids: Sequence[str]) -> dict[str, tuple[str, Optional[str]]]:
    """``{external_id: (title, url)}`` of the KB articles among ``ids`` (removed ones are missing)."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    rows = db.session.execute(
        select(KbArticle.external_id, KbArticle.title, KbArticle.url).where(KbArticle.external_id.in_(wanted))
    )
    return {row.external_id: (row.title, row.url) for row in rows}


def _articles_read(turns: Sequence[Any]) -> list[str]:
    """Ids of the articles the bot answered from, in the order it read them (each once)."""
    read: list[str] = []
    for turn in turns:
        article_id = getattr(turn, "article_id", None)
        if turn.speaker == "agent" and article_id and article_id not in read:
            read.append(article_id)
    return read


def _article_html(article_id: str, articles: Mapping[str, tuple[str, Optional[str]]]) -> str:
    """An article's title, linked to the help center when its URL is http(s); escaped."""
    if article_id not in articles:  # removed by a KB sync since the call
        return f"article {escape(article_id)} (no longer in the knowledge base)"
    title, url = articles[article_id]
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return f'<a href="{escape(url)}">{escape(title)}</a>'
    return escape(title)


def compose_ticket(
    call: Call,
    summary: Optional[CallSummary] = None,
    source: str = "rules",
    *,
    turns: Optional[Sequence[Any]] = None,
    articles: Any = _LOOK_UP,
    article_text: Any = _LOOK_UP,
) -> dict[str, Any]:
    """Build the ticket payload for a finalized call (``call.outcome`` must be set).

    ``call`` is a :class:`Call` or a :class:`~callflow.call_store.CallRecord`; ``turns``
    (objects with speaker, text, state, created_at, article_id; default ``call.turns``) and
    ``articles`` (``{external_id: (title, url)}`` of the call's article and of every article an
    answer came from; default looked up) let a caller that already has them pass them.

    The contents tell a support agent how to reach the caller (a withheld caller id is not shown
    as a number to call), which articles were read to the caller, and label the transcript's
    speakers "Caller" and "Bot". ``article_text`` (the text of ``call.article_id``, default looked up) gives
    the subject the article's casing of acronyms.
    """
    turns = list(call.turns if turns is None else turns)
    read = _articles_read(turns)
    if articles is _LOOK_UP:
        articles = _articles_of([call.article_id, *read])
    title = articles[call.article_id][0] if call.article_id in articles else None
    silent_line = _silent_line(call, turns)
    summary = summary or rule_summary(call, title, silent_line=silent_line, read=read)
    outcome = call.outcome or ABANDONED
    priority = "urgent" if outcome == NEEDS_HUMAN else "normal"
    tags = ["ai-call", outcome]
    if source != "rules":
        extra = topic_tag(summary.topic)
        if extra:
            tags.append(extra)
    email = call.email if call.email_confirmed else None
    if article_text is _LOOK_UP:
        article_text = db.session.scalar(
            select(KbArticle.text).where(KbArticle.external_id == call.article_id)) if call.article_id else None
    subject = _NO_QUESTION_SUBJECTS["silence"] if silent_line else _subject(call, article_text)
    e = escape
    if email:
        email_line = f"{e(email)} (confirmed by the caller)"
    elif call.email:
        email_line = f"not confirmed; last heard as {e(call.email)}"
    else:
        email_line = "not captured" + (" after 3 tries" if call.email_attempts >= 3 else "")
    caller_id = normalize_phone(call.from_number)
    callable_number = caller_id or normalize_phone(call.callback_number)
    # Twilio's From as sent, unless there is no caller id to call back and the caller gave a number on the call
    requester_phone = call.from_number if caller_id or not callable_number else callable_number
    if caller_id:
        phone_line = e(call.from_number)
    elif callable_number:  # a caller with a withheld number who said one to call back on
        # the call ended at its read-back ("I heard 4, 1, 5, .... Is that correct?"): kept, but not confirmed
        confirmed = "" if call.state != "confirm_email" else ", not confirmed"
        phone_line = f"{e(callable_number)} (given on the call to call back on{confirmed}; caller id withheld)"
    elif call.from_number:  # Twilio's withheld-number placeholders, "anonymous", sip:/client: callers
        phone_line = f"none to call back (caller id &quot;{e(call.from_number)}&quot; is withheld or not a phone number)"
    else:
        phone_line = "unknown"
    unreachable = (
        "" if email or callable_number
        else "<li><b>No way to reach the caller:</b> no confirmed email address and no phone number to call back.</li>"
    )
    if read:
        article_lines = f"<li>Answered from: {', '.join(_article_html(a, articles) for a in read)}</li>"
    else:
        article_lines = ""
    if call.article_id and call.article_id not in read:  # the best match of an unanswered question
        article_lines += f"<li>Closest help-center article (not read to the caller): {_article_html(call.article_id, articles)}</li>"
    rows = []
    for turn in turns:
        who = SPEAKER_LABELS.get(turn.speaker, "Bot")
        text = turn.text or "(no response)"
        rows.append(f"<li><b>[{e(_fmt_time(turn.created_at, call.started_at))}] {who}:</b> {e(text)}</li>")
    reason = _REASONS.get(call.escalation_reason or "", "") if outcome == NEEDS_HUMAN else ""
    contents = "".join(
        [
            f"<h3>SUBJECT</h3><p>{e(subject)}</p>",
            f"<h3>SUMMARY</h3><p>{'<br>'.join(e(line) for line in summary.summary.splitlines())}</p>",
            f"<p>Topic: {e(summary.topic)}. Caller sentiment: {e(summary.sentiment)}.</p>",
            f"<h3>PRIORITY ESTIMATE</h3><p>{'Urgent' if priority == 'urgent' else 'Normal'}",
            f" ({e(reason)})" if reason else "",
            "</p><h3>CALLER</h3><ul>",
            f"<li>Name: {e(call.name or 'not given')}</li>",
            f"<li>Email: {email_line}</li>",
            f"<li>Phone: {phone_line}</li>",
            unreachable,
            "</ul><h3>CALL</h3><ul>",
            f"<li>Started: {e(_fmt_time(call.started_at, None))}</li>",
            f"<li>Duration: {e(_fmt_duration(call.duration_s))}</li>",
            f"<li>Outcome: {e(outcome)}</li>",
            article_lines,
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
        "requester": {"name": call.name, "email": email, "phone": requester_phone},
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
    wanted = sorted({i for i in [call.article_id, *_articles_read(turns)] if i})
    rows = conn.execute(_ARTICLES, {"ids": wanted, "article_id": call.article_id}).all() if wanted else []
    articles = {r.external_id: (r.title, r.url) for r in rows}
    article_text = next((r.text for r in rows if r.external_id == call.article_id), None)
    payload = compose_ticket(call, turns=turns, articles=articles, article_text=article_text)
    call.topic, call.sentiment = payload["topic"], payload["sentiment"]
    ticket = {"payload": payload, "status": "queued", "attempts": 0, "next_attempt_at": now, "created_at": now}
    call_store.write(conn, call, [ticket], table=_OUTBOX)
    return True


_OUTBOX = TicketOutbox.__table__
_TICKET_OF_CALL = select(_OUTBOX.c.id).where(_OUTBOX.c.call_id == bindparam("call_id"))
_TURNS_OF_CALL = (
    select(call_store.TURN.c.speaker, call_store.TURN.c.text, call_store.TURN.c.state, call_store.TURN.c.created_at,
           call_store.TURN.c.article_id)
    .where(call_store.TURN.c.call_id == bindparam("call_id"))
    .order_by(call_store.TURN.c.seq)
)
_KB = KbArticle.__table__
# the start of the call's own article's text only (its casing of acronyms for the subject, see _cased_like), not
# the whole text of every article read
_ARTICLES = select(
    _KB.c.external_id, _KB.c.title, _KB.c.url,
    case((_KB.c.external_id == bindparam("article_id"), func.substr(_KB.c.text, 1, MAX_CASING_SOURCE_CHARS)),
         else_=None).label("text"),
).where(_KB.c.external_id.in_(bindparam("ids", expanding=True)))


