"""The request body limit, for bodies sent without a ``Content-Length``.

Flask answers 413 when a request's ``Content-Length`` is over ``MAX_CONTENT_LENGTH``. A body
sent with ``Transfer-Encoding: chunked`` has no ``Content-Length``: werkzeug then reads at
most ``MAX_CONTENT_LENGTH`` bytes of it and parses what it read, silently dropping the rest
(https://werkzeug.palletsprojects.com/en/stable/wsgi/#werkzeug.wsgi.get_input_stream), so a
2 MB chunked POST was served from its first 64 KB. Twilio posts its webhooks with a
``Content-Length``, and browsers send one with every form, so callflow asks for it: a
chunked request body gets ``411 Length Required`` (RFC 9110 section 15.5.12,
https://www.rfc-editor.org/rfc/rfc9110#name-411-length-required) before anything reads it.
"""
from __future__ import annotations

from flask import Flask, abort, request


def require_content_length() -> None:
    """Abort with 411 when the request body is chunked (no ``Content-Length`` to check)."""
    if request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        abort(411, description="Send the request body with a Content-Length header.")


def init_body_limit(app: Flask) -> None:
    """Register :func:`require_content_length` as a ``before_request`` hook of ``app``.

    App-level hooks run before any blueprint's (the webhooks' signature check reads the
    form), and none of the app's other hooks reads the body.
    """
    app.before_request(require_content_length)
