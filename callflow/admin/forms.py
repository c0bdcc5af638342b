"""Forms of the admin page.

POST forms are :class:`FlaskForm` (CSRF token included). The read-only filters (calls
list, dashboard period, KB "try a question") are plain GET forms without a token: they
change nothing, and a token in a URL would leak into logs and history.
"""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, Form, PasswordField, SearchField, SelectChoice, SelectField, SubmitField
from wtforms.fields import DateField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..control_chars import CONTROL_CHARS
from ..models import ABANDONED, NEEDS_HUMAN, RESOLVED
from .metrics import EARLIEST_DATE, LATEST_DATE

IN_PROGRESS = "in-progress"
#: Finished abandoned calls in which the caller never spoke (:func:`~.metrics.silent_call`): the dashboard's "silent".
SILENT = "silent"
OUTCOME_CHOICES = [
    SelectChoice("", "Any outcome"),
    SelectChoice(RESOLVED, "AI resolved"),
    SelectChoice(NEEDS_HUMAN, "Needs human"),
    SelectChoice(ABANDONED, "Abandoned"),
    SelectChoice(SILENT, "Abandoned — nobody spoke"),
    SelectChoice(IN_PROGRESS, "In progress"),
]
NEWEST = "newest"
#: Orders of the calls list (``?sort=``), with what the page calls them; the ORDER BY of each is in
#: :data:`callflow.admin.views.CALL_ORDERS`. Any other value is ignored: newest first.
SORT_CHOICES = [
    SelectChoice(NEWEST, "Newest first"),
    SelectChoice("oldest", "Oldest first"),
    SelectChoice("longest", "Longest first"),
    SelectChoice("shortest", "Shortest first"),
]
#: Why a call was passed to a person (``Call.escalation_reason``, set in :mod:`callflow.conversation` and, for
#: a call never greeted, :mod:`callflow.voice`), with what the admin page calls it.
ESCALATION_REASONS = {
    "no-kb-match": "No KB article matched",
    "not-grounded": "No answer grounded in the KB",
    "not-resolved": "The answer did not help",
    "caller-request": "Caller asked for a person",
    "silence": "Caller went silent",
    "unclear": "Caller not understood",
    "question-limit": "Too many questions for one call",
    "outage": "Caller reported an outage",
    "security": "Caller reported a break-in",
    "language": "Caller asked for another language",
    "complaint": "Caller made a complaint",
    "case-follow-up": "Caller followed up on a case",
    "error": "System error",
    "unknown": "Unknown",
}
REASON_CHOICES = [SelectChoice("", "Any reason")] + [
    SelectChoice(value, label) for value, label in ESCALATION_REASONS.items()
]
NO_TICKET = "none"
#: A ticket's delivery status (:class:`~callflow.models.TicketOutbox`), or no ticket yet.
TICKET_CHOICES = [
    SelectChoice("", "Any ticket"),
    SelectChoice("failed", "Failed"),
    SelectChoice("queued", "Queued"),
    SelectChoice("sending", "Sending"),
    SelectChoice("delivered", "Delivered"),
    SelectChoice("local", "Local outbox"),
    SelectChoice(NO_TICKET, "No ticket"),
]


def without_control_chars(value: str | None) -> str | None:
    """WTForms filter: drop C0/C1 control characters (NUL included: PostgreSQL text refuses it)."""
    return CONTROL_CHARS.sub("", value) if isinstance(value, str) else value


def within_call_dates(form, field) -> None:
    """WTForms validator: a date between :data:`~.metrics.EARLIEST_DATE` and
    :data:`~.metrics.LATEST_DATE` (a filter on 9999-12-31 would overflow the day after it).

    An empty field passes. Raises ``ValidationError`` (its message is shown next to the field) otherwise.
    """
    if field.data is not None and not EARLIEST_DATE <= field.data <= LATEST_DATE:
        raise ValidationError(f"Pick a date between {EARLIEST_DATE} and {LATEST_DATE}.")


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(
        "Email",
        validators=[DataRequired(), Length(max=320)],
        filters=[without_control_chars],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(max=1024)], render_kw={"autocomplete": "current-password"}
    )
    submit = SubmitField("Sign in")


class CsrfForm(FlaskForm):
    """A button that changes something (retry, sign out): only the CSRF token."""


class CallFilterForm(Form):
    """Search and filters of the calls list (query string)."""

    q = SearchField(
        "Search",
        validators=[Optional(), Length(max=200)],
        filters=[without_control_chars],
        render_kw={"placeholder": "Email, phone or CallSid"},
    )
    outcome = SelectField("Outcome", choices=OUTCOME_CHOICES, default="", validate_choice=True)
    reason = SelectField("Escalation reason", choices=REASON_CHOICES, default="", validate_choice=True)
    ticket = SelectField("Ticket", choices=TICKET_CHOICES, default="", validate_choice=True)
    date_from = DateField("From", name="from", validators=[Optional(), within_call_dates])
    date_to = DateField("To", name="to", validators=[Optional(), within_call_dates])
    sort = SelectField("Order", choices=SORT_CHOICES, default=NEWEST, validate_choice=True)


class PeriodForm(Form):
    """The dashboard's period (query string)."""

    date_from = DateField("From", name="from", validators=[Optional(), within_call_dates])
    date_to = DateField("To", name="to", validators=[Optional(), within_call_dates])


class KbTryForm(Form):
    """A question to run against the KB index (query string)."""

    q = SearchField(
        "Question",
        validators=[Optional(), Length(max=500)],
        filters=[without_control_chars],
        render_kw={"placeholder": "How do I reset my password?"},
    )
