"""Twilio request signature validation for the webhooks.

Rule (https://www.twilio.com/docs/usage/webhooks/webhooks-security): ``X-Twilio-Signature``
is HMAC-SHA1 over the full URL Twilio requested plus the sorted POST parameters, keyed with
the Auth Token. Behind a proxy the URL the app sees differs, so we rebuild it from
``PUBLIC_BASE_URL`` plus the path and the query exactly as sent.

Validation is mandatory unless explicitly switched off:

* ``TWILIO_AUTH_TOKEN`` set: every webhook must carry a valid signature (else 403).
* no token and ``TWILIO_VALIDATE_SIGNATURES`` true (the default): every webhook is refused
  with 403 and :data:`NO_TOKEN_MESSAGE`, since nothing could be checked.
* no token and ``TWILIO_VALIDATE_SIGNATURES`` false (local development only): requests pass.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Response, abort, current_app, request
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)

NO_TOKEN_MESSAGE = "signature validation is on but TWILIO_AUTH_TOKEN is not set"


def public_url() -> str:
    """The URL Twilio signed: ``PUBLIC_BASE_URL`` + path + raw query, else ``request.url``."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        return request.url
    query = request.query_string.decode("latin-1")
    return base + request.path + (f"?{query}" if query else "")


def signatures_required(config: Mapping[str, Any]) -> bool:
    """``TWILIO_VALIDATE_SIGNATURES`` as a bool (default True; strings read with :func:`config.as_bool`, and one
    that is not a boolean keeps validation on)."""
    value = config.get("TWILIO_VALIDATE_SIGNATURES", True)
    if isinstance(value, str):
        from config import as_bool

        try:
            return as_bool(value, default=True)
        except ValueError:
            return True
    return True if value is None else bool(value)


def verify_twilio_signature() -> None:
    """Abort with 403 unless the request may pass (see the module docstring for the rules).

    Raises ``werkzeug.exceptions.Forbidden`` (403): with a token, when the signature is
    missing or wrong; without one, when ``TWILIO_VALIDATE_SIGNATURES`` is on (plain-text
    body :data:`NO_TOKEN_MESSAGE`).
    """
    config = current_app.config
    token = config.get("TWILIO_AUTH_TOKEN")
    if not token:
        if signatures_required(config):
            log.error("refused a webhook: %s", NO_TOKEN_MESSAGE)
            abort(Response(NO_TOKEN_MESSAGE + " (set it, or TWILIO_VALIDATE_SIGNATURES=false for development)\n",
                           status=403, mimetype="text/plain"))
        return
    signature = request.headers.get("X-Twilio-Signature", "")
    validator = RequestValidator(token)
    expected = public_url()
    if not signature or not validator.validate(expected, request.form, signature):
        _log_rejection(validator, expected, signature)
        abort(403, description="Invalid Twilio signature.")


def _log_rejection(validator: RequestValidator, expected: str, signature: str) -> None:
    """Log a refused webhook with the URL it was checked against (no query string: no caller data).

    When the signature is valid for another URL this request could have had -- the one the app
    sees (``request.url``), or its ``https`` form -- the deployment is misconfigured rather
    than the request forged: say so, naming ``PUBLIC_BASE_URL`` and ``PROXY_FIX``.
    """
    checked = expected.split("?", 1)[0]
    seen = request.url
    candidates = {seen, "https://" + seen.split("://", 1)[-1]} - {expected}
    matched = signature and next((url for url in candidates if validator.validate(url, request.form, signature)), None)
    if matched:
        log.error(
            "rejected a webhook: its X-Twilio-Signature is valid for %s, but this server checks %s; "
            "set PUBLIC_BASE_URL to the public URL Twilio calls (scheme, host and any path prefix), "
            "or PROXY_FIX=true behind a proxy",
            matched.split("?", 1)[0], checked,
        )
    else:
        log.warning("rejected a webhook with %s X-Twilio-Signature (checked against %s)",
                    "an invalid" if signature else "no", checked)
