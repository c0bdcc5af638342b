"""The Alembic migrations build the schema the models describe (no drift)."""
from __future__ import annotations

import flask_migrate
import pytest
from sqlalchemy import inspect

from callflow import create_app
from callflow.extensions import db

from .conftest import base_config


def test_upgrade_then_check_shows_no_drift(tmp_path, database_url):
    app = create_app(base_config(tmp_path, database_url))
    with app.app_context():
        flask_migrate.upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"call", "turn", "kb_article", "ticket_outbox", "ticket_attempt", "admin_user"} <= tables
        flask_migrate.check()  # raises SystemExit if the models drifted from migrations/


def test_check_fails_when_models_drift(tmp_path):
    app = create_app(base_config(tmp_path))
    with app.app_context():
        flask_migrate.upgrade()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE call DROP COLUMN sentiment")
        with pytest.raises(SystemExit):
            flask_migrate.check()


def test_downgrade_to_base_removes_tables(tmp_path, database_url):
    app = create_app(base_config(tmp_path, database_url))
    with app.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision="base")
        assert "call" not in inspect(db.engine).get_table_names()
