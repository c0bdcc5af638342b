"""The per-process KB index: built once, rebuilt in the background when articles change."""
from __future__ import annotations

import logging
import random
import time

from flask import Flask
from sqlalchemy import func, select

from callflow.extensions import db
from callflow.kb import KbLoadError, normalize_article, upsert_articles, warm_index
from callflow.models import KbArticle

import pytest

from .conftest import base_config

NEW = {"id": "n1", "title": "Configuring the quantum flux capacitor", "html": "<p>Open <b>Flux</b> settings.</p>", "tags": ["flux"], "status": "PUBLISHED"}


def test_change_is_picked_up_without_blocking_the_turn(app):
    with app.app_context():
        service = app.extensions["kb"]
        service.REFRESH_S = 0
        first = service.index()
        assert "n1" not in {h.id for h in first.search("quantum flux capacitor")}
        upsert_articles([NEW])
        db.session.commit()
        again = service.index()
        assert again is first  # the old index still answers while the new one builds
        if service._rebuilding is not None:
            service._rebuilding.join(timeout=30)
        fresh = service.index()
        assert fresh is not first
        assert fresh.search("quantum flux capacitor")[0].id == "n1"


def test_drafts_are_never_indexed(app):
    with app.app_context():
        upsert_articles([dict(NEW, id="d1", status="DRAFT")])
        db.session.commit()
        app.extensions["kb"].invalidate()
        assert all(h.id != "d1" for h in app.extensions["kb"].index().search("quantum flux capacitor"))


def test_upsert_reports_added_updated_removed_and_skipped(app):
    with app.app_context():
        report = upsert_articles([NEW, {"id": "", "title": "no id"}, NEW])
        assert report.added == ["n1"] and len(report.skipped) == 1
        db.session.commit()
        report = upsert_articles([dict(NEW, title="Renamed")], remove_missing=True)
        db.session.commit()
        assert report.updated == ["n1"] and "n1" not in report.removed and len(report.removed) > 10


@pytest.mark.parametrize("raw", [None, 5, {"title": "x"}, {"id": "1"}, {"id": "1", "title": ""}])
def test_bad_article_records_are_rejected(raw):
    with pytest.raises(KbLoadError):
        normalize_article(raw)


@pytest.mark.parametrize("field", ["html", "contents", "content", "body", "text"])
def test_article_body_field_names(field):
    record = normalize_article({"id": 7, "title": "T", field: "<p>Step <b>one</b>.</p>"})
    assert record["text"].startswith("Step one") and record["external_id"] == "7"


def test_kb_load_replaces_the_sample_unless_merging(app, runner, tmp_path):
    import json

    from sqlalchemy import func, select

    from callflow.models import KbArticle

    own = tmp_path / "own.json"
    own.write_text(json.dumps([NEW]))
    result = runner.invoke(args=["kb", "load", str(own)])
    assert result.exit_code == 0 and "1 added" in result.output and "removed" in result.output
    with app.app_context():
        assert db.session.scalars(select(KbArticle.external_id)).all() == ["n1"]
    result = runner.invoke(args=["kb", "load", "--merge"])  # the bundled sample, kept alongside
    assert result.exit_code == 0
    with app.app_context():
        assert db.session.scalar(select(func.count(KbArticle.id))) > 20
        assert app.extensions["kb"].index().best("quantum flux capacitor").id == "n1"


def test_kb_load_if_empty_leaves_an_existing_kb_alone(app, runner):
    result = runner.invoke(args=["kb", "load", "--if-empty"])
    assert result.exit_code == 0 and "left as it is" in result.output


def test_warm_index_builds_the_index_before_any_turn(app):
    service = app.extensions["kb"]
    assert not service.is_built()
    assert warm_index(app) == _published(app) > 10
    assert service.is_built()
    with app.app_context():
        built = service.index()
        assert warm_index(app) == len(built) and service.index() is built  # already warm: same index
    assert service._hints is not None and service._hints[0] is built  # the answer state's hints too


def _published(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(KbArticle).where(KbArticle.status == "PUBLISHED"))


def _load_many_articles(app, count: int = 2500) -> None:
    """Enough synthetic articles for an index build of a good fraction of a second."""
    rng = random.Random(7)
    words = [f"{a}{b}{c}" for a in "bcdfglmnprst" for b in "aeiou" for c in "klmnrst"]
    with app.app_context():
        upsert_articles(
            [{"id": f"w{i}", "title": " ".join(rng.sample(words, 5)), "text": " ".join(rng.choices(words, k=150)),
              "tags": rng.sample(words, 2), "status": "PUBLISHED"} for i in range(count)]
        )
        db.session.commit()


def test_warm_index_keeps_the_heartbeat_going_during_a_long_build(app):
    """gunicorn kills a worker whose heartbeat is older than its timeout: a build that takes
    many heartbeat intervals must still beat every interval."""
    _load_many_articles(app)
    beats: list[float] = []
    started = time.monotonic()
    assert warm_index(app, heartbeat=lambda: beats.append(time.monotonic()), interval_s=0.02) == _published(app)
    ended = time.monotonic()
    assert ended - started > 0.2  # long enough to need several beats
    gaps = [b - a for a, b in zip([started, *beats], [*beats, ended])]
    # 80-140 ms measured here (the build holds the GIL for a while now and then); gunicorn's timeout is 12 s
    assert len(beats) >= 5 and max(gaps) < 2.0, (len(beats), max(gaps))


def test_warm_index_survives_an_unreachable_database(tmp_path, caplog):
    """The worker still boots; the first turn that needs the index builds it later."""
    from callflow import create_app

    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'no-such-dir' / 'callflow.sqlite3'}"))
    with caplog.at_level(logging.WARNING, logger="callflow.kb"):
        assert warm_index(app, heartbeat=lambda: None, interval_s=0.01) is None
    assert not app.extensions["kb"].is_built()
    assert "KB index not built at start (OperationalError)" in caplog.text


def test_warm_index_warns_when_the_kb_is_empty(tmp_path, caplog):
    """A new deployment (`flask db upgrade` on a fresh database) has no articles: say so at boot."""
    from .conftest import make_app

    app = make_app(base_config(tmp_path), load_kb=False)
    with caplog.at_level(logging.INFO, logger="callflow.kb"):
        assert warm_index(app) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "knowledge base is empty" in warnings[0] and "kb load" in warnings[0]


def test_warm_index_ignores_an_app_without_a_kb():
    assert warm_index(Flask("bare")) is None


def test_warm_index_stops_waiting_after_its_limit_and_the_build_finishes_behind(app, caplog):
    """A build that outlasts ``limit_s`` no longer holds the worker back; it completes in its thread."""
    _load_many_articles(app)
    service = app.extensions["kb"]
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="callflow.kb"):
        assert warm_index(app, heartbeat=lambda: None, interval_s=0.01, limit_s=0.05) is None
    assert time.monotonic() - started < 1.0  # the build alone takes over 1 s here
    assert "still building" in caplog.text
    with app.app_context():
        assert len(service.index()) == _published(app)  # blocks on the running build (the service lock)
    assert service.is_built()


def test_an_article_with_control_characters_is_stored_clean(app):
    """A NUL from Kayako (or a JSON file) would make PostgreSQL refuse the whole sync."""
    record = normalize_article(
        {"id": "nul\x00", "title": "Reset\x00 your password", "html": "<p>Open\x00 Settings\x07.</p>\n<p>Then save.</p>",
         "tags": ["pass\x00word", "\x00"], "section": "Acc\x1bount", "url": "https://help.example.com/a\x00"}
    )
    assert record["external_id"] == "nul" and record["title"] == "Reset your password"
    assert record["tags"] == ["password"] and record["section"] == "Account" and "\x00" not in record["url"]
    assert "\n" in record["html"] and "\x00" not in record["text"] and "\x07" not in record["text"]
    with app.app_context():
        upsert_articles([{"id": "nul\x00", "title": "Reset\x00 your password", "html": "<p>Open\x00 Settings.</p>"}])
        db.session.commit()
        stored = db.session.scalar(select(KbArticle).where(KbArticle.external_id == "nul"))
        assert stored is not None and stored.title == "Reset your password" and "\x00" not in stored.text
