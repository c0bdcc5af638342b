"""Structured JSON logs: request id and CallSid on every record, personal data masked."""
from __future__ import annotations

import io
import json
import logging
import re
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callflow.logging_setup import (
    MaskingFilter,
    RequestContextFilter,
    configure_logging,
    make_formatter,
    make_handler,
    mask_record,
    mask_text,
)

from .conftest import Caller, base_config, make_app

EMAIL = "jane.doe@example.com"
PHONE = "+14155550100"
PHONE_DIGITS = "4155550100"


@pytest.fixture
def captured():
    """A JSON handler on the root logger writing to a buffer; yields the buffer."""
    buffer = io.StringIO()
    handler = make_handler(buffer, "json")
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)


def json_lines(buffer: io.StringIO) -> list[dict]:
    lines = [line for line in buffer.getvalue().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


# -- masking -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mail jane.doe@example.com now", "mail j***@e***.com now"),
        ("J.Doe+tag@Mail.Example.co.uk.", "J***@M***.uk."),
        ("<o.brien/x+y@example.com>", "<o***@e***.com>"),
        ("('jane@example.com',)", "('j***@e***.com',)"),
        ("to =@example.com", "to =***@e***.com"),
        ("josé.núñez@exämple.es", "j***@e***.es"),
        ("mailto:a@b.xn--p1ai;", "mailto:a***@b***.xn--p1ai;"),
        ("q=jane%40example.com&x=1", "q=j***%40e***.com&x=1"),
        ("from +14155550100 to +15005550001", "from +1******0100 to +1******0001"),
        ("+442071838750", "+4*******8750"),
        ("call 4155550100 back", "call ******0100 back"),
        ("(415) 555-0100", "******0100"),
        ("+1 415-555-0100", "+1******0100"),
        ("415.555.0100", "******0100"),
        ("1234567", "***4567"),
    ],
)
def test_mask_text_masks_emails_and_phones(text, expected):
    assert mask_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "CA00000000000000000000000000000001",  # a CallSid: digits inside a word
        "request 3f2a9c1e0b7d4e6f8a9b0c1d2e3f4a5b",
        "ticket 42 status 3 after 123456 ms",  # short numbers
        "peer 192.168.100.200 connected",  # IPv4
        "at 2026-01-31 12:00:00 UTC",  # dates and times
        "score 0.123456789",  # decimals
        "POST /voice/gather 200 in 12 ms",
        "no personal data here",
        "",
    ],
)
def test_mask_text_leaves_other_text_alone(text):
    assert mask_text(text) == text


@pytest.mark.parametrize(
    "text",
    ["1" * 100_000 + "a", "x" * 100_000 + "@b", "a." * 50_000 + "@", "a@" + "b-" * 50_000, "1 1" * 30_000 + "a",
     "(" * 100_000 + "1", "%40" * 30_000, f"{EMAIL} {PHONE} " * 3_000],
)
def test_mask_text_stays_linear_on_hostile_input(text):
    started = time.perf_counter()
    mask_text(text)
    assert time.perf_counter() - started < 1.0  # a quadratic regex took over a minute here


@settings(max_examples=200, deadline=None)
@given(
    before=st.text(max_size=30),
    email=st.emails(),
    phone=st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True),
    after=st.text(max_size=30),
)
def test_mask_text_hides_any_email_and_e164_number(before, email, phone, after):
    masked = mask_text(f"{before} {email} {after} {phone} {after}")
    assert email not in masked and phone not in masked
    assert mask_text(masked) == masked  # masked forms are left alone


def _record(msg, args=(), **extra) -> logging.LogRecord:
    record = logging.LogRecord("callflow.test", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_mask_record_masks_message_args_and_extras():
    class Person:
        def __str__(self) -> str:
            return f"<Person {EMAIL}>"

    record = mask_record(_record("caller %s from %s is %s", (EMAIL, PHONE, Person()), requester=EMAIL, tags=[PHONE]))
    message = record.getMessage()
    assert EMAIL not in message and PHONE not in message and PHONE_DIGITS not in message
    assert "j***@e***.com" in message and "+1******0100" in message
    assert record.requester == "j***@e***.com" and record.tags == ["+1******0100"]
    # idempotent
    assert mask_record(record).getMessage() == message


def test_mask_record_with_mapping_args_and_bad_args():
    record = mask_record(_record("%(email)s called", ({"email": EMAIL},)))
    assert record.getMessage() == "j***@e***.com called"
    broken = mask_record(_record("two %s %s", (EMAIL,)))  # not enough arguments: never raises
    assert EMAIL not in broken.getMessage() and "j***@e***.com" in broken.getMessage()


def test_exception_text_is_masked(captured):
    try:
        raise ValueError(f"bad address {EMAIL} for {PHONE}")
    except ValueError:
        logging.getLogger("callflow.test").exception("turn failed")
    (line,) = [r for r in json_lines(captured) if r["message"] == "turn failed"]
    assert "ValueError" in line["exc_info"] and "j***@e***.com" in line["exc_info"]
    assert EMAIL not in captured.getvalue() and PHONE not in captured.getvalue()


def test_masking_filter_keeps_every_record():
    assert MaskingFilter().filter(_record(f"x {EMAIL}")) is True


# -- request context ---------------------------------------------------------------------------


def test_context_filter_outside_a_request_sets_none():
    record = _record("background work")
    assert RequestContextFilter().filter(record) is True
    assert record.request_id is None and record.call_sid is None


def test_context_filter_survives_an_unparseable_or_oversized_body(app):
    too_big = "CallSid=CA1&SpeechResult=" + "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    with app.test_request_context(
        "/voice/gather", method="POST", data=too_big, content_type="application/x-www-form-urlencoded"
    ):
        record = _record("hello")
        RequestContextFilter().filter(record)
        assert record.call_sid is None and re.fullmatch(r"[0-9a-f]{32}", record.request_id)
    with app.test_request_context(
        "/voice/gather", method="POST", data=b"--x\r\nbroken", content_type="multipart/form-data; boundary=x"
    ):
        record = _record("hello")
        RequestContextFilter().filter(record)
        assert record.call_sid is None


def test_context_filter_ignores_a_call_sid_that_is_not_one(app):
    for sid in ("+14155550100", "CA 1", "x" * 65, "a@b.co"):
        with app.test_request_context("/voice/status", method="POST", data={"CallSid": sid}):
            record = _record("x")
            RequestContextFilter().filter(record)
            assert record.call_sid is None, sid


def test_request_id_is_echoed_when_sane_and_replaced_otherwise(client):
    sane = "req-7f3a.42:abc_DEF"
    assert client.get("/healthz", headers={"X-Request-ID": sane}).headers["X-Request-ID"] == sane
    for bad in ("has space", "x" * 200, "<script>", "jane@example.com", "14155550100", "", "abc\t"):
        rid = client.get("/healthz", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", rid), bad
    first = client.get("/healthz").headers["X-Request-ID"]
    assert first != client.get("/healthz").headers["X-Request-ID"]


def test_error_responses_carry_a_request_id_too(client):
    response = client.post("/voice/incoming", data={"CallSid": "CA1"})  # unsigned: 403
    assert response.status_code == 403 and response.headers["X-Request-ID"]
    assert client.get("/nowhere").headers["X-Request-ID"]


# -- a whole call -------------------------------------------------------------------------------


def test_a_whole_call_logs_json_lines_with_call_sid_and_request_id_and_no_personal_data(app, client, captured):
    caller = Caller(client, from_number=PHONE)
    caller.start()
    caller.say("My name is Jane Doe")
    caller.say("jane dot doe at example dot com")
    caller.say("yes that's right")
    caller.say("I forgot my password and can't log in, how do I reset it")
    caller.say("no it did not")  # -> escalation
    caller.hangup(duration=60)
    # something in a turn tries to log personal data: it comes out masked, with the call's ids
    with app.test_request_context("/voice/gather?t=3", method="POST", data={"CallSid": caller.call_sid, "From": PHONE}):
        logging.getLogger("callflow.voice").warning("caller %s (%s) said %r", EMAIL, PHONE, {"email": EMAIL})

    records = json_lines(captured)  # every line parses as JSON
    assert records
    for record in records:
        assert {"time", "level", "logger", "message", "request_id", "call_sid"} <= set(record)
    voice = [r for r in records if r["logger"] == "callflow.request" and " /voice/" in r["message"]]
    assert len(voice) == len(caller.responses)  # one access line per webhook
    assert all(r["call_sid"] == caller.call_sid for r in voice)
    request_ids = [r["request_id"] for r in voice]
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in request_ids) and len(set(request_ids)) == len(voice)
    assert request_ids == [response.headers["X-Request-ID"] for response in caller.responses]

    (warning,) = [r for r in records if r["level"] == "WARNING" and r["logger"] == "callflow.voice"]
    assert warning["call_sid"] == caller.call_sid
    assert "j***@e***.com" in warning["message"] and "+1******0100" in warning["message"]

    text = captured.getvalue()
    for secret in (EMAIL, PHONE, PHONE_DIGITS, "jane dot doe"):
        assert secret not in text


def test_text_format_for_humans(tmp_path, capsys):
    config = base_config(tmp_path)
    config["LOG_FORMAT"] = "text"
    app = make_app(config, load_kb=False)
    with app.test_request_context("/voice/status", method="POST", data={"CallSid": "CA" + "a" * 32}):
        logging.getLogger("callflow.test").warning("reach %s", EMAIL)
    err = capsys.readouterr().err
    line = [line for line in err.splitlines() if "callflow.test" in line][-1]
    assert not line.startswith("{")
    assert "WARNING callflow.test" in line and "call_sid=CA" + "a" * 32 in line and "request_id=" in line
    assert "reach j***@e***.com" in line and EMAIL not in err


def test_configure_logging_installs_one_handler_and_follows_stderr(tmp_path, capsys):
    make_app(base_config(tmp_path), load_kb=False)
    make_app(base_config(tmp_path), load_kb=False)
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_callflow", False)]
    assert len(ours) == 1 and ours[0].stream is sys.stderr
    logging.getLogger("callflow.test").warning("to stderr")
    (line,) = [json.loads(x) for x in capsys.readouterr().err.splitlines() if "to stderr" in x]
    assert line["level"] == "WARNING" and line["request_id"] is None and line["call_sid"] is None


def test_unknown_log_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        make_formatter("xml")
    config = base_config(tmp_path)
    config["LOG_FORMAT"] = "xml"
    from callflow import create_app

    with pytest.raises(ValueError):
        create_app(config)
    # put a working handler back for the tests that follow
    configure_logging(make_app(base_config(tmp_path), load_kb=False))


def test_a_slow_request_keeps_its_status_in_the_log(app, caplog):
    """``GET /admin/ 200 1026 ms`` was logged as ``GET /admin/ ***1026 ms``: the status and the time read as a
    phone number."""
    from flask import Response

    @app.get("/slow-for-test")
    def _slow():
        time.sleep(1.0)
        return Response("ok")

    with caplog.at_level(logging.INFO, logger="callflow.request"):
        app.test_client().get("/slow-for-test")
    (line,) = [mask_text(r.getMessage()) for r in caplog.records if r.name == "callflow.request"]
    assert line.startswith("GET /slow-for-test 200 in 1") and line.endswith(" ms") and "***" not in line


def test_the_tickets_worker_logs_each_ticket_with_its_call_sid(tmp_path, database_url, captured):
    """The worker's lines about a ticket (a failed delivery, Kayako's answers) carry the call's ``CallSid`` as
    ``call_sid``, so one filter on it finds a call's webhooks and its ticket's fate. Before, every worker line had
    ``"call_sid": null`` (only a request set it), and a failed delivery named nothing but the outbox row id."""
    from callflow.extensions import db
    from callflow.outbox import run_once

    from .conftest import resolved_call
    from .fakes.kayako_server import FakeKayako

    with FakeKayako() as kayako:
        config = base_config(tmp_path, database_url)
        config.update(KAYAKO_URL=kayako.url, KAYAKO_EMAIL=kayako.email, KAYAKO_PASSWORD=kayako.password)
        app = make_app(config)
        app.extensions["helpdesk"]._sleep = lambda seconds: None
        try:
            first, second = Caller(app.test_client()), Caller(app.test_client())
            resolved_call(first)
            resolved_call(second)
            kayako.fail_next(500, n=None, path_prefix="/api/v1/cases", method="POST", exact=True)
            with app.app_context():
                assert run_once() == {"finalized": 0, "queued": 2}
                kayako.clear_faults()
                logging.getLogger("callflow.outbox").info("between tickets")
                db.session.execute(db.text("UPDATE ticket_outbox SET next_attempt_at = :t"), {"t": "2000-01-01"})
                db.session.commit()
                assert run_once()["delivered"] == 2
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()

    records = json_lines(captured)
    failed = [r for r in records if "delivery failed" in r["message"]]
    assert [r["call_sid"] for r in failed] == [first.call_sid, second.call_sid]
    created = [r for r in records if r["message"].startswith("kayako: created case")]
    assert [r["call_sid"] for r in created] == [first.call_sid, second.call_sid]
    (between,) = [r for r in records if r["message"] == "between tickets"]
    assert between["call_sid"] is None  # the context ends with its ticket


def test_a_healthy_probe_is_not_an_info_line_but_a_failing_one_is(app, client, captured):
    """A load balancer probes /healthz every few seconds: each probe wrote gunicorn's access line and this INFO
    line, thousands a day of "GET /healthz 200". A healthy probe is now logged at DEBUG; a 503 still at INFO."""
    from sqlalchemy import event

    from callflow.extensions import db

    def request_lines() -> list[str]:
        return [r["message"].split(" in ")[0] for r in json_lines(captured) if r["logger"] == "callflow.request"]

    assert client.get("/healthz").status_code == 200
    assert request_lines() == []

    def refuse(*_args):
        raise RuntimeError("database down")

    with app.app_context():
        db.engine.dispose()  # no pooled connection: the next request must connect
        event.listen(db.engine, "do_connect", refuse)
        try:
            assert client.get("/healthz").status_code == 503
        finally:
            event.remove(db.engine, "do_connect", refuse)
    assert request_lines() == ["GET /healthz 503"]
