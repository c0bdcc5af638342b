"""The admin web page at ``/admin``: call history, transcripts, tickets, metrics and the KB.

:func:`init_admin` wires it into an app: the ``admin`` blueprint (pages, JSON API and the
vendored assets under ``/admin/static/``), Flask-Login sessions, Flask-WTF CSRF checks on
every unsafe request of the blueprint, Flask-Limiter on login attempts, secure cookie
defaults, security headers and the ``flask admin`` CLI group.

Settings (all optional, set with ``app.config.setdefault`` so config wins):

* ``ADMIN_COOKIE_SECURE`` -- send the session and remember cookies over HTTPS only
  (default: on, off when ``TESTING``). It fills ``SESSION_COOKIE_SECURE`` and
  ``REMEMBER_COOKIE_SECURE`` unless those were set to something else than Flask's default.
* ``ADMIN_LOGIN_RATE_LIMIT`` -- sign-in attempts (failed or not) allowed per client IP and email
  (default ``5 per minute``); ``ADMIN_LOGIN_IP_RATE_LIMIT`` per client IP (``30 per minute``).
* ``RATELIMIT_STORAGE_URI`` -- where the limiter counts (default ``memory://``: per process).
  **With several gunicorn workers or instances set a shared store** (e.g. a Redis URI, with
  the ``redis`` package installed), or each process counts on its own and an attacker gets
  N times the attempts.
* ``ADMIN_MIN_PASSWORD_LENGTH`` -- for ``flask admin create-user`` / ``set-password`` (8).
* ``ADMIN_PAGE_SIZE`` -- rows per page of the calls list (25).

CSRF: only this blueprint is checked (``WTF_CSRF_CHECK_DEFAULT`` defaults to False here),
so Twilio's webhooks, which cannot send a token, keep working.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

log = logging.getLogger(__name__)

#: ``config.Config``'s placeholder; refused (with any key under ``MIN_SECRET_KEY_CHARS``) where Twilio calls in.
DEV_SECRET_KEY = "dev-only-change-me"
MIN_SECRET_KEY_CHARS = 16

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    static_folder="../static",
    static_url_path="/static",
)

login_manager = LoginManager()
csrf = CSRFProtect()

#: Endpoints reachable without a login.
PUBLIC_ENDPOINTS = frozenset({"admin.login", "admin.static"})
#: Endpoints whose name starts with this answer JSON (401/400/... as JSON too).
JSON_ENDPOINT_PREFIX = "admin.api_"

def wants_json() -> bool:
    """True when the current admin request is for a JSON endpoint."""
    endpoint = request.endpoint or ""
    return endpoint.startswith(JSON_ENDPOINT_PREFIX) or request.path.startswith("/admin/api/")


def _cookie_defaults(app: Flask) -> None:
    """Secure, HttpOnly, SameSite=Lax cookies unless the config says otherwise."""
    secure = app.config.get("ADMIN_COOKIE_SECURE")
    if secure is None:
        secure = app.config["ADMIN_COOKIE_SECURE"] = not app.testing
    wanted = {
        "SESSION_COOKIE_SECURE": bool(secure),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": bool(secure),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
    }
    for key, value in wanted.items():
        # Flask pre-fills SESSION_COOKIE_* with insecure defaults, so a plain setdefault
        # would never apply: replace a value only while it is still Flask's own default.
        if key not in app.config or app.config[key] == Flask.default_config.get(key):
            app.config[key] = value


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the signer for a request with no cookie.

    Only admin pages carry a session cookie; every Twilio webhook would otherwise pay for an
    itsdangerous serializer it never uses. Same result as Flask's: an empty new session.
    https://flask.palletsprojects.com/en/stable/api/#flask.sessions.SecureCookieSessionInterface
    """

    def open_session(self, app: Flask, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_admin(app: Flask) -> None:
    """Register the admin page, its login, CSRF, rate limiting and CLI on ``app``."""
    from flask_limiter import Limiter

    from . import auth, cli

    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    app.config.setdefault("ADMIN_LOGIN_RATE_LIMIT", "5 per minute")
    app.config.setdefault("ADMIN_LOGIN_IP_RATE_LIMIT", "30 per minute")
    app.config.setdefault("ADMIN_MIN_PASSWORD_LENGTH", 8)
    app.config.setdefault("ADMIN_PAGE_SIZE", 25)
    _cookie_defaults(app)

    app.session_interface = _CookieSessions()
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.session_protection = "basic"

    app.register_blueprint(bp)

    # One limiter per app: its storage and limits belong to this app only.
    limiter = Limiter(key_func=auth.client_ip, key_prefix="callflow-admin", headers_enabled=True)
    limiter.init_app(app)
    # Only the admin pages have limits: every other request (the Twilio webhooks above all)
    # skips the limiter's per-request bookkeeping.
    limiter.request_filter(lambda: request.blueprint != bp.name)
    auth.apply_login_limits(limiter, app)
    app.extensions["admin_limiter"] = limiter

    app.cli.add_command(cli.admin_cli)

    if not app.testing:
        if app.config["RATELIMIT_STORAGE_URI"].startswith("memory://"):
            log.debug(
                "admin login rate limits are counted per process (RATELIMIT_STORAGE_URI=memory://); "
                "set a shared storage URI when running several workers or instances"
            )
        from callflow import serving_requests

        secret = str(app.config.get("SECRET_KEY") or "")
        if (secret == DEV_SECRET_KEY or len(secret) < MIN_SECRET_KEY_CHARS) and serving_requests():
            if app.config.get("TWILIO_AUTH_TOKEN"):  # a deployment Twilio calls, not a laptop
                raise RuntimeError(
                    f"SECRET_KEY must be set to a random string of at least {MIN_SECRET_KEY_CHARS} characters "
                    "(python -c 'import secrets; print(secrets.token_hex(32))'): admin sessions and the names of "
                    "callers' audio files are signed with it, and the default is public"
                )
            log.warning("SECRET_KEY is not set: admin sessions could be forged. Set it in production.")


@bp.before_request
def _guard() -> object:
    """Require a login for every admin endpoint but the login page, then check CSRF."""
    from flask_login import current_user

    if request.endpoint not in PUBLIC_ENDPOINTS and not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    return None


@bp.after_request
def _no_store(response):
    """Keep admin pages out of caches (the security headers come from :mod:`callflow.http_headers`)."""
    if request.endpoint != "admin.static":
        response.headers["Cache-Control"] = "no-store"
    return response


from . import auth as _auth  # noqa: E402,F401  (routes: login, logout)
from . import views as _views  # noqa: E402,F401  (routes: pages and JSON API)
