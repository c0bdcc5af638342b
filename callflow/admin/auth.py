"""Admin sign-in: password checks, Flask-Login sessions, the login/logout views and their rate limit.

A session names the user as ``"<id>:<token>"``, the token being an HMAC of the stored
password hash: changing a password (``flask admin set-password``) or deactivating the
user ends every session of that user. Login attempts are counted by Flask-Limiter per
client IP + email and per client IP; the keys are hashed so the limiter's storage and its
log lines hold no email address.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from functools import lru_cache
from typing import Optional
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..clock import utcnow
from ..extensions import db
from ..models import AdminUser
from . import bp, login_manager, wants_json
from .forms import LoginForm, without_control_chars

log = logging.getLogger(__name__)


class AdminIdentity(UserMixin):
    """The signed-in admin as Flask-Login sees it (a detached copy of the row's public facts)."""

    def __init__(self, user: AdminUser):
        self.id = user.id
        self.email = user.email
        self._token = session_token(user)

    def get_id(self) -> str:
        """The id Flask-Login keeps in the session: ``"<user id>:<token>"`` (:func:`session_token`, read by
        :func:`load_user`)."""
        return f"{self.id}:{self._token}"


def session_token(user: AdminUser) -> str:
    """A short HMAC of the password hash: a new password invalidates old sessions."""
    key = str(current_app.config.get("SECRET_KEY") or "").encode()
    return hmac.new(key, user.password_hash.encode(), hashlib.sha256).hexdigest()[:20]


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding blanks."""
    return (email or "").strip().lower()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def authenticate(email: str, password: str) -> Optional[AdminUser]:
    """Return the active user with this email and password, else None (in about constant time)."""
    user = db.session.scalar(select(AdminUser).where(func.lower(AdminUser.email) == normalize_email(email)))
    if user is None:
        check_password_hash(_dummy_hash(), password)  # same work as a real check
        return None
    if not check_password_hash(user.password_hash, password) or not user.is_active:
        return None
    return user


@login_manager.user_loader
def load_user(user_id: str) -> Optional[AdminIdentity]:
    """Resolve a session's user id; None (signed out) if the user or password changed."""
    raw_id, _, token = (user_id or "").partition(":")
    if not raw_id.isdigit() or not token:
        return None
    user = db.session.get(AdminUser, int(raw_id))
    if user is None or not user.is_active or not hmac.compare_digest(token, session_token(user)):
        return None
    return AdminIdentity(user)


@login_manager.unauthorized_handler
def unauthorized():
    """JSON endpoints answer 401; pages redirect to the login page."""
    if wants_json():
        return jsonify(error="authentication required"), 401
    if request.method != "GET":  # after signing in, the browser would GET a POST-only action: a 405
        return redirect(url_for("admin.login"))
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("admin.login", next=target))


# -- rate limiting of failed logins ---------------------------------------------------------


def client_ip() -> str:
    """The client address (ProxyFix sets it from X-Forwarded-For when PROXY_FIX is on)."""
    return request.remote_addr or "unknown"


def _hashed(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:24]


def _ip_email_key() -> str:
    # The email as the form sees it (control characters removed): "a@b.co\x01" is the same account.
    email = normalize_email(without_control_chars(request.form.get("email", "")))
    return "ip-email:" + _hashed(f"{client_ip()}|{email}")


def _ip_key() -> str:
    return "ip:" + _hashed(client_ip())


def apply_login_limits(limiter, app: Flask) -> None:
    """Count every POST to the login view, before the password is checked; a client over a limit gets 429.

    Counting only failures (after the check) let a burst of parallel guesses through: every request checked the
    count before any failure was recorded (37-40 of 40 parallel wrong passwords were checked). An attempt is
    counted in one atomic increment of the limiter's storage, so no more than the limit are ever checked.

    The limits wrap this app's registered view (not the module function), so each app has
    its own limiter and limits. Call after the blueprint is registered.
    """
    view = app.view_functions["admin.login"]
    for limit, key_func in (
        (app.config["ADMIN_LOGIN_RATE_LIMIT"], _ip_email_key),
        (app.config["ADMIN_LOGIN_IP_RATE_LIMIT"], _ip_key),
    ):
        view = limiter.limit(limit, key_func=key_func, methods=["POST"])(view)
    app.view_functions["admin.login"] = view


def _safe_next(target: Optional[str]) -> str:
    """Only local admin paths are followed after login (no open redirect)."""
    default = url_for("admin.dashboard")
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/admin") or "\\" in target:
        return default
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):  # a line break cannot go in a Location header
        return default
    return target


# -- views ----------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form and sign an admin in."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            next_url = _safe_next(request.args.get("next"))
            session.clear()  # a fresh session: nothing carried over from before the login
            login_user(AdminIdentity(user))
            user.last_login_at = utcnow()
            db.session.commit()
            log.info("admin user %s signed in", user.id)
            return redirect(next_url)
        log.warning("admin sign-in failed")
        error = "Invalid email or password."
    elif request.method == "POST":
        status = 400
        error = "Enter your email and password."
    return render_template("admin/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    """Sign the admin out (POST with a CSRF token)."""
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("admin.login"))
