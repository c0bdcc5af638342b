"""callflow: a phone line for Kayako helpdesks that answers support calls by itself."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Optional

from flask import Flask, jsonify
from sqlalchemy import text

from .extensions import db, migrate

log = logging.getLogger(__name__)


def serving_requests() -> bool:
    """True unless the app is being loaded for a Flask CLI command other than ``run``."""
    import click

    ctx = click.get_current_context(silent=True)
    return ctx is None or ctx.info_name == "run"


def create_app(test_config: Optional[Mapping[str, Any]] = None) -> Flask:
    """Create and configure the app; ``test_config`` overrides settings from :mod:`config`."""
    app = Flask(__name__, instance_relative_config=True, template_folder="../templates")
    from config import Config

    app.config.from_object(Config)
    if test_config:
        app.config.update(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    from .logging_setup import configure_logging

    configure_logging(app)

    if app.config.get("PROXY_FIX"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        cfg = app.config
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=int(cfg.get("PROXY_FIX_X_FOR", 1)),
            x_proto=int(cfg.get("PROXY_FIX_X_PROTO", 1)),
            x_host=int(cfg.get("PROXY_FIX_X_HOST", 1)),
            x_prefix=int(cfg.get("PROXY_FIX_X_PREFIX", 1)),
            x_port=int(cfg.get("PROXY_FIX_X_PORT", 1)),
        )

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        from .extensions import postgresql_engine_options

        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = postgresql_engine_options(
            app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}, app.config, serving=serving_requests()
        )
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            from sqlalchemy import event

            from .extensions import sqlite_pragmas

            event.listen(db.engine, "connect", sqlite_pragmas)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))

    from .http_headers import init_security_headers
    from .request_body import init_body_limit

    init_security_headers(app)
    init_body_limit(app)

    from .services import init_services

    init_services(app)

    from . import outbox, tts, voice

    app.register_blueprint(voice.bp)
    app.register_blueprint(tts.bp)

    from .admin import init_admin

    init_admin(app)
    app.extensions["ticket_lookup"] = outbox.ticket_for_call

    from .cli import register_cli

    register_cli(app)

    @app.get("/healthz")
    def healthz():
        """Liveness and database check: 200 ``{"status": "ok"}`` or 503."""
        try:
            db.session.execute(text("SELECT 1"))
        except Exception:
            db.session.rollback()
            return jsonify(status="error", database="unavailable"), 503
        return jsonify(status="ok", database="ok")

    if not app.config.get("TWILIO_AUTH_TOKEN") and not app.config.get("TESTING") and serving_requests():
        from .security import NO_TOKEN_MESSAGE, signatures_required

        if signatures_required(app.config):
            log.error(
                "%s: every /voice webhook will be refused with 403. Set TWILIO_AUTH_TOKEN, or "
                "TWILIO_VALIDATE_SIGNATURES=false for local development only.",
                NO_TOKEN_MESSAGE,
            )
        else:
            log.warning(
                "TWILIO_AUTH_TOKEN is not set: Twilio signature validation is OFF (development mode). "
                "Anyone who can reach /voice can drive calls. Set it in production."
            )
    return app
