"""Serving hardening: mandatory signatures, ProxyFix, security headers, request body limit."""
from __future__ import annotations

import io
import logging
import os
import xml.etree.ElementTree as ET

import pytest

from callflow.http_headers import ADMIN_CSP, HSTS
from callflow.security import NO_TOKEN_MESSAGE

from .conftest import PUBLIC_BASE, Caller, base_config, make_app, sign

WEBHOOKS = ["/voice/incoming", "/voice/gather?t=1", "/voice/status"]


def no_token_app(tmp_path, **overrides):
    config = base_config(tmp_path)
    config["TWILIO_AUTH_TOKEN"] = None
    config.update(overrides)
    return make_app(config, load_kb=False)


# -- signature validation is mandatory unless explicitly switched off ------------------------


@pytest.mark.parametrize("path", WEBHOOKS)
def test_no_token_with_validation_on_refuses_every_webhook(tmp_path, path):
    app = no_token_app(tmp_path, TWILIO_VALIDATE_SIGNATURES=True)
    params = {"CallSid": "CA" + "1" * 32, "CallStatus": "completed"}
    for headers in ({}, {"X-Twilio-Signature": sign(PUBLIC_BASE + path, params)}):
        response = app.test_client().post(path, data=params, headers=headers)
        assert response.status_code == 403
        assert response.mimetype == "text/plain"
        assert NO_TOKEN_MESSAGE in response.get_data(as_text=True)


def test_validation_is_on_by_default(tmp_path):
    from config import Config

    if "TWILIO_VALIDATE_SIGNATURES" not in os.environ:  # (a developer's .env may switch it off)
        assert Config.TWILIO_VALIDATE_SIGNATURES is True
    config = base_config(tmp_path)
    config["TWILIO_AUTH_TOKEN"] = None
    config.pop("TWILIO_VALIDATE_SIGNATURES", None)
    app = make_app(config, load_kb=False)
    app.config.pop("TWILIO_VALIDATE_SIGNATURES", None)  # even with the setting missing altogether
    assert app.test_client().post("/voice/incoming", data={"CallSid": "CA" + "1" * 32}).status_code == 403


@pytest.mark.parametrize("off", [False, "false", "0", "no"])
def test_no_token_with_validation_off_lets_requests_through(tmp_path, off):
    app = no_token_app(tmp_path, TWILIO_VALIDATE_SIGNATURES=off)
    response = app.test_client().post("/voice/incoming", data={"CallSid": "CA" + "1" * 32})
    assert response.status_code == 200 and ET.fromstring(response.data).tag == "Response"


@pytest.mark.parametrize("typo", ["ture", "flase", "enabled"])
def test_a_validation_setting_that_is_not_a_boolean_keeps_validation_on(tmp_path, typo):
    app = no_token_app(tmp_path, TWILIO_VALIDATE_SIGNATURES=typo)
    assert app.test_client().post("/voice/incoming", data={"CallSid": "CA" + "1" * 32}).status_code == 403


def test_a_token_always_validates_even_with_validation_off(tmp_path):
    config = base_config(tmp_path)
    config["TWILIO_VALIDATE_SIGNATURES"] = False
    app = make_app(config, load_kb=False)
    client = app.test_client()
    caller = Caller(client)
    assert caller.post("/voice/incoming", caller.params(), signed=False).status_code == 403
    assert caller.post("/voice/incoming", caller.params()).status_code == 200


def _startup_records(tmp_path, caplog, **overrides):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="callflow"):
        no_token_app(tmp_path, TESTING=False, **overrides)
    return [r for r in caplog.records if r.name == "callflow"]


def test_startup_logs_an_error_when_validation_is_on_without_a_token(tmp_path, caplog):
    records = _startup_records(tmp_path, caplog, TWILIO_VALIDATE_SIGNATURES=True)
    assert [r.levelno for r in records] == [logging.ERROR]
    assert NO_TOKEN_MESSAGE in records[0].getMessage()


def test_startup_warns_loudly_when_validation_is_switched_off(tmp_path, caplog):
    records = _startup_records(tmp_path, caplog, TWILIO_VALIDATE_SIGNATURES=False)
    assert [r.levelno for r in records] == [logging.WARNING]
    assert "validation is OFF" in records[0].getMessage()


# -- ProxyFix ----------------------------------------------------------------------------------


def proxied_app(tmp_path, **overrides):
    config = base_config(tmp_path)
    config.update(PROXY_FIX=True, PUBLIC_BASE_URL=None, **overrides)
    app = make_app(config, load_kb=False)

    @app.get("/_probe")
    def probe():
        from flask import jsonify, request

        return jsonify(secure=request.is_secure, url=request.url, remote=request.remote_addr)

    return app


FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "voice.example.org",
    "X-Forwarded-For": "203.0.113.7",
}


def test_behind_proxy_fix_a_forwarded_https_request_is_secure(tmp_path):
    client = proxied_app(tmp_path).test_client()
    seen = client.get("/_probe", headers=FORWARDED).get_json()
    assert seen == {"secure": True, "url": "https://voice.example.org/_probe", "remote": "203.0.113.7"}
    assert client.get("/_probe").get_json()["secure"] is False


def test_proxy_fix_hop_counts_are_configurable(tmp_path):
    client = proxied_app(tmp_path, PROXY_FIX_X_PROTO=0, PROXY_FIX_X_HOST=0).test_client()
    seen = client.get("/_probe", headers=FORWARDED).get_json()
    assert seen["secure"] is False and seen["url"] == "http://localhost/_probe"
    two_hops = proxied_app(tmp_path, PROXY_FIX_X_FOR=2).test_client()
    headers = dict(FORWARDED, **{"X-Forwarded-For": "198.51.100.1, 203.0.113.7"})
    assert two_hops.get("/_probe", headers=headers).get_json()["remote"] == "198.51.100.1"


def test_without_proxy_fix_forwarded_headers_are_ignored(tmp_path):
    config = base_config(tmp_path)
    app = make_app(config, load_kb=False)

    @app.get("/_probe")
    def probe():
        from flask import request

        return {"secure": request.is_secure}

    assert app.test_client().get("/_probe", headers=FORWARDED).get_json()["secure"] is False


def test_signatures_validate_against_the_forwarded_url(tmp_path):
    client = proxied_app(tmp_path).test_client()
    params = {"CallSid": "CA" + "2" * 32, "From": "+15005550006"}
    signature = sign("https://voice.example.org/voice/incoming", params)
    ok = client.post("/voice/incoming", data=params, headers=dict(FORWARDED, **{"X-Twilio-Signature": signature}))
    assert ok.status_code == 200
    plain = client.post("/voice/incoming", data=params, headers={"X-Twilio-Signature": signature})
    assert plain.status_code == 403


def test_signatures_validate_against_a_forwarded_public_port(tmp_path):
    """Twilio calls https://voice.example.org:8443; the proxy says so in X-Forwarded-Port (never trusted before)."""
    client = proxied_app(tmp_path).test_client()
    params = {"CallSid": "CA" + "2" * 32, "From": "+15005550006"}
    signature = sign("https://voice.example.org:8443/voice/incoming", params)
    headers = dict(FORWARDED, **{"X-Forwarded-Port": "8443", "X-Twilio-Signature": signature})
    assert client.post("/voice/incoming", data=params, headers=headers).status_code == 200


def test_a_rejection_behind_a_misconfigured_proxy_says_what_to_fix(tmp_path, caplog):
    """TLS proxy, no PROXY_FIX, no PUBLIC_BASE_URL: Twilio signed the https URL, the app sees http."""
    config = base_config(tmp_path)
    config.update(PUBLIC_BASE_URL=None)
    client = make_app(config, load_kb=False).test_client()
    params = {"CallSid": "CA" + "2" * 32, "From": "+15005550006"}
    signature = sign("https://voice.example.org/voice/incoming", params)
    with caplog.at_level(logging.WARNING, logger="callflow.security"):
        response = client.post("/voice/incoming", data=params, base_url="http://voice.example.org",
                               headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    [record] = [r for r in caplog.records if r.name == "callflow.security"]
    assert record.levelno == logging.ERROR
    message = record.getMessage()
    assert "valid for https://voice.example.org/voice/incoming" in message
    assert "checks http://voice.example.org/voice/incoming" in message and "PUBLIC_BASE_URL" in message


def test_a_forged_signature_is_logged_with_the_url_checked(tmp_path, caplog):
    client = make_app(base_config(tmp_path), load_kb=False).test_client()
    params = {"CallSid": "CA" + "2" * 32, "From": "+15005550006"}
    with caplog.at_level(logging.WARNING, logger="callflow.security"):
        response = client.post("/voice/gather?t=1", data=params, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
    assert response.status_code == 403
    [record] = [r for r in caplog.records if r.name == "callflow.security"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"rejected a webhook with an invalid X-Twilio-Signature (checked against {PUBLIC_BASE}/voice/gather)"
    )


# -- security headers --------------------------------------------------------------------------


@pytest.fixture
def header_app(tmp_path):
    app = make_app(base_config(tmp_path), load_kb=False)

    @app.get("/admin/_header_probe")
    def admin_probe():
        return "<p>admin</p>"

    @app.get("/administrator")
    def not_admin():
        return "elsewhere"

    return app


ADMIN_EXPECTED = {
    "Content-Security-Policy": ADMIN_CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def test_admin_paths_get_the_security_headers(header_app):
    response = header_app.test_client().get("/admin/_header_probe")
    for name, value in ADMIN_EXPECTED.items():
        assert response.headers[name] == value
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: never HSTS
    csp = dict(part.split(" ", 1) for part in response.headers["Content-Security-Policy"].split("; "))
    assert csp["script-src"] == "'self'" and "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert csp["frame-ancestors"] == "'none'" and csp["frame-src"] == "'self'" and csp["child-src"] == "'self'"
    assert csp["img-src"] == "'self' data:" and csp["object-src"] == "'none'"


def test_hsts_only_over_https(header_app):
    secure = header_app.test_client().get("/admin/_header_probe", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == HSTS == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in header_app.test_client().get("/healthz", base_url="https://localhost").headers


def test_hsts_behind_a_tls_terminating_proxy(tmp_path):
    app = proxied_app(tmp_path)

    @app.get("/admin/_header_probe")
    def admin_probe():
        return "ok"

    response = app.test_client().get("/admin/_header_probe", headers=FORWARDED)
    assert response.headers["Strict-Transport-Security"] == HSTS


def test_admin_errors_get_the_headers_too(header_app):
    response = header_app.test_client().get("/admin/no-such-page")
    assert response.status_code == 404
    assert response.headers["Content-Security-Policy"] == ADMIN_CSP


def test_other_paths_get_only_nosniff(header_app, client):
    client = header_app.test_client()
    for response in (client.get("/healthz"), client.get("/administrator"), client.post("/voice/incoming")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" not in response.headers and "X-Frame-Options" not in response.headers
    caller = Caller(client)
    assert caller.post("/voice/incoming", caller.params()).headers["X-Content-Type-Options"] == "nosniff"


def test_the_real_admin_page_sends_our_policy(tmp_path):
    app = make_app(dict(base_config(tmp_path), SECRET_KEY="headers-test"), load_kb=False)
    if "admin" not in app.blueprints:
        admin = pytest.importorskip("callflow.admin")
        admin.init_admin(app)
    response = app.test_client().get("/admin/login", base_url="https://localhost")
    assert response.status_code == 200
    for name, value in ADMIN_EXPECTED.items():
        assert response.headers[name] == value
    assert response.headers["Strict-Transport-Security"] == HSTS


# -- request body limit --------------------------------------------------------------------------


@pytest.mark.parametrize("path", WEBHOOKS)
def test_a_body_over_the_limit_is_a_clean_413(app, path):
    client = app.test_client()
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 64 * 1024
    params = {"CallSid": "CA" + "3" * 32, "SpeechResult": "x" * (limit + 1)}
    response = client.post(path, data=params, headers={"X-Twilio-Signature": sign(PUBLIC_BASE + path, params)})
    assert response.status_code == 413
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "RequestEntityTooLarge" not in body
    assert response.headers["X-Request-ID"]


def test_a_multipart_body_over_the_limit_is_a_clean_413(app):
    data = {"CallSid": "CA" + "3" * 32, "upload": (io.BytesIO(b"x" * (70 * 1024)), "a.bin")}
    headers = {"X-Twilio-Signature": "c2lnbmF0dXJl"}  # present, so the form is read to check it
    response = app.test_client().post("/voice/gather?t=1", data=data, content_type="multipart/form-data", headers=headers)
    assert response.status_code == 413


@pytest.mark.parametrize("path", [*WEBHOOKS, "/admin/login"])
def test_a_chunked_body_is_refused_with_411_not_served_truncated(app, path):
    """Without a Content-Length werkzeug would read the first MAX_CONTENT_LENGTH bytes of a
    chunked body and serve the request from them; callflow asks for the length instead."""
    from sqlalchemy import func, select

    from callflow.extensions import db
    from callflow.models import Call

    body = b"CallSid=CA" + b"8" * 32 + b"&CallStatus=completed&SpeechResult=" + b"x" * (2 * app.config["MAX_CONTENT_LENGTH"])
    response = app.test_client().post(
        path, input_stream=io.BytesIO(body), content_type="application/x-www-form-urlencoded",
        headers={"Transfer-Encoding": "chunked", "X-Twilio-Signature": "c2lnbmF0dXJl"},
    )
    assert response.status_code == 411
    assert "Content-Length" in response.get_data(as_text=True) and response.headers["X-Request-ID"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Call)) == 0


def test_a_body_just_under_the_limit_is_served(app):
    caller = Caller(app.test_client())
    caller.start()
    filler = "y" * (60 * 1024)
    response = caller.post(caller.action, caller.params(SpeechResult="Maria", Filler=filler))
    assert response.status_code == 200 and ET.fromstring(response.data).tag == "Response"
