"""Settings for callflow, read only from environment variables (and a `.env` file).

Every variable is documented in `.env.example`. An unset outside service means the
embedded default: SQLite, the bundled sample knowledge base, extractive answers,
`<Say>` prompts and tickets kept in the local outbox.
"""
from __future__ import annotations

import logging
import math
import os
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
load_dotenv(BASE_DIR / ".env")


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def as_bool(value: str | None, default: bool | None = False) -> bool | None:
    """Read a boolean value: 1/true/yes/on or 0/false/no/off (any case, blanks around ignored); unset or
    empty gives ``default``. Raises ``ValueError`` for anything else: a typo such as ``ture`` must not switch a
    security setting (signatures, Secure cookies) off."""
    word = (value or "").strip().lower()
    if not word:
        return default
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise ValueError(f"must be one of 1/true/yes/on or 0/false/no/off, not {value!r}")


def _bool(name: str, default: bool | None) -> bool | None:
    """The boolean variable ``name`` (:func:`as_bool`); ``ValueError`` naming the variable if it is not one."""
    try:
        return as_bool(os.environ.get(name), default)
    except ValueError as exc:
        raise ValueError(f"{name} {exc}") from None


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _number(name: str, default: float, *, kind: type = float, minimum: float | None = None,
            above: float | None = None, maximum: float | None = None) -> float:
    """The number in variable ``name`` (``kind`` int or float); unset or empty gives ``default``.

    Raises ``ValueError`` naming the variable when the value is not a finite number of that kind
    (``10s``, ``nan``) or lies outside ``minimum <= value``, ``above < value``, ``value <= maximum``.
    """
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    bounds = [f"at least {minimum:g}" if minimum is not None else "", f"above {above:g}" if above is not None else "",
              f"at most {maximum:g}" if maximum is not None else ""]
    wanted = ", ".join(["a whole number" if kind is int else "a number", " and ".join(b for b in bounds if b)]).strip(", ")
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be {wanted}, not {os.environ[name]!r}") from None
    if (not math.isfinite(value) or (minimum is not None and value < minimum)
            or (above is not None and value <= above) or (maximum is not None and value > maximum)):
        raise ValueError(f"{name} must be {wanted}, not {os.environ[name]!r}")
    return value


def _base_url(name: str) -> str | None:
    """An absolute http(s) URL without a trailing slash, or None if unset; ``ValueError`` naming the variable
    otherwise (``voice.example.org`` without a scheme made every Twilio signature check fail)."""
    value = (_env(name) or "").strip().rstrip("/")
    if not value:
        return None
    scheme, _, rest = value.partition("://")
    if scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
        raise ValueError(f"{name} must be an absolute URL such as https://voice.example.org, not {os.environ[name]!r}")
    return value


def _rate_limit(name: str, default: str) -> str:
    """A rate limit string such as ``5 per minute`` (https://limits.readthedocs.io/en/stable/quickstart.html);
    ``ValueError`` naming the variable if the limits library cannot read it (``lots`` was logged at every sign-in
    and the limit dropped)."""
    from limits import parse_many

    value = _env(name, default) or default
    try:
        parse_many(value)
    except ValueError:
        raise ValueError(f"{name} must be a rate limit such as '5 per minute', not {os.environ[name]!r}") from None
    return value


def _log_level() -> str:
    """``LOG_LEVEL`` in capitals (``debug`` works); ``ValueError`` naming the variable for an unknown level."""
    level = (_env("LOG_LEVEL", "INFO") or "INFO").strip().upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not {os.environ['LOG_LEVEL']!r}")
    return level


def _database_url() -> str:
    url = _env("DATABASE_URL")
    if not url:
        return "sqlite:///" + str(BASE_DIR / "instance" / "callflow.sqlite3")
    # Heroku-style URLs: SQLAlchemy 2 wants an explicit dialect and driver.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class Config:
    """Application settings; each attribute is filled from the variable of the same name."""

    SECRET_KEY = _env("SECRET_KEY", "dev-only-change-me")
    SQLALCHEMY_DATABASE_URI = _database_url()
    # hide_parameters: database errors must not copy emails or phone numbers into the logs.
    # pool_pre_ping: test a pooled connection before use when the database is a server (a
    # restart or a dropped TCP connection); an SQLite file has no connection to lose.
    SQLALCHEMY_ENGINE_OPTIONS = {
        "pool_pre_ping": not SQLALCHEMY_DATABASE_URI.startswith("sqlite"),
        "hide_parameters": True,
    }
    # PostgreSQL time limits (callflow.extensions.postgresql_engine_options): connecting, and, in the web
    # processes only, waiting for a lock and running one statement; a turn that hits one answers "one moment" and
    # its Gather is retried, so keep them under gunicorn's 12 s worker timeout and Twilio's 15 s.
    DB_CONNECT_TIMEOUT_S = _number("DB_CONNECT_TIMEOUT_S", 5, kind=int, minimum=1, maximum=60)
    DB_LOCK_TIMEOUT_MS = _number("DB_LOCK_TIMEOUT_MS", 3000, kind=int, minimum=0, maximum=60000)
    DB_STATEMENT_TIMEOUT_MS = _number("DB_STATEMENT_TIMEOUT_MS", 8000, kind=int, minimum=0, maximum=600000)

    # Twilio (https://www.twilio.com/docs/usage/webhooks/webhooks-security)
    TWILIO_AUTH_TOKEN = _env("TWILIO_AUTH_TOKEN")
    # Without a token every /voice webhook is refused (403) unless this is false (development).
    TWILIO_VALIDATE_SIGNATURES = _bool("TWILIO_VALIDATE_SIGNATURES", default=True)
    PUBLIC_BASE_URL = _base_url("PUBLIC_BASE_URL")
    TWILIO_VOICE = _env("TWILIO_VOICE", "Polly.Joanna-Neural")
    TWILIO_LANGUAGE = _env("TWILIO_LANGUAGE", "en-US")
    GATHER_TIMEOUT_S = _number("GATHER_TIMEOUT_S", 6, kind=int, minimum=1, maximum=60)  # Twilio: a positive int
    # after "hold on, let me check": the caller is looking something up or trying the answer
    GATHER_WAIT_TIMEOUT_S = _number("GATHER_WAIT_TIMEOUT_S", 20, kind=int, minimum=1, maximum=60)
    # Seconds of silence that end the caller's speech while they give or spell their email address: Twilio's
    # speechTimeout="auto" (used elsewhere) ends it at a pause of about half a second, mid-spelling.
    EMAIL_SPEECH_TIMEOUT_S = _number("EMAIL_SPEECH_TIMEOUT_S", 2, kind=int, minimum=1, maximum=10)

    # Knowledge base
    KB_PATH = _env("KB_PATH")  # JSON file loaded by `kb load` with no argument
    KB_SCORE_CUTOFF = _number("KB_SCORE_CUTOFF", 0, minimum=0, maximum=100) or None  # None: the calibrated default

    # Kayako (https://developer.kayako.com/api/v1/reference/authentication/)
    KAYAKO_URL = _base_url("KAYAKO_URL")
    KAYAKO_EMAIL = _env("KAYAKO_EMAIL")
    KAYAKO_PASSWORD = _env("KAYAKO_PASSWORD")
    KAYAKO_LOCALE = _env("KAYAKO_LOCALE", "en-us")
    KAYAKO_CHANNEL = (_env("KAYAKO_CHANNEL", "NOTE") or "NOTE").upper()
    KAYAKO_CONNECT_TIMEOUT_S = _number("KAYAKO_CONNECT_TIMEOUT_S", 3, above=0)
    KAYAKO_READ_TIMEOUT_S = _number("KAYAKO_READ_TIMEOUT_S", 10, above=0)

    # OpenAI (https://platform.openai.com/docs/api-reference)
    OPENAI_API_KEY = _env("OPENAI_API_KEY")
    OPENAI_BASE_URL = _env("OPENAI_BASE_URL")
    OPENAI_ORG_ID = _env("OPENAI_ORG_ID")  # sent as OpenAI-Organization; only for keys in several organizations
    OPENAI_PROJECT_ID = _env("OPENAI_PROJECT_ID")  # sent as OpenAI-Project
    OPENAI_CHAT_MODEL = _env("OPENAI_CHAT_MODEL", "gpt-4o-mini")
    OPENAI_TTS_MODEL = _env("OPENAI_TTS_MODEL", "gpt-4o-mini-tts")
    OPENAI_TTS_VOICE = _env("OPENAI_TTS_VOICE", "alloy")
    OPENAI_TTS_INSTRUCTIONS = _env(
        "OPENAI_TTS_INSTRUCTIONS",
        "Speak as a warm, calm and concise customer support agent on a phone line.",
    )
    OPENAI_DRAFT_TIMEOUT_S = _number("OPENAI_DRAFT_TIMEOUT_S", 3.5, above=0)
    OPENAI_TTS_TIMEOUT_S = _number("OPENAI_TTS_TIMEOUT_S", 3, above=0)
    OPENAI_SUMMARY_TIMEOUT_S = _number("OPENAI_SUMMARY_TIMEOUT_S", 10, above=0)
    # TTS cache storage shared by all instances (callflow/tts_storage.py): "dir" or "s3"
    TTS_STORAGE = (_env("TTS_STORAGE", "dir") or "dir").strip().lower()
    TTS_CACHE_DIR = _env("TTS_CACHE_DIR")  # default: instance/tts
    TTS_S3_BUCKET = _env("TTS_S3_BUCKET")  # required with TTS_STORAGE=s3; credentials: standard AWS_* variables
    TTS_S3_PREFIX = _env("TTS_S3_PREFIX", "tts/")
    TTS_S3_ENDPOINT_URL = _env("TTS_S3_ENDPOINT_URL")  # S3-compatible service; default: AWS S3
    TTS_S3_REGION = _env("TTS_S3_REGION")  # default: AWS_REGION / AWS_DEFAULT_REGION
    TTS_S3_ADDRESSING_STYLE = _env("TTS_S3_ADDRESSING_STYLE")  # auto|path|virtual; default: path with an endpoint
    TTS_S3_TIMEOUT_S = _number("TTS_S3_TIMEOUT_S", 2, above=0)
    TTS_S3_LOCAL_DIR = _env("TTS_S3_LOCAL_DIR")  # optional per-instance read-through copy for serving
    # A call's personal audio (name, email read-back, answers) is deleted when the call ends; the tickets worker
    # also deletes any older than this (seconds; Twilio's longest call is 4 hours).
    TTS_CALL_AUDIO_MAX_AGE_S = _number("TTS_CALL_AUDIO_MAX_AGE_S", 14400, above=0)

    # Tickets
    CALL_IDLE_TIMEOUT_MIN = _number("CALL_IDLE_TIMEOUT_MIN", 30, above=0)
    TICKET_RETRY_BASE_S = _number("TICKET_RETRY_BASE_S", 30, minimum=0)  # 0: retry at once
    TICKET_RETRY_MAX_S = _number("TICKET_RETRY_MAX_S", 3600, above=0)
    TICKET_MAX_AGE_H = _number("TICKET_MAX_AGE_H", 72, above=0)
    TICKET_WORKER_POLL_S = _number("TICKET_WORKER_POLL_S", 5, above=0)
    TICKET_CLAIM_TTL_S = _number("TICKET_CLAIM_TTL_S", 300, above=0)

    # Admin page (/admin)
    ADMIN_COOKIE_SECURE = _bool("ADMIN_COOKIE_SECURE", default=None)  # None: secure unless testing
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")  # shared store (e.g. redis://) with several instances
    ADMIN_LOGIN_RATE_LIMIT = _rate_limit("ADMIN_LOGIN_RATE_LIMIT", "5 per minute")  # sign-in attempts (failed or not) per IP and email
    ADMIN_LOGIN_IP_RATE_LIMIT = _rate_limit("ADMIN_LOGIN_IP_RATE_LIMIT", "30 per minute")
    ADMIN_MIN_PASSWORD_LENGTH = _number("ADMIN_MIN_PASSWORD_LENGTH", 8, kind=int, minimum=1)
    ADMIN_PAGE_SIZE = _number("ADMIN_PAGE_SIZE", 25, kind=int, minimum=1)

    # Serving
    # Behind a reverse proxy: trust this many hops of each X-Forwarded-* header
    # (https://werkzeug.palletsprojects.com/en/stable/middleware/proxy_fix/); 0 ignores it.
    PROXY_FIX = _bool("PROXY_FIX", default=False)
    PROXY_FIX_X_FOR = _number("PROXY_FIX_X_FOR", 1, kind=int, minimum=0)
    PROXY_FIX_X_PROTO = _number("PROXY_FIX_X_PROTO", 1, kind=int, minimum=0)
    PROXY_FIX_X_HOST = _number("PROXY_FIX_X_HOST", 1, kind=int, minimum=0)
    PROXY_FIX_X_PREFIX = _number("PROXY_FIX_X_PREFIX", 1, kind=int, minimum=0)
    PROXY_FIX_X_PORT = _number("PROXY_FIX_X_PORT", 1, kind=int, minimum=0)  # a public port such as 8443
    MAX_CONTENT_LENGTH = _number("MAX_CONTENT_LENGTH", 64 * 1024, kind=int, minimum=4096)  # a webhook body is 1-2 KB
    LOG_LEVEL = _log_level()
    LOG_FORMAT = (_env("LOG_FORMAT", "json") or "json").lower()  # "json" lines or "text" for humans
