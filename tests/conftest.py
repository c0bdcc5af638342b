"""Shared fixtures: an app on a fresh database with the sample KB, and a ``Caller`` that
drives the voice webhooks the way Twilio does (signed requests).

Every test that uses ``app`` (or ``database_url``) runs twice: on SQLite and on a real
PostgreSQL server started for the session (:mod:`tests.pgserver`). Without PostgreSQL
binaries the PostgreSQL leg is skipped with a message on a developer's machine and fails
in CI (``CI`` set). ``CALLFLOW_TEST_DATABASES=sqlite`` runs one leg only.
"""
from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from typing import Any, Optional
from uuid import uuid4

import pytest
from twilio.request_validator import RequestValidator

TOKEN = "test-auth-token"
PUBLIC_BASE = "https://callflow.example.test"


DATABASES = [d.strip() for d in os.environ.get("CALLFLOW_TEST_DATABASES", "sqlite,postgresql").split(",") if d.strip()]


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server for the whole session (skipped locally if unavailable, fails in CI)."""
    from .pgserver import PostgresUnavailable, TempPostgres

    try:
        server = TempPostgres().start()
    except (PostgresUnavailable, subprocess.CalledProcessError, subprocess.TimeoutExpired, KeyError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        message = f"PostgreSQL leg unavailable: {exc} {detail.decode(errors='replace')[:500]}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run the PostgreSQL leg; `make test` installs the server)")
        pytest.skip(message + " — install Debian's postgresql package (`make test` does) to run it.")
    yield server
    server.stop()


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path):
    """A fresh, empty database: a SQLite file, or a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    server = request.getfixturevalue("pg_server")
    url = server.create_database()
    yield url
    server.drop_database(url)


def base_config(tmp_path, database_url: Optional[str] = None) -> dict[str, Any]:
    """Settings for a test app: every outside service off, signatures on."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{tmp_path / 'test.sqlite3'}",
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": PUBLIC_BASE,
        "OPENAI_API_KEY": None,
        "OPENAI_BASE_URL": None,
        "KAYAKO_URL": None,
        "KAYAKO_EMAIL": None,
        "KAYAKO_PASSWORD": None,
        "TTS_CACHE_DIR": str(tmp_path / "tts"),
        "KB_SCORE_CUTOFF": None,
    }


def make_app(config: dict[str, Any], load_kb: bool = True):
    """Create an app, its tables and (optionally) the sample KB."""
    from callflow import create_app
    from callflow.extensions import db
    from callflow.kb import SAMPLE_KB_PATH, read_articles_file, upsert_articles

    app = create_app(config)
    with app.app_context():
        db.create_all()
        if load_kb:
            upsert_articles(read_articles_file(SAMPLE_KB_PATH))
            db.session.commit()
    return app


@pytest.fixture
def app(tmp_path, database_url):
    """A fresh app per test, on each database."""
    app = make_app(base_config(tmp_path, database_url))
    yield app
    from callflow.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """Flask test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Flask CLI runner."""
    return app.test_cli_runner()


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    """X-Twilio-Signature for ``url`` and form ``params``, computed as Twilio does."""
    return RequestValidator(token).compute_signature(url, params)


def says(root: ET.Element) -> list[str]:
    """Every <Say> text in a TwiML document, in order."""
    return [el.text or "" for el in root.iter("Say")]


class Caller:
    """Places one call against the test client, following the TwiML like Twilio would."""

    def __init__(self, client, call_sid: Optional[str] = None, from_number: str = "+14155550100"):
        self.client = client
        self.call_sid = call_sid or "CA" + uuid4().hex
        self.from_number = from_number
        self.action: Optional[str] = None
        self.last: Optional[ET.Element] = None
        self.responses: list[Any] = []

    def params(self, **extra: str) -> dict[str, str]:
        base = {
            "CallSid": self.call_sid,
            "AccountSid": "AC" + "0" * 32,
            "From": self.from_number,
            "To": "+15005550001",
            "Caller": self.from_number,
            "Called": "+15005550001",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            "CallStatus": "in-progress",
        }
        base.update(extra)
        return base

    def post(self, path: str, params: dict[str, str], headers: Optional[dict[str, str]] = None, signed: bool = True):
        headers = dict(headers or {})
        if signed:
            headers["X-Twilio-Signature"] = sign(PUBLIC_BASE + path, params)
        response = self.client.post(path, data=params, headers=headers)
        self.responses.append(response)
        return response

    def _follow(self, response) -> ET.Element:
        assert response.status_code == 200, response.data
        assert response.mimetype == "text/xml"
        root = ET.fromstring(response.data)
        assert root.tag == "Response"
        self.last = root
        gather = root.find("Gather")
        if gather is not None:
            action = gather.get("action")
            assert action and action.startswith(PUBLIC_BASE)
            self.action = action[len(PUBLIC_BASE):]
        else:
            self.action = None
        return root

    def start(self) -> ET.Element:
        return self._follow(self.post("/voice/incoming", self.params(CallStatus="ringing")))

    def say(self, text: Optional[str] = None, digits: Optional[str] = None, **headers: str) -> ET.Element:
        assert self.action, "the call is not listening"
        extra = {}
        if text is not None:
            extra["SpeechResult"] = text
            extra["Confidence"] = "0.91"
        if digits is not None:
            extra["Digits"] = digits
        return self._follow(self.post(self.action, self.params(**extra), headers=headers))

    def hangup(self, duration: int = 42, status: str = "completed"):
        response = self.post("/voice/status", self.params(CallStatus=status, CallDuration=str(duration)))
        assert response.status_code in (200, 204)
        return response

    @property
    def listening(self) -> bool:
        return self.action is not None

    @property
    def hung_up(self) -> bool:
        return self.last is not None and self.last.find("Hangup") is not None

    def text(self) -> str:
        return " ".join(says(self.last)) if self.last is not None else ""


@pytest.fixture
def caller(client):
    """A new Caller on the test client."""
    return Caller(client)


def resolved_call(caller: Caller, hang_up: bool = True) -> None:
    """A whole call answered from the KB and confirmed resolved, then (by default) the status callback."""
    caller.start()
    caller.say("Jane Doe")
    caller.say("jane at example dot com")
    caller.say("yes")
    caller.say("how do I reset my password")
    caller.say("yes")
    caller.say("no thanks")
    if hang_up:
        caller.hangup()


def idle_calls(app, minutes: int = 31) -> None:
    """Make every call look idle for ``minutes`` (the sweeper finalizes live calls after 30)."""
    from datetime import timedelta

    from sqlalchemy import update

    from callflow.clock import utcnow
    from callflow.extensions import db
    from callflow.models import Call

    with app.app_context():
        db.session.execute(update(Call).values(last_activity_at=utcnow() - timedelta(minutes=minutes)))
        db.session.commit()
