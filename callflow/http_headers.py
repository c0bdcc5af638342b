"""Security response headers: strict ones for the admin page, ``nosniff`` everywhere.

:func:`init_security_headers` registers one ``after_request`` hook on the app. It runs
after the admin blueprint's own hooks (Flask runs blueprint hooks first,
https://flask.palletsprojects.com/en/stable/api/#flask.Flask.after_request), so the policy
below is the one sent for every path under ``/admin`` -- pages, JSON API, static files and
error pages alike:

* ``Content-Security-Policy``: :data:`ADMIN_CSP` -- our own scripts, styles and fonts only
  (no inline script or style), images from us or ``data:``, no plugins, no ``<base>``,
  forms posting to us only, and the page may not be framed anywhere
  (``frame-ancestors 'none'``). ``frame-src``/``child-src 'self'`` keep the sandboxed
  ``srcdoc`` iframe of the ticket preview working (a ``srcdoc`` document inherits this
  policy, and ``sandbox`` gives it an opaque origin with scripts off).
  https://www.w3.org/TR/CSP3/ , https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Content-Security-Policy
* ``X-Frame-Options: DENY`` for browsers without ``frame-ancestors``
  (https://www.rfc-editor.org/rfc/rfc7034).
* ``Referrer-Policy: same-origin`` (https://www.w3.org/TR/referrer-policy/).
* ``Strict-Transport-Security: max-age=31536000; includeSubDomains`` only on a secure
  request (``request.is_secure``; behind a proxy set ``PROXY_FIX`` so the forwarded scheme
  counts): RFC 6797 section 7.2 says a host must not send it over plain HTTP.

Every response, ``/voice`` webhooks included, gets ``X-Content-Type-Options: nosniff``
(https://fetch.spec.whatwg.org/#x-content-type-options-header).
"""
from __future__ import annotations

from flask import Flask, Response, request

ADMIN_PREFIX = "/admin"

ADMIN_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",
        "child-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HSTS = "max-age=31536000; includeSubDomains"

ADMIN_HEADERS = {
    "Content-Security-Policy": ADMIN_CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def is_admin_path(path: str) -> bool:
    """True for ``/admin`` and anything below it (not for ``/administrator``)."""
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def apply_security_headers(response: Response) -> Response:
    """Set the headers described in the module docstring on ``response`` for the current request."""
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    if is_admin_path(request.path):
        for name, value in ADMIN_HEADERS.items():
            headers[name] = value
        if request.is_secure:
            headers["Strict-Transport-Security"] = HSTS
    return response


def init_security_headers(app: Flask) -> None:
    """Register :func:`apply_security_headers` as an ``after_request`` hook of ``app``."""
    app.after_request(apply_security_headers)
