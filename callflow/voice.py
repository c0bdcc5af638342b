"""Twilio voice webhooks: ``/voice/incoming``, ``/voice/gather`` and ``/voice/status``.

Each caller turn is one round trip: Twilio POSTs the Gather result, we load the call row,
let :class:`Conversation` move its state machine, save the row with the turn's utterances
(version-checked; one statement in autocommit on PostgreSQL, see :mod:`callflow.call_store`)
and answer with TwiML. Nothing about a call lives in a
process, so any worker of any instance can serve any turn.

Replays are harmless: a repeated ``I-Twilio-Idempotency-Token`` or a Gather answered
already (its ``t`` sequence number is old) gets the TwiML that was sent before, and the
machine does not move twice. An error inside a turn is spoken as an apology and an
escalation; it never becomes a 500 (Twilio would play its "application error").
"""
from __future__ import annotations

import logging
import re
import time
import traceback
from typing import Callable, Optional

from flask import Blueprint, abort, current_app, g, request, url_for
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from . import call_store, prompts
from .call_store import CallRecord, StaleCall
from .clock import utcnow
from .conversation import Conversation, Heard, Reply, clean_digits, clean_speech, parse_confidence
from .extensions import db
from .flow import EMAIL_STATES
from .models import NEEDS_HUMAN
from .security import verify_twilio_signature
from .tickets import TERMINAL_STATUSES, finalize_record
from .twiml import format_hints, hold_and_retry, render, replay, say_and_hangup, twiml_response

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__, url_prefix="/voice")

CALL_SID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NOT_VISIBLE_ASCII = re.compile(r"[^\x21-\x7e]")
ASCII_INT_RE = re.compile(r"[0-9]{1,6}")  # str.isdigit() accepts "²", which int() refuses
PHONE_MAX = 64
EMAIL_HINTS = ("at", "dot", "dot com", "gmail dot com", "underscore", "dash", "hyphen", "at sign")
YES_NO_HINTS = ("yes", "no", "that's right", "agent", "representative")
MAX_TURN_ATTEMPTS = 3
_EMAIL_HINTS = format_hints(EMAIL_HINTS)
_YES_NO_HINTS = format_hints(YES_NO_HINTS)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
TURN_BUDGET_S = 5.0  # keep every turn well under Twilio's hard 15 s webhook limit


def _without_message(exc: BaseException) -> str:
    """The exception's class and frames, not its message (it may quote what the caller said)."""
    frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
    return f"{type(exc).__name__}\n{frames}"


@bp.before_request
def _signature() -> None:
    g.voice_started = time.perf_counter()
    verify_twilio_signature()


@bp.errorhandler(Exception)
def _never_an_application_error(exc: Exception):
    """Last line of defence: any unexpected error still answers Twilio with TwiML, not a 500.

    HTTP errors (403 signature, 400 CallSid, 405, 413) pass through unchanged. A live call
    hears an apology and the escalation; its row (if any) is finalized later by the status
    callback or the sweeper, so it still gets its ticket. Twilio plays its own "application
    error" on a 5xx: https://www.twilio.com/docs/api/errors/11200
    """
    if isinstance(exc, HTTPException):
        return exc
    db.session.rollback()
    log.error("unexpected error in a voice webhook: %s", _without_message(exc))
    if request.endpoint == "voice.status":
        return twiml_response(EMPTY_TWIML)
    document = _static([prompts.APOLOGY, prompts.ESCALATE])
    _escalate_after_error(exc, document)
    return twiml_response(document)


def _escalate_after_error(exc: Exception, document: str) -> None:
    """Record that the caller was told of an error and promised a follow-up (``document``): the call becomes
    ``escalate`` / ``needs-human`` (reason ``error``), so its ticket is urgent, not ``abandoned``.

    Best effort: without a row (or a database) nothing is written; the status callback then treats a
    ``completed`` call it never greeted as interrupted by an error (:func:`status`). The stored error is
    the exception's class only (its message may quote the caller). Never raises.
    """
    sid = (request.form.get("CallSid") or "").strip()
    if not CALL_SID_RE.match(sid):
        return
    try:
        with db.engine.begin() as conn:
            call = call_store.load(conn, sid)
            if call is None or call.finalized or call.state in ("escalate", "goodbye"):
                return
            Conversation(call, current_app.extensions).fail()
            call.error = f"{type(exc).__name__} (outside the turn)"
            call.prompt_seq += 1  # a retried Gather (an old ``t``) gets this document again
            call.last_twiml = document
            call.last_activity_at = utcnow()
            call_store.save(conn, call)
    except Exception as second:  # the database too: the status callback or the sweeper still queue the ticket
        db.session.rollback()
        log.error("could not record the error on the call (%s)", type(second).__name__)


@bp.after_request
def _server_timing(response):
    """Report the server's own time for the webhook (``Server-Timing: app;dur=<ms>``).

    https://www.w3.org/TR/server-timing/ — load tests read it to separate server time
    from queueing on the client side.
    """
    started = g.get("voice_started")
    if started is not None:
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


def _form_text(name: str, limit: int) -> Optional[str]:
    """A form field cleaned like speech (no control characters, NUL included), cut to ``limit``."""
    return clean_speech(request.form.get(name))[:limit] or None


def _idempotency_token() -> Optional[str]:
    """``I-Twilio-Idempotency-Token``: visible ASCII only, at most 200 characters, else None.

    It is stored with the call (``last_request_token``) to recognise a retried webhook, so a
    control character (PostgreSQL text refuses NUL) must not reach the database.
    https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides
    """
    return _NOT_VISIBLE_ASCII.sub("", request.headers.get("I-Twilio-Idempotency-Token") or "")[:200] or None


def _call_sid() -> str:
    sid = (request.form.get("CallSid") or "").strip()
    if not CALL_SID_RE.match(sid):
        abort(400, description="A valid CallSid form field is required.")
    return sid


def _action_url(seq: int, retry: int = 0) -> str:
    params = {"t": seq}
    if retry:
        params["r"] = retry
    base = current_app.config.get("PUBLIC_BASE_URL")
    path = url_for("voice.gather", **params)
    # PUBLIC_BASE_URL already ends with any prefix a proxy strips (X-Forwarded-Prefix -> script_root): not twice
    return base + path[len(request.script_root):] if base else path


def _hints(state: str) -> Optional[str]:
    if state == "collect_email":
        return _EMAIL_HINTS
    if state in ("confirm_email", "check_resolved"):
        return _YES_NO_HINTS
    if state == "answer":
        try:
            return current_app.extensions["kb"].hints()
        except Exception:
            return None
    return None


def _speech_timeout(state: str) -> str:
    """``<Gather speechTimeout>`` for the question asked in ``state``: "auto" (Twilio ends the speech at a
    pause of about half a second, the quickest turn), but ``EMAIL_SPEECH_TIMEOUT_S`` seconds while the caller
    gives, spells or corrects their email address, whose letters come with pauses.
    https://www.twilio.com/docs/voice/twiml/gather#speechtimeout"""
    if state in EMAIL_STATES:
        return str(current_app.config["EMAIL_SPEECH_TIMEOUT_S"])
    return "auto"


def _render_reply(call: CallRecord, reply: Reply, started: float) -> str:
    cfg = current_app.config
    # "What's the best phone number to reach you on?": the number may be typed on the keypad, every key until "#" (or
    # the timeout), where other questions take one key (1 yes, 2 no, 0 a person); and no hints: digits, which the
    # recogniser knows (the address words would only mislead it)
    number = call.state == "collect_email" and call.number_asked
    return render(
        reply.prompts,
        listen=reply.listen,
        action_url=_action_url(call.prompt_seq),
        speech=current_app.extensions["speech"],
        voice=cfg["TWILIO_VOICE"],
        language=cfg["TWILIO_LANGUAGE"],
        hints=_hints(call.state) if reply.listen and not number else None,
        timeout_s=cfg["GATHER_WAIT_TIMEOUT_S"] if reply.wait else cfg["GATHER_TIMEOUT_S"],
        speech_timeout=_speech_timeout(call.state),
        num_digits=None if number else 1,
        deadline=time.monotonic() + max(0.3, TURN_BUDGET_S - (time.perf_counter() - started)),
        call_sid=call.call_sid,
    )


def _static(texts: list[str]) -> str:
    cfg = current_app.config
    return say_and_hangup(texts, cfg["TWILIO_VOICE"], cfg["TWILIO_LANGUAGE"])


def _new_call_values(sid: str) -> dict:
    """Columns of a new call from the request's Twilio parameters (cleaned and cut to size)."""
    return {
        "call_sid": sid,
        "account_sid": _form_text("AccountSid", 64),
        "from_number": _form_text("From", PHONE_MAX),
        "to_number": _form_text("To", PHONE_MAX),
        "twilio_status": _form_text("CallStatus", 32),
        "state": "greet",
    }


#: The transcript's line for a prompt played again at the caller's request ("can you repeat that?").
REPEATED = "[the last prompt again, at the caller's request]"
_TURN_DEFAULTS = dict.fromkeys(call_store.TURN_FIELDS)  # every row has every field (one statement)


class _Turn:
    """One webhook turn's writes: the call record and the utterances to insert with it."""

    __slots__ = ("conn", "call", "rows")

    def __init__(self, conn: Connection, call: CallRecord):
        self.conn, self.call, self.rows = conn, call, []

    def say(self, speaker: str, text: str, **extra) -> None:
        """Record one utterance, numbered by ``call.turn_count`` (the call's turns are never loaded)."""
        call = self.call
        call.turn_count += 1
        self.rows.append({**_TURN_DEFAULTS, "seq": call.turn_count, "speaker": speaker,
                          "text": text, "state": call.state, "created_at": utcnow(), **extra})

    def respond(self, reply: Reply, started: float, token: Optional[str]) -> str:
        """Render the reply, record it, and write the call and its utterances; returns the TwiML."""
        call = self.call
        call.prompt_seq += 1
        if reply.repeat_answer:  # the last answer again, then the question
            answer = prompts.answer_in(call_store.last_answer(self.conn, call.id) or "")
            if answer:
                reply.prompts.insert(0, answer)
            else:
                reply.repeat = True
        replayed = replay(call.last_twiml, _action_url(call.prompt_seq)) if reply.repeat else None
        document = replayed or _render_reply(call, reply, started)
        self.say(
            "agent",
            REPEATED if replayed else " ".join(reply.prompts),
            server_ms=int((time.perf_counter() - started) * 1000),
            article_id=reply.article_id,
            article_score=reply.article_score,
        )
        call.last_twiml = document
        call.last_request_token = token
        call.last_activity_at = utcnow()
        call_store.write(self.conn, call, self.rows)
        return document


def _one_write_per_turn() -> bool:
    """True where a turn's writes are one statement (PostgreSQL): then it runs in autocommit."""
    return db.engine.dialect.name == "postgresql"


def _with_retries(step: Callable[[Connection], str], *, autocommit: bool = False) -> str:
    """Run one turn, again if a concurrent request changed the row.

    ``step`` gets a connection: in a transaction that commits when it returns, or with
    ``autocommit`` (each statement commits by itself: the step must write with one
    statement, :func:`callflow.call_store.write` on PostgreSQL).
    """
    for attempt in range(MAX_TURN_ATTEMPTS):
        try:
            if autocommit:
                with db.engine.connect() as conn:
                    return step(conn.execution_options(isolation_level="AUTOCOMMIT"))
            with db.engine.begin() as conn:
                return step(conn)
        except (StaleCall, IntegrityError, OperationalError) as exc:
            if attempt == MAX_TURN_ATTEMPTS - 1 or _timed_out(exc):  # a time limit spent: no second wait
                raise
            if isinstance(exc, OperationalError):  # locked or a dropped connection: brief pause, then again
                time.sleep(0.05 * (attempt + 1))
    raise RuntimeError("unreachable")


#: PostgreSQL's SQLSTATEs for a spent ``lock_timeout`` and ``statement_timeout``
#: (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_TIMEOUT_SQLSTATES = frozenset({"55P03", "57014"})


def _timed_out(exc: Exception) -> bool:
    """True for a database time limit (:func:`callflow.extensions.postgresql_engine_options`) that ran out."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in _TIMEOUT_SQLSTATES


def _database_trouble() -> str:
    """Answer without the database: ask the caller to hold and retry this Gather once, then give up.

    The retry is the same action URL plus ``r=1``; the second failure apologises and hangs up
    (the status callback or the sweeper still queues the ticket once the database is back).
    """
    db.session.rollback()
    if request.args.get("r"):
        return _static([prompts.APOLOGY, prompts.ESCALATE])
    seq = request.args.get("t", "0")
    cfg = current_app.config
    return hold_and_retry(
        prompts.ONE_MOMENT,
        _action_url(int(seq) if ASCII_INT_RE.fullmatch(seq) else 0, retry=1),
        voice=cfg["TWILIO_VOICE"],
        language=cfg["TWILIO_LANGUAGE"],
    )


@bp.post("/incoming")
def incoming():
    """Answer a new call: create its row and greet the caller."""
    sid = _call_sid()
    started = time.perf_counter()
    token = _idempotency_token()

    autocommit = _one_write_per_turn()

    def step(conn: Connection) -> str:
        call = call_store.load(conn, sid, lock=not autocommit)
        if call is not None:  # Twilio retried the voice URL: same answer, no new state
            return call.last_twiml or _static([prompts.APOLOGY])
        turn = _Turn(conn, CallRecord.new(_new_call_values(sid)))
        return turn.respond(Conversation(turn.call, current_app.extensions).start(), started, token)

    try:
        return twiml_response(_with_retries(step, autocommit=autocommit))
    except (SQLAlchemyError, StaleCall):
        log.exception("database error on incoming call")
        db.session.rollback()
        return twiml_response(_static([prompts.APOLOGY, prompts.ESCALATE]))


@bp.post("/gather")
def gather():
    """Handle one Gather result (SpeechResult / Digits) and answer with the next step."""
    sid = _call_sid()
    started = time.perf_counter()
    token = _idempotency_token()
    seq = request.args.get("t")
    heard = Heard(
        text=clean_speech(request.form.get("SpeechResult")),
        digits=clean_digits(request.form.get("Digits")),
        confidence=parse_confidence(request.form.get("Confidence")),
    )

    autocommit = _one_write_per_turn()

    def step(conn: Connection) -> str:
        call = call_store.load(conn, sid, lock=not autocommit)
        if call is None:  # a Gather for a call we never saw: start it properly
            turn = _Turn(conn, CallRecord.new(_new_call_values(sid)))
            return turn.respond(Conversation(turn.call, current_app.extensions).start(), started, token)
        if call.last_twiml and ((token and token == call.last_request_token) or (seq is not None and seq != str(call.prompt_seq))):
            return call.last_twiml  # a replayed or stale Gather: same TwiML, machine unmoved
        if call.finalized:
            return _static([prompts.GOODBYE])
        said = heard.text or (f"[keypad {heard.digits}]" if heard.digits else "")
        turn = _Turn(conn, call)
        turn.say("caller", said, confidence=heard.confidence)
        try:
            reply = Conversation(call, current_app.extensions).hear(heard)
        except SQLAlchemyError:
            raise
        except Exception as exc:  # a bug must not reach the caller as an application error
            log.error("error in a call turn: %s", _without_message(exc))
            call = call_store.load(conn, sid, lock=not autocommit)  # nothing was written yet: start again
            if call is None:  # the row went away meanwhile (erased?): nothing left to escalate
                return _static([prompts.APOLOGY, prompts.ESCALATE])
            turn = _Turn(conn, call)
            turn.say("caller", said, confidence=heard.confidence)
            call.error = f"{type(exc).__name__}: {exc}"[:2000]
            reply = Conversation(call, current_app.extensions).fail()
        return turn.respond(reply, started, token)

    try:
        return twiml_response(_with_retries(step, autocommit=autocommit))
    except (SQLAlchemyError, StaleCall):
        log.exception("database error in a call turn")
        return twiml_response(_database_trouble())


@bp.post("/status")
def status():
    """Twilio's status callback: on a final CallStatus, finalize the call and queue its ticket once."""
    sid = _call_sid()
    call_status = (_form_text("CallStatus", 32) or "").lower()
    raw_duration = request.form.get("CallDuration", "")
    duration = int(raw_duration) if ASCII_INT_RE.fullmatch(raw_duration) else None

    autocommit = _one_write_per_turn()

    def step(conn: Connection) -> str:
        call = call_store.load(conn, sid, lock=not autocommit)
        if call is None:
            if call_status not in TERMINAL_STATUSES:
                return EMPTY_TWIML
            # A call we never greeted still leaves a ticket. ``completed`` means it was answered
            # (a caller who hangs up while it rings is ``no-answer``): by our apology when the
            # database failed at /incoming, Twilio's "application error" or the fallback URL.
            # Somebody must call them back: needs-human, interrupted by an error.
            values = _new_call_values(sid)
            if call_status == "completed":
                values.update(state="escalate", outcome=NEEDS_HUMAN, escalation_reason="error",
                              error="completed without a greeting (the voice URL failed?)")
            call = call_store.create(conn, values)
        if call_status in TERMINAL_STATUSES:
            finalize_record(conn, call, twilio_status=call_status, duration_s=duration)
        elif call_status and call_status != call.twilio_status and not call.finalized:
            # an earlier event sent late (they "may arrive out of order") must not reopen an ended call
            call.twilio_status = call_status
            call_store.save(conn, call)
        return EMPTY_TWIML

    try:
        return twiml_response(_with_retries(step, autocommit=autocommit))
    except (SQLAlchemyError, StaleCall):
        db.session.rollback()
        log.exception("database error in the status callback")
        return twiml_response(EMPTY_TWIML, status=503)
