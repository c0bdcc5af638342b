"""Admin pages and JSON endpoints: dashboard, calls, call detail, ticket retry, KB.

Every route here needs a signed-in admin (see ``_guard`` in the package). Caller text is
only ever rendered through Jinja's autoescaping; the ticket's HTML goes into a sandboxed
``<iframe srcdoc>``.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Optional
from urllib.parse import urlsplit

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import HTTPException

from ..clock import utcnow
from ..extensions import db
from ..kb_search import KbHit
from ..models import NEEDS_HUMAN, Call, KbArticle, TicketOutbox
from ..outbox import retry_ticket
from . import bp, wants_json
from .forms import (
    ESCALATION_REASONS,
    IN_PROGRESS,
    NEWEST,
    NO_TICKET,
    SILENT,
    CallFilterForm,
    CsrfForm,
    KbTryForm,
    PeriodForm,
)
from .metrics import DEFAULT_PERIOD_DAYS, PeriodError, compute_metrics, make_period, parse_period, silent_call

#: Largest row id a URL may name: the ids are 32-bit ``INTEGER`` on PostgreSQL (64-bit on
#: SQLite). A larger number is a 404 from the URL map, not a database overflow error (500).
MAX_ROW_ID = 2**31 - 1
#: Highest page number a list may be asked for: its OFFSET stays far inside a 64-bit integer
#: (``?page=400000000000000000`` overflowed it: a 500). A page past the last one is empty.
MAX_PAGE = 100_000


def page_number() -> int:
    """The ``page`` query argument, 1..:data:`MAX_PAGE`; 1 when missing or not a whole number."""
    return min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)


def can_retry(ticket: Optional[TicketOutbox]) -> bool:
    """A failed ticket, or a queued one that already failed an attempt (send it now, not after the backoff).

    ``delivered``/``local`` tickets are done, ``sending`` ones are in a worker's hands.
    """
    if ticket is None:
        return False
    return ticket.status == "failed" or (ticket.status == "queued" and ticket.attempts > 0)


# -- template helpers ---------------------------------------------------------------------


@bp.app_template_filter("admin_time")
def format_time(value: Optional[datetime], fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC time for display ("" for None)."""
    if value is None:
        return ""
    return value.astimezone(timezone.utc).strftime(fmt)


@bp.app_template_filter("admin_duration")
def format_duration(seconds: Optional[float]) -> str:
    """Seconds as ``m:ss`` ("–" for None)."""
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


@bp.app_template_filter("admin_percent")
def format_percent(ratio: Optional[float]) -> str:
    """A 0..1 ratio as a percentage ("–" for None)."""
    return "–" if ratio is None else f"{ratio * 100:.1f} %"


@bp.app_template_filter("admin_reason")
def reason_label(reason: Optional[str]) -> str:
    """An escalation reason (``no-kb-match``) as the admin page names it ("No KB article matched"); an unknown
    code as it is, "" for None."""
    return ESCALATION_REASONS.get(reason or "", reason or "")


@bp.app_template_filter("admin_http_url")
def http_url(value: Any) -> Optional[str]:
    """The URL if it is http(s), else None: stored URLs never become ``javascript:`` links."""
    if not value or not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else None


@bp.app_template_filter("admin_offset")
def format_offset(moment: Optional[datetime], start: Optional[datetime]) -> str:
    """Time since the call started as ``+m:ss``."""
    if moment is None or start is None:
        return ""
    delta = max(0, int((moment - start).total_seconds()))
    return f"+{delta // 60}:{delta % 60:02d}"


def _article_titles(ids: set[Optional[str]]) -> dict[str, KbArticle]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = db.session.scalars(select(KbArticle).where(KbArticle.external_id.in_(wanted)))
    return {a.external_id: a for a in rows}


# -- errors -------------------------------------------------------------------------------


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    """JSON errors for the API, a small page for everything else."""
    code = exc.code or 500
    if wants_json():
        message = "CSRF token missing or invalid" if type(exc).__name__ == "CSRFError" else exc.description
        if code == 429:
            message = "too many requests"
        return jsonify(error=message), code
    if code == 429 and request.endpoint == "admin.login":
        from .forms import LoginForm

        error = "Too many sign-in attempts. Wait a minute and try again."
        return render_template("admin/login.html", form=LoginForm(), error=error), 429
    if type(exc).__name__ == "CSRFError":
        message = "The form has expired or was not sent by this site. Go back, reload the page and try again."
    else:
        message = exc.description
    return render_template("admin/error.html", code=code, name=exc.name, message=message), code


# -- dashboard and metrics ------------------------------------------------------------------


@bp.get("/")
def dashboard():
    """Show the support figures for a period (default: the last 30 days)."""
    form = PeriodForm(request.args)
    error = None
    try:
        period = parse_period(request.args.get("from"), request.args.get("to"))
    except PeriodError as exc:
        error = str(exc)
        period = make_period(None, None)
    metrics = compute_metrics(period)
    form.date_from.data, form.date_to.data = period.start, period.end
    today = utcnow().date()
    presets = [
        (label, (today - timedelta(days=days - 1)).isoformat(), today.isoformat())
        for label, days in (("7 days", 7), ("30 days", DEFAULT_PERIOD_DAYS), ("90 days", 90), ("1 year", 365))
    ]
    page = render_template(
        "admin/dashboard.html", form=form, metrics=metrics, period=period, error=error, presets=presets
    )
    return page, 400 if error else 200


@bp.get("/api/metrics")
def api_metrics():
    """The dashboard figures as JSON: ``?from=YYYY-MM-DD&to=YYYY-MM-DD`` (400 on bad dates)."""
    try:
        period = parse_period(request.args.get("from"), request.args.get("to"))
    except PeriodError as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(compute_metrics(period))


# -- calls ------------------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


_PHONE_QUERY = re.compile(r"[\d\s()+.\-]+")
#: A whole email address, by its shape only (one ``@``, a dot in the domain, no spaces): "hugo@example" is not.
_EMAIL_QUERY = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
#: A CallSid or a prefix of one: ``CA`` and 6 to 32 hex digits, any case (Twilio's are ``CA`` + 32 lowercase hex
#: digits). Shorter ones ("Cade", "cafe") are names and words too, so they are searched like any text.
_CALL_SID_QUERY = re.compile(r"CA[0-9a-f]{6,32}", re.IGNORECASE)
#: Sorts after every digit and hex letter, in PostgreSQL's collations as in SQLite's (and C) byte order; ":" (the
#: byte after "9") would not do: glibc's and ICU's collations ignore punctuation at first.
_AFTER_HEX = "z"


def _starts_with(column, prefix: str):
    """``column`` starts with ``prefix`` (digits, ``+``, ``CA`` and hex digits), as a range a plain B-tree index
    serves on SQLite and PostgreSQL alike; ``LIKE 'p%'`` is served by neither (SQLite's LIKE folds case, and
    PostgreSQL's needs the C collation or a ``*_pattern_ops`` index). Continuations other than digits and hex
    letters (never in a CallSid or an E.164 number) may be missed."""
    return and_(column >= prefix, column < prefix + _AFTER_HEX)


def _search_clause(q: str):
    """Match a stripped, non-empty query against calls, by what it looks like:

    - a whole email address: that address, any case (``lower(email) = q``, index ``ix_call_lower_email``);
    - ``CA`` + 6 to 32 hex digits: CallSids starting with it, any case (the unique index on call_sid);
    - a phone number written with its ``+`` country code (digits, spaces, ``+()-.``): caller numbers starting
      with its digits (index ``ix_call_from_number``; Twilio sends ``From`` as E.164, ``+14155550100``);
    - anything else (part of an email, a name, a national number such as "(415) 555-0199"): a case-folded
      substring of the email or name, a prefix of the CallSid, and, when it looks like a phone number, its
      digits anywhere in the caller's number. No index serves a substring: this one reads every call (about
      0.4-1.3 s at 100,000 calls on SQLite or PostgreSQL); the three above read a few rows (about 10 ms).
    """
    lowered = q.lower()
    digits = "".join(ch for ch in q if ch.isdigit())
    phone_like = len(digits) >= 3 and _PHONE_QUERY.fullmatch(q)  # not the digits of "bob415@example.com"
    if _EMAIL_QUERY.fullmatch(q):
        return func.lower(Call.email) == lowered
    if _CALL_SID_QUERY.fullmatch(q):
        return _starts_with(Call.call_sid, "CA" + lowered[2:])
    if phone_like and q.startswith("+"):
        return _starts_with(Call.from_number, "+" + digits)
    clauses = [
        func.lower(Call.email).contains(lowered, autoescape=True),
        func.lower(Call.call_sid).startswith(lowered, autoescape=True),
        func.lower(Call.name).contains(lowered, autoescape=True),
    ]
    if phone_like:
        clauses.append(Call.from_number.contains(digits, autoescape=True))
    return or_(*clauses)


#: ORDER BY of each ``?sort=`` of the calls list (:data:`~.forms.SORT_CHOICES`), each ending on the id so that
#: equal times or durations keep one order from page to page. By start time: the index on ``started_at`` (its
#: entries end on the id) gives the rows in order. By duration: calls without one (in progress) come last on
#: SQLite and PostgreSQL alike (their default NULL orders differ), equal durations latest stored first. No index
#: serves it (``duration_s`` has none; one would cost every call a write for a rarely used order): a sort of the
#: matching calls, at 100,000 calls on SQLite 25-75 ms for page 1 and about 250 ms for page 2,000 (by start
#: time: 6-9 ms).
CALL_ORDERS = {
    NEWEST: (Call.started_at.desc(), Call.id.desc()),
    "oldest": (Call.started_at.asc(), Call.id.asc()),
    "longest": (Call.duration_s.desc().nulls_last(), Call.id.desc()),
    "shortest": (Call.duration_s.asc().nulls_last(), Call.id.desc()),
}


@bp.get("/calls")
def calls():
    """List calls with filters (outcome, silent calls, escalation reason, ticket status, dates), search, a sort
    order (``?sort=``: :data:`CALL_ORDERS`, newest first unless given) and pages. A value not in a field's
    choices is ignored, with a warning on the page."""
    form = CallFilterForm(request.args)
    invalid = not form.validate()
    for field in (form.q, form.outcome, form.reason, form.ticket, form.date_from, form.date_to, form.sort):
        if field.errors:
            field.data = None
    sort = form.sort.data if form.sort.data in CALL_ORDERS else NEWEST
    form.sort.data = sort
    stmt = select(Call).options(selectinload(Call.ticket)).order_by(*CALL_ORDERS[sort])
    q = (form.q.data or "").strip()
    if q:
        stmt = stmt.where(_search_clause(q))
    if form.outcome.data == IN_PROGRESS:
        stmt = stmt.where(Call.ended_at.is_(None))
    elif form.outcome.data == SILENT:  # as the dashboard counts them
        stmt = stmt.where(silent_call())
    elif form.outcome.data:
        stmt = stmt.where(Call.outcome == form.outcome.data, Call.ended_at.is_not(None))
    if form.reason.data == "unknown":  # as the dashboard counts it: escalated without a reason
        stmt = stmt.where(Call.outcome == NEEDS_HUMAN, Call.ended_at.is_not(None),
                          or_(Call.escalation_reason == "unknown", Call.escalation_reason.is_(None)))
    elif form.reason.data:
        stmt = stmt.where(Call.escalation_reason == form.reason.data, Call.ended_at.is_not(None))
    if form.ticket.data == NO_TICKET:
        stmt = stmt.where(~Call.ticket.has())
    elif form.ticket.data:
        stmt = stmt.where(Call.ticket.has(TicketOutbox.status == form.ticket.data))
    if form.date_from.data:
        stmt = stmt.where(Call.started_at >= _day_start(form.date_from.data))
    if form.date_to.data:
        stmt = stmt.where(Call.started_at < _day_start(form.date_to.data + timedelta(days=1)))
    page = db.paginate(
        stmt, page=page_number(), per_page=current_app.config["ADMIN_PAGE_SIZE"], max_per_page=100, error_out=False
    )
    filters = {
        key: value
        for key, value in (
            ("q", q),
            ("outcome", form.outcome.data),
            ("reason", form.reason.data),
            ("ticket", form.ticket.data),
            ("from", form.date_from.data.isoformat() if form.date_from.data else None),
            ("to", form.date_to.data.isoformat() if form.date_to.data else None),
        )
        if value
    }
    # what the page links (pages, last page) keep: the filters, and the order unless it is the default
    args = dict(filters, sort=sort) if sort != NEWEST else filters
    order = next(choice.label for choice in form.sort.choices if choice.value == sort).lower()
    return render_template(
        "admin/calls.html", form=form, page=page, filters=filters, args=args, order=order, invalid=invalid
    )


@bp.get(f"/calls/<int(max={MAX_ROW_ID}):call_id>")
def call_detail(call_id: int):
    """Show one call: facts, transcript, article, ticket and its delivery attempts."""
    call = db.get_or_404(Call, call_id, description="No such call.")
    ticket = call.ticket
    payload: dict[str, Any] = dict(ticket.payload or {}) if ticket else {}
    articles = _article_titles({call.article_id, *(t.article_id for t in call.turns)})
    payload_json = json.dumps(payload, indent=2, ensure_ascii=False, default=str) if ticket else ""
    return render_template(
        "admin/call_detail.html",
        call=call,
        ticket=ticket,
        payload=payload,
        payload_json=payload_json,
        contents_html=str(payload.get("contents_html") or ""),
        articles=articles,
        retry_form=CsrfForm(),
        retryable=can_retry(ticket),
    )


def _requeue(ticket: TicketOutbox) -> bool:
    """Queue ``ticket`` again if :func:`can_retry`; False if not, or if a worker claimed it in
    between (``retry_ticket`` leaves a ticket being sent alone). ``ticket`` is refreshed."""
    if not can_retry(ticket):
        return False
    return retry_ticket(ticket.id).status == "queued"


@bp.post(f"/tickets/<int(max={MAX_ROW_ID}):ticket_id>/retry")
def retry(ticket_id: int):
    """Queue a failed ticket for delivery again (form button; CSRF checked)."""
    ticket = db.get_or_404(TicketOutbox, ticket_id, description="No such ticket.")
    if _requeue(ticket):
        flash(f"Ticket {ticket.id} is queued for delivery again.", "success")
    else:
        flash(f"Ticket {ticket.id} is {ticket.status}: nothing to retry.", "warning")
    return redirect(url_for("admin.call_detail", call_id=ticket.call_id) + "#ticket")


@bp.post(f"/api/tickets/<int(max={MAX_ROW_ID}):ticket_id>/retry")
def api_retry(ticket_id: int):
    """Queue a failed ticket again; JSON answer; needs the ``X-CSRFToken`` header."""
    ticket = db.session.get(TicketOutbox, ticket_id)
    if ticket is None:
        return jsonify(error="no such ticket"), 404
    if not _requeue(ticket):
        return jsonify(error=f"ticket is {ticket.status}", id=ticket.id, status=ticket.status), 409
    return jsonify(id=ticket.id, status=ticket.status, next_attempt_at=ticket.next_attempt_at.isoformat())


# -- knowledge base -----------------------------------------------------------------------


@bp.get("/kb")
def kb():
    """List the KB articles with the last sync time, and try a question against the index."""
    form = KbTryForm(request.args)
    index = current_app.extensions["kb"].index()
    cutoff = index.cutoff
    hits: list[KbHit] = []
    question = ""
    if form.validate() and (form.q.data or "").strip():
        question = form.q.data.strip()
        hits = index.search(question, limit=5)
    last_sync, total = db.session.execute(select(func.max(KbArticle.synced_at), func.count(KbArticle.id))).one()
    page = db.paginate(
        select(KbArticle).order_by(KbArticle.section, KbArticle.title, KbArticle.id),
        page=page_number(),
        per_page=50,
        max_per_page=200,
        error_out=False,
    )
    hit_articles = _article_titles({h.id for h in hits})
    best_clears = bool(hits) and hits[0].score >= cutoff
    if last_sync is not None and last_sync.tzinfo is None:
        last_sync = last_sync.replace(tzinfo=timezone.utc)
    return render_template(
        "admin/kb.html",
        form=form,
        question=question,
        hits=hits,
        hit_articles=hit_articles,
        cutoff=cutoff,
        best_clears=best_clears,
        last_sync=last_sync,
        total=total,
        page=page,
        invalid=bool(form.errors),
    )
