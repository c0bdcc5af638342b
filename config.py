"""Settings for callflow, read only from environment variables (and a `.env` file).

Every variable is documented in `.env.example`. An unset outside service means the
embedded default: SQLite, the bundled sample knowledge base, extractive answers,
`<Say>` prompts and tickets kept in the local outbox.
"""
from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
load_dotenv(BASE_DIR / ".env")


def as_bool(value: str | None, default: bool = False) -> bool:
    """Read a boolean environment value ("1", "true", "yes", "on" are true)."""
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


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

    # Twilio (https://www.twilio.com/docs/usage/webhooks/webhooks-security)
    TWILIO_AUTH_TOKEN = _env("TWILIO_AUTH_TOKEN")
    # Without a token every /voice webhook is refused (403) unless this is false (development).
    TWILIO_VALIDATE_SIGNATURES = as_bool(_env("TWILIO_VALIDATE_SIGNATURES"), default=True)
    PUBLIC_BASE_URL = (_env("PUBLIC_BASE_URL") or "").rstrip("/") or None
    TWILIO_VOICE = _env("TWILIO_VOICE", "Polly.Joanna-Neural")
    TWILIO_LANGUAGE = _env("TWILIO_LANGUAGE", "en-US")
    GATHER_TIMEOUT_S = int(_env("GATHER_TIMEOUT_S", "6"))

    # Knowledge base
    KB_PATH = _env("KB_PATH")  # JSON file loaded by `kb load` with no argument
    KB_SCORE_CUTOFF = float(_env("KB_SCORE_CUTOFF", "0")) or None  # None: the calibrated default

    # Kayako (https://developer.kayako.com/api/v1/reference/authentication/)
    KAYAKO_URL = (_env("KAYAKO_URL") or "").rstrip("/") or None
    KAYAKO_EMAIL = _env("KAYAKO_EMAIL")
    KAYAKO_PASSWORD = _env("KAYAKO_PASSWORD")
    KAYAKO_LOCALE = _env("KAYAKO_LOCALE", "en-us")
    KAYAKO_CHANNEL = (_env("KAYAKO_CHANNEL", "NOTE") or "NOTE").upper()
    KAYAKO_CONNECT_TIMEOUT_S = float(_env("KAYAKO_CONNECT_TIMEOUT_S", "3"))
    KAYAKO_READ_TIMEOUT_S = float(_env("KAYAKO_READ_TIMEOUT_S", "10"))

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
    OPENAI_DRAFT_TIMEOUT_S = float(_env("OPENAI_DRAFT_TIMEOUT_S", "3.5"))
    OPENAI_TTS_TIMEOUT_S = float(_env("OPENAI_TTS_TIMEOUT_S", "3"))
    OPENAI_SUMMARY_TIMEOUT_S = float(_env("OPENAI_SUMMARY_TIMEOUT_S", "10"))
    # TTS cache storage shared by all instances (callflow/tts_storage.py): "dir" or "s3"
    TTS_STORAGE = (_env("TTS_STORAGE", "dir") or "dir").strip().lower()
    TTS_CACHE_DIR = _env("TTS_CACHE_DIR")  # default: instance/tts
    TTS_S3_BUCKET = _env("TTS_S3_BUCKET")  # required with TTS_STORAGE=s3; credentials: standard AWS_* variables
    TTS_S3_PREFIX = _env("TTS_S3_PREFIX", "tts/")
    TTS_S3_ENDPOINT_URL = _env("TTS_S3_ENDPOINT_URL")  # S3-compatible service; default: AWS S3
    TTS_S3_REGION = _env("TTS_S3_REGION")  # default: AWS_REGION / AWS_DEFAULT_REGION
    TTS_S3_ADDRESSING_STYLE = _env("TTS_S3_ADDRESSING_STYLE")  # auto|path|virtual; default: path with an endpoint
    TTS_S3_TIMEOUT_S = float(_env("TTS_S3_TIMEOUT_S", "2"))
    TTS_S3_LOCAL_DIR = _env("TTS_S3_LOCAL_DIR")  # optional per-instance read-through copy for serving
    # A call's personal audio (name, email read-back, answers) is deleted when the call ends; the tickets worker
    # also deletes any older than this (seconds; Twilio's longest call is 4 hours).
    TTS_CALL_AUDIO_MAX_AGE_S = float(_env("TTS_CALL_AUDIO_MAX_AGE_S", "14400"))

    # Tickets
    CALL_IDLE_TIMEOUT_MIN = float(_env("CALL_IDLE_TIMEOUT_MIN", "30"))
    TICKET_RETRY_BASE_S = float(_env("TICKET_RETRY_BASE_S", "30"))
    TICKET_RETRY_MAX_S = float(_env("TICKET_RETRY_MAX_S", "3600"))
    TICKET_MAX_AGE_H = float(_env("TICKET_MAX_AGE_H", "72"))
    TICKET_WORKER_POLL_S = float(_env("TICKET_WORKER_POLL_S", "5"))
    TICKET_CLAIM_TTL_S = float(_env("TICKET_CLAIM_TTL_S", "300"))

    # Admin page (/admin)
    ADMIN_COOKIE_SECURE = as_bool(_env("ADMIN_COOKIE_SECURE")) if _env("ADMIN_COOKIE_SECURE") else None  # None: secure unless testing
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")  # shared store (e.g. redis://) with several instances
    ADMIN_LOGIN_RATE_LIMIT = _env("ADMIN_LOGIN_RATE_LIMIT", "5 per minute")  # sign-in attempts (failed or not) per IP and email
    ADMIN_LOGIN_IP_RATE_LIMIT = _env("ADMIN_LOGIN_IP_RATE_LIMIT", "30 per minute")
    ADMIN_MIN_PASSWORD_LENGTH = int(_env("ADMIN_MIN_PASSWORD_LENGTH", "8"))
    ADMIN_PAGE_SIZE = int(_env("ADMIN_PAGE_SIZE", "25"))

    # Serving
    # Behind a reverse proxy: trust this many hops of each X-Forwarded-* header
    # (https://werkzeug.palletsprojects.com/en/stable/middleware/proxy_fix/); 0 ignores it.
    PROXY_FIX = as_bool(_env("PROXY_FIX"))
    PROXY_FIX_X_FOR = int(_env("PROXY_FIX_X_FOR", "1"))
    PROXY_FIX_X_PROTO = int(_env("PROXY_FIX_X_PROTO", "1"))
    PROXY_FIX_X_HOST = int(_env("PROXY_FIX_X_HOST", "1"))
    PROXY_FIX_X_PREFIX = int(_env("PROXY_FIX_X_PREFIX", "1"))
    MAX_CONTENT_LENGTH = int(_env("MAX_CONTENT_LENGTH", str(64 * 1024)))
    LOG_LEVEL = _env("LOG_LEVEL", "INFO")
    LOG_FORMAT = (_env("LOG_FORMAT", "json") or "json").lower()  # "json" lines or "text" for humans
