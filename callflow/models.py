"""Database models: calls, their turns, the knowledge base and the ticket outbox.

SQLAlchemy 2.0 style (``Mapped[]``). Times are stored as UTC and always read back as
aware UTC datetimes (SQLite keeps no zone, so :class:`UTCDateTime` adds it back).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, TypeDecorator, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .clock import utcnow
from .extensions import db


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime column on every backend (naive values are rejected)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        """Aware ``value`` to UTC (naive UTC for SQLite, which keeps no zone); raises ``ValueError`` if naive."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use callflow.clock.utcnow()")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        """The stored value as an aware UTC datetime (a naive one, from SQLite, is taken as UTC)."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# Outcomes, which are also the ticket's outcome tag.
RESOLVED = "ai-resolved"
NEEDS_HUMAN = "needs-human"
ABANDONED = "abandoned"
OUTCOMES = (RESOLVED, NEEDS_HUMAN, ABANDONED)


class Call(db.Model):
    """One phone call, keyed by Twilio's CallSid; holds the persisted state machine."""

    __tablename__ = "call"
    __table_args__ = (
        # the idle sweeper's lookup (outbox.sweep_idle_calls): only calls still open, by last activity
        Index("ix_call_open_last_activity_at", "last_activity_at",
              postgresql_where=text("ended_at IS NULL"), sqlite_where=text("ended_at IS NULL")),
        # the admin calls search for a whole email address (admin.views._search_clause): lower(email) = :q
        Index("ix_call_lower_email", text("lower(email)")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    account_sid: Mapped[Optional[str]] = mapped_column(String(64))
    from_number: Mapped[Optional[str]] = mapped_column(String(64), index=True)  # admin search: "+1 415..." prefix
    to_number: Mapped[Optional[str]] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32), default="greet")
    name: Mapped[Optional[str]] = mapped_column(String(120))
    email: Mapped[Optional[str]] = mapped_column(String(320))
    email_confirmed: Mapped[bool] = mapped_column(default=False)
    email_attempts: Mapped[int] = mapped_column(default=0)
    # a caller with no email and no caller id to call back on was asked for a number (``number_asked``), and gave
    # this one (E.164)
    number_asked: Mapped[bool] = mapped_column(default=False)
    callback_number: Mapped[Optional[str]] = mapped_column(String(32))
    number_attempts: Mapped[int] = mapped_column(default=0)  # read-backs of a callback number the caller rejected
    retry_count: Mapped[int] = mapped_column(default=0)  # consecutive silent/unclear turns
    pending_question: Mapped[Optional[str]] = mapped_column(Text)
    last_question: Mapped[Optional[str]] = mapped_column(Text)
    # a second question said with the one being answered ("..., and how do I export my cases?"): answered after it
    next_question: Mapped[Optional[str]] = mapped_column(Text)
    questions_asked: Mapped[int] = mapped_column(default=0)
    resolved_count: Mapped[int] = mapped_column(default=0)
    anything_else_asked: Mapped[bool] = mapped_column(default=False)
    # the caller put off saying whether the last answer helped ("I'll try that later")
    answer_deferred: Mapped[bool] = mapped_column(default=False)
    article_id: Mapped[Optional[str]] = mapped_column(String(64))
    article_score: Mapped[Optional[float]]
    escalation_reason: Mapped[Optional[str]] = mapped_column(String(64))
    error: Mapped[Optional[str]] = mapped_column(Text)
    case_id: Mapped[Optional[str]] = mapped_column(String(64))
    topic: Mapped[Optional[str]] = mapped_column(String(80), index=True)
    sentiment: Mapped[Optional[str]] = mapped_column(String(16))
    outcome: Mapped[Optional[str]] = mapped_column(String(32), index=True)
    twilio_status: Mapped[Optional[str]] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    duration_s: Mapped[Optional[int]]
    prompt_seq: Mapped[int] = mapped_column(default=0)  # which Gather the caller is answering
    turn_count: Mapped[int] = mapped_column(default=0)  # turns recorded so far (next Turn.seq - 1)
    last_request_token: Mapped[Optional[str]] = mapped_column(String(200))
    last_twiml: Mapped[Optional[str]] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=0)

    turns: Mapped[list[Turn]] = relationship(
        back_populates="call", order_by="Turn.seq", cascade="all, delete-orphan", passive_deletes=True
    )
    ticket: Mapped[Optional[TicketOutbox]] = relationship(back_populates="call", uselist=False)

    __mapper_args__ = {"version_id_col": version}

    _DEFAULTS = {
        "state": "greet",
        "email_confirmed": False,
        "email_attempts": 0,
        "retry_count": 0,
        "questions_asked": 0,
        "resolved_count": 0,
        "anything_else_asked": False,
        "answer_deferred": False,
        "number_asked": False,
        "number_attempts": 0,
        "prompt_seq": 0,
        "turn_count": 0,
    }

    def __init__(self, **kwargs: Any):
        for key, value in self._DEFAULTS.items():
            kwargs.setdefault(key, value)
        kwargs.setdefault("started_at", utcnow())
        kwargs.setdefault("last_activity_at", kwargs["started_at"])
        super().__init__(**kwargs)

    @property
    def finalized(self) -> bool:
        """True once the call has ended and its outcome is fixed."""
        return self.ended_at is not None


class Turn(db.Model):
    """One utterance of a call: a caller's speech or a prompt callflow spoke."""

    __tablename__ = "turn"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("call.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int]
    speaker: Mapped[str] = mapped_column(String(16))  # "caller" | "agent"
    text: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[Optional[float]]
    state: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    server_ms: Mapped[Optional[int]]
    article_id: Mapped[Optional[str]] = mapped_column(String(64))
    article_score: Mapped[Optional[float]]

    call: Mapped[Call] = relationship(back_populates="turns")

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("created_at", utcnow())
        super().__init__(**kwargs)


class KbArticle(db.Model):
    """A help-center article of the local knowledge base (sample or synced from Kayako)."""

    __tablename__ = "kb_article"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    html: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    section: Mapped[Optional[str]] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32), default="PUBLISHED")
    url: Mapped[Optional[str]] = mapped_column(String(1000))
    updated_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketOutbox(db.Model):
    """The ticket composed for one call, waiting for (or done with) delivery to the helpdesk."""

    __tablename__ = "ticket_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("call.id", ondelete="CASCADE"), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    external_id: Mapped[Optional[str]] = mapped_column(String(64))
    external_url: Mapped[Optional[str]] = mapped_column(String(1000))
    claimed_by: Mapped[Optional[str]] = mapped_column(String(100))
    claimed_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    call: Mapped[Call] = relationship(back_populates="ticket")
    attempt_log: Mapped[list[TicketAttempt]] = relationship(
        back_populates="ticket", order_by="TicketAttempt.id", cascade="all, delete-orphan"
    )


class TicketAttempt(db.Model):
    """One delivery attempt of a ticket: when, how long (ms), and the error if it failed."""

    __tablename__ = "ticket_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket_outbox.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ok: Mapped[bool] = mapped_column(default=False)
    duration_ms: Mapped[int] = mapped_column(default=0)
    error: Mapped[Optional[str]] = mapped_column(Text)

    ticket: Mapped[TicketOutbox] = relationship(back_populates="attempt_log")


class AdminUser(db.Model):
    """A support admin who can sign in to ``/admin`` (password stored as a salted hash)."""

    __tablename__ = "admin_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
