"""Twilio request signature validation for the webhooks.

Rule (https://www.twilio.com/docs/usage/webhooks/webhooks-security): ``X-Twilio-Signature``
is HMAC-SHA1 over the full URL Twilio requested plus the sorted POST parameters, keyed with
the Auth Token. Behind a proxy the URL the app sees differs, so we rebuild it from
``PUBLIC_BASE_URL`` plus the path and the query exactly as sent.
"""
from __future__ import annotations

import logging

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)


def public_url() -> str:
    """The URL Twilio signed: ``PUBLIC_BASE_URL`` + path + raw query, else ``request.url``."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        return request.url
    query = request.query_string.decode("latin-1")
    return base + request.path + (f"?{query}" if query else "")


def verify_twilio_signature() -> None:
    """Abort with 403 unless the request carries a valid signature (no-op without a token)."""
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    if not token:
        return
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not RequestValidator(token).validate(public_url(), request.form, signature):
        log.warning("rejected a webhook with a missing or invalid X-Twilio-Signature")
        abort(403, description="Invalid Twilio signature.")
