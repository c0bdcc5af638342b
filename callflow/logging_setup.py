"""Structured logs: JSON lines on stderr with a request id and the CallSid, personal data masked.

:func:`configure_logging` is called once per app by :func:`callflow.create_app`. It installs
one handler on the root logger that writes to ``sys.stderr`` (looked up at each write, so a
replaced stderr -- pytest's capture, a daemon's redirect -- is always honoured):

* ``LOG_FORMAT=json`` (default): one JSON object per line, formatted by python-json-logger
  (https://nhairs.github.io/python-json-logger/latest/), with the fields ``time`` (ISO 8601,
  UTC), ``level``, ``logger``, ``message``, ``request_id``, ``call_sid`` and, when there is
  one, ``exc_info``. Extra attributes passed with ``extra=`` are added as fields too.
* ``LOG_FORMAT=text``: one human-readable line per record, same fields.

Every record goes through two :class:`logging.Filter` objects (and the formatters apply them
again, so a handler that only uses one of our formatters is just as safe):

* :class:`RequestContextFilter` sets ``record.request_id`` and ``record.call_sid`` from the
  current Flask request (``None`` outside a request; never raises, even on a body that
  cannot be parsed). Outside a request, code working on one call (the tickets worker
  delivering its ticket) names it with :func:`call_sid_context`.
* :class:`MaskingFilter` replaces email addresses and phone numbers in the message, its
  arguments, string ``extra`` fields and exception text with masked forms
  (``jane.doe@example.com`` -> ``j***@e***.com``, ``+14155550100`` -> ``+1******0100``).

Each response carries ``X-Request-ID``: the incoming header when it looks sane (1-128
characters of ``[A-Za-z0-9._:-]``, starting with a letter or digit, and nothing a mask
would change), else a new ``uuid4().hex``. One INFO line per request on the
``callflow.request`` logger gives method, path (never the query string), status and
duration in milliseconds.
"""
from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Optional

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
_ENVIRON_KEY = "callflow.request_id"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_CALL_SID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [request_id=%(request_id)s call_sid=%(call_sid)s] %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "message", "request_id", "call_sid")
JSON_RENAMES = {"asctime": "time", "levelname": "level", "name": "logger"}

request_log = logging.getLogger("callflow.request")
# The CallSid that records made outside a request belong to (set by call_sid_context).
_context_call_sid: ContextVar[Optional[str]] = ContextVar("callflow_call_sid", default=None)


class _NoQueryString(logging.Filter):
    """Drops the query string from werkzeug's request lines (``flask run``): it holds admin searches."""

    _QUERY = re.compile(r"\?[^\s\"]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._QUERY.sub("", a) if isinstance(a, str) else a for a in record.args)
        return True


# --- masking -------------------------------------------------------------------------------

# An address: a local part (any characters but spaces and the separators around addresses in
# text, reprs, headers and query strings, so Unicode and most RFC 5322 atext count), "@" or its URL
# encoding %40, dotted domain labels and a last label (letters, digits, "-": punycode TLDs).
# The local part starts where a run of its characters starts: the lookbehind keeps the scan
# linear (without it every position of a long run would be retried, quadratic time).
_LOCAL_CHARS = r"[^\s@<>()\[\],;:\"'`=&?]"
_EMAIL_RE = re.compile(
    rf"(?<!{_LOCAL_CHARS})(?P<local>{_LOCAL_CHARS}*)(?P<at>@|%40)(?P<domain>(?:[\w-]+\.)+)(?P<tld>[\w-]{{2,63}})(?![\w-])"
)
# A phone-like run: an optional "+" or "(", then at least 7 digits, each pair separated by
# at most two of " .()-". Not inside a word (so "CA0000..." CallSids and hex ids are left).
_PHONE_RE = re.compile(r"(?:%2[Bb]|(?<![\w+])[+(]?)\d(?:[ .()\-+/\u00a0\u2010-\u2015]{0,3}\d){6,}(?!\d)")
# The user part of a SIP URI or a Twilio Client identity ("From": "client:alice", "sip:alice@10.0.0.1").
_URI_USER_RE = re.compile(r"(?i)\b(?P<scheme>sips?|client):(?P<user>[^\s@;>,\"'*][^\s@;>,\"']*)")
_IPV4_RE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DECIMAL_RE = re.compile(r"^\d+\.\d+$")


def _mask_email(match: re.Match[str]) -> str:
    local, domain = match.group("local"), match.group("domain")
    return f"{local[:1]}***{match.group('at')}{domain[0]}***.{match.group('tld')}"


def _mask_phone(match: re.Match[str]) -> str:
    text = match.group(0)
    encoded_plus = text[:3].upper() == "%2B"
    digits = re.sub(r"\D", "", text[3:] if encoded_plus else text)
    if len(digits) < 7 or _IPV4_RE.match(text) or _DATE_RE.search(text) or _DECIMAL_RE.match(text):
        return text
    if encoded_plus or text.startswith("+"):
        return "+" + digits[0] + "*" * (len(digits) - 5) + digits[-4:]
    return "*" * (len(digits) - 4) + digits[-4:]


def mask_text(text: str) -> str:
    """Mask email addresses and phone numbers in ``text``; other text is unchanged.

    * Emails keep the first character of the local part and of the domain, and the TLD:
      ``jane.doe@example.com`` -> ``j***@e***.com`` (``%40``-encoded ``@`` too).
    * Phone numbers -- E.164 (``+`` and 7-15 digits) and any other run of 7 or more digits,
      optionally grouped by spaces, dots, dashes or parentheses -- keep the ``+``, the first
      digit of an E.164 number, and the last four digits: ``+14155550100`` ->
      ``+1******0100``, ``(415) 555-0100`` -> ``******0100``. Dotted IPv4 addresses,
      ISO dates and decimal numbers are left alone; digits inside a word (a CallSid such as
      ``CA0000000001...``, a hex id) are not masked.

    E.164: https://www.itu.int/rec/T-REC-E.164 (Twilio sends ``From``/``To`` in that form,
    https://www.twilio.com/docs/glossary/what-e164).
    """
    if not text:
        return text
    if "@" in text or "%40" in text:
        text = _EMAIL_RE.sub(_mask_email, text)
    if ":" in text:
        text = _URI_USER_RE.sub(lambda m: f"{m.group('scheme')}:{m.group('user')[:1]}***", text)
    return _PHONE_RE.sub(_mask_phone, text)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list):
        return [_mask_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_mask_value(v) for v in value)
    if isinstance(value, dict):
        return {k: _mask_value(v) for k, v in value.items()}
    return value


# Attributes every LogRecord has; anything else came in through ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
    "call_sid",
    "_callflow_masked",
    "taskName",
}


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask personal data in ``record`` in place (idempotent) and return it.

    The message is merged with its arguments first (``record.msg = mask_text(getMessage())``,
    ``record.args = None``), so an address passed as an argument of any type is caught. A
    ``dict`` message (python-json-logger style) and string/list/dict ``extra`` fields are
    masked value by value. A message whose arguments do not fit its format is kept as
    ``msg`` plus ``repr(args)``, masked, rather than raising.
    """
    if getattr(record, "_callflow_masked", False):
        return record
    if isinstance(record.msg, dict):
        record.msg = _mask_value(record.msg)
        record.args = None
    else:
        try:
            message = record.getMessage()
        except Exception:  # bad format arguments: keep what we have, masked
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = mask_text(message), None
    for key, value in list(vars(record).items()):
        if key not in _STANDARD_ATTRS and isinstance(value, (str, list, tuple, dict)):
            setattr(record, key, _mask_value(value))
    if record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)
    record._callflow_masked = True
    return record


class MaskingFilter(logging.Filter):
    """Masks emails and phone numbers in every record (see :func:`mask_record`); never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask ``record`` in place; always True (keep it)."""
        mask_record(record)
        return True


# --- request context -----------------------------------------------------------------------


def _sane(value: Optional[str], pattern: re.Pattern[str]) -> Optional[str]:
    """``value`` if it matches ``pattern`` and holds nothing that looks like personal data."""
    if value and pattern.fullmatch(value) and mask_text(value) == value:
        return value
    return None


def current_request_id() -> Optional[str]:
    """The id of the current request, ``None`` outside a request.

    The incoming ``X-Request-ID`` header when it looks sane, else a new ``uuid4().hex``
    (32 hex characters); computed once per request and cached in the WSGI environ.
    """
    if not has_request_context():
        return None
    environ = request.environ
    rid = environ.get(_ENVIRON_KEY)
    if rid is None:
        rid = _sane(request.headers.get(REQUEST_ID_HEADER), _REQUEST_ID_RE) or uuid.uuid4().hex
        environ[_ENVIRON_KEY] = rid
    return rid


def current_call_sid() -> Optional[str]:
    """The ``CallSid`` of the current request (query string first, then a form body), else ``None``.

    Only a value of 1-64 ``[A-Za-z0-9_-]`` that masking leaves unchanged is returned. Reading
    the form never raises: a body that is too large (413) or malformed simply gives ``None``.
    """
    if not has_request_context():
        return None
    try:
        sid = request.args.get("CallSid")
        if sid is None and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            sid = request.form.get("CallSid")
    except Exception:  # RequestEntityTooLarge, a broken stream, a bad multipart boundary...
        return None
    return _sane(sid.strip() if sid else None, _CALL_SID_RE)


@contextmanager
def call_sid_context(call_sid: Optional[str]) -> Iterator[None]:
    """Records logged inside the block, outside a request, carry ``call_sid`` (the tickets worker
    delivering that call's ticket: Kayako's answers, a failed delivery). A value that is not a
    CallSid (see :func:`current_call_sid`) gives ``None``. The previous value comes back on exit;
    a request's own CallSid always wins."""
    token = _context_call_sid.set(_sane(call_sid.strip() if isinstance(call_sid, str) else None, _CALL_SID_RE))
    try:
        yield
    finally:
        _context_call_sid.reset(token)


class RequestContextFilter(logging.Filter):
    """Sets ``record.request_id`` and ``record.call_sid`` (``None`` outside a request); never drops one.

    Values given explicitly with ``extra={"call_sid": ...}`` are kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the request context to ``record`` in place; always True (keep it)."""
        add_request_context(record)
        return True


def add_request_context(record: logging.LogRecord) -> logging.LogRecord:
    """Fill ``request_id`` and ``call_sid`` (the request's, else :func:`call_sid_context`'s) on ``record`` unless
    already set; never raises."""
    try:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        if getattr(record, "call_sid", None) is None:
            record.call_sid = current_call_sid() or _context_call_sid.get()
    except Exception:  # logging must never break the request
        record.request_id = getattr(record, "request_id", None)
        record.call_sid = getattr(record, "call_sid", None)
    return record


# --- formatters and handler ----------------------------------------------------------------


class CallflowJsonFormatter(JsonFormatter):
    """python-json-logger's formatter with our fields; adds request context and masks first.

    Output: one JSON object per record, keys ``time``, ``level``, ``logger``, ``message``,
    ``request_id``, ``call_sid`` (``null`` when unknown), extras, and ``exc_info``.
    """

    def __init__(self) -> None:
        super().__init__(list(JSON_FIELDS), rename_fields=dict(JSON_RENAMES))

    def format(self, record: logging.LogRecord) -> str:
        """``record`` as one JSON object, request context added and personal data masked first."""
        mask_record(add_request_context(record))
        return super().format(record)

    def formatException(self, ei) -> str:  # type: ignore[override]
        """The traceback text, masked."""
        return mask_text(super().formatException(ei))

    def formatStack(self, stack_info) -> str:  # type: ignore[override]
        """The stack text, masked."""
        return mask_text(super().formatStack(stack_info))

    def formatTime(self, record: logging.LogRecord, datefmt: Optional[str] = None) -> str:
        """ISO 8601 in UTC with milliseconds, e.g. ``2025-01-31T12:00:00.123Z``."""
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class CallflowTextFormatter(logging.Formatter):
    """A human-readable line (:data:`TEXT_FORMAT`, ``-`` for an unknown id); adds request context and masks first."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """One :data:`TEXT_FORMAT` line (``-`` for a missing id); ``record``'s ids are restored afterwards."""
        mask_record(add_request_context(record))
        ids = record.request_id, record.call_sid
        record.request_id, record.call_sid = ids[0] or "-", ids[1] or "-"
        try:
            return super().format(record)
        finally:
            record.request_id, record.call_sid = ids

    def formatException(self, ei) -> str:
        """The traceback text, masked."""
        return mask_text(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        """The stack text, masked."""
        return mask_text(super().formatStack(stack_info))


class StderrHandler(logging.StreamHandler):
    """A stream handler bound to whatever ``sys.stderr`` is at the time of each write."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):  # type: ignore[override]
        """The current ``sys.stderr``, looked up on every write."""
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.setStream; we always follow sys.stderr
        """Ignored: the handler always writes to the current ``sys.stderr``."""


def make_formatter(fmt: str = "json") -> logging.Formatter:
    """The formatter for ``fmt``: ``"json"`` or ``"text"``; raises ``ValueError`` otherwise."""
    fmt = (fmt or "json").strip().lower()
    if fmt == "json":
        return CallflowJsonFormatter()
    if fmt == "text":
        return CallflowTextFormatter()
    raise ValueError(f"LOG_FORMAT must be 'json' or 'text', not {fmt!r}")


def make_handler(stream=None, fmt: str = "json") -> logging.Handler:
    """A handler with our formatter and both filters: to ``stream``, or ``sys.stderr`` if ``None``."""
    handler: logging.Handler = StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(make_formatter(fmt))
    handler.addFilter(RequestContextFilter())
    handler.addFilter(MaskingFilter())
    return handler


class GunicornAccessJsonFormatter(CallflowJsonFormatter):
    """:class:`CallflowJsonFormatter` for gunicorn's access lines: ``request_id`` is the response's ``X-Request-ID``
    (gunicorn's ``{x-request-id}o`` atom; the request context is gone when gunicorn logs the line)."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON object; the access line is the ``message``."""
        if getattr(record, "request_id", None) is None and isinstance(record.args, dict):
            rid = record.args.get("{x-request-id}o")
            record.request_id = rid if isinstance(rid, str) and _sane(rid, _REQUEST_ID_RE) else None
        return super().format(record)


def gunicorn_logconfig(level: str = "info") -> dict[str, Any]:
    """gunicorn's ``logconfig_dict`` for ``LOG_FORMAT=json``: ``gunicorn.error`` as JSON lines on stderr at ``level``,
    ``gunicorn.access`` as JSON lines on stdout (:class:`GunicornAccessJsonFormatter`), neither propagating (the
    app's root handler would print them twice). The root logger gets no handler here: each worker's app installs its
    own (:func:`configure_logging`). https://docs.python.org/3/library/logging.config.html#logging-config-dictschema
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": ["error_json"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access_json"], "propagate": False},
        },
        "handlers": {
            "error_json": {"()": make_handler, "fmt": "json"},
            "access_json": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "access_json"},
        },
        "formatters": {"access_json": {"()": GunicornAccessJsonFormatter}},
    }


# --- app wiring ----------------------------------------------------------------------------


def configure_logging(app: Flask) -> None:
    """Install the root handler (``LOG_FORMAT``, ``LOG_LEVEL``), the query-string filter on werkzeug's request
    lines and the request-id hooks on ``app``.

    Idempotent per process: a handler installed by an earlier call is replaced, never
    doubled. Raises ``ValueError`` for an unknown ``LOG_FORMAT``. Response header:
    ``X-Request-ID``. Flask hooks: https://flask.palletsprojects.com/en/stable/api/#flask.Flask.after_request
    """
    root = logging.getLogger()
    handler = make_handler(fmt=app.config.get("LOG_FORMAT") or "json")
    handler._callflow = True  # type: ignore[attr-defined]
    for old in [h for h in root.handlers if getattr(h, "_callflow", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL") or "INFO")
    werkzeug_log = logging.getLogger("werkzeug")  # `flask run`'s request lines
    if not any(isinstance(f, _NoQueryString) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(_NoQueryString())

    @app.before_request
    def _start_clock() -> None:
        g._callflow_started = time.perf_counter()

    @app.after_request
    def _request_id_and_log(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = current_request_id() or uuid.uuid4().hex
        started = g.get("_callflow_started")
        # a healthy /healthz is a load balancer's probe every few seconds: gunicorn's access line is enough
        level = logging.DEBUG if request.path == "/healthz" and response.status_code == 200 else logging.INFO
        request_log.log(  # "200 in 1026 ms": "200 1026" would be masked as a phone number
            level,
            "%s %s %s in %d ms",
            request.method,
            request.path,
            response.status_code,
            (time.perf_counter() - started) * 1000 if started else 0,
        )
        return response
