"""``flask simulate --script`` against the real app over HTTP (signed, as Twilio would call)."""
from __future__ import annotations

import json
import threading
from pathlib import Path

from werkzeug.serving import make_server

from callflow.extensions import db
from callflow.kb import SAMPLE_KB_PATH

from .conftest import base_config, make_app
from .fakes.kayako_server import FakeKayako
from .fakes.openai_server import FakeOpenAI

SCRIPT = Path(__file__).parent / "data" / "calls" / "password_reset.txt"


def serve(app):
    """Serve ``app`` on a free loopback port in a thread; returns (server, base URL)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def live(app_config_update, tmp_path, database_url):
    config = base_config(tmp_path, database_url)
    config.update(app_config_update)
    app = make_app(config)
    server, url = serve(app)
    app.config["PUBLIC_BASE_URL"] = url  # Twilio would call the public URL; sign over it
    if "speech" in app.extensions and hasattr(app.extensions["speech"], "public_base_url"):
        app.extensions["speech"].public_base_url = url
    return app, server, url


def test_simulated_password_reset_call_ends_with_a_resolved_ticket(tmp_path, database_url):
    app, server, url = live({}, tmp_path, database_url)
    try:
        result = app.test_cli_runner().invoke(args=["simulate", "--url", url, "--script", str(SCRIPT)])
    finally:
        server.shutdown()
    assert result.exit_code == 0, result.output
    assert "Thank you for calling Kayako Support" in result.output
    assert "Resetting a forgotten password" in result.output  # the answer named the article
    assert "ai-call, ai-resolved" in result.output and "jane.doe@example.com" in result.output
    assert "(in full: flask --app wsgi tickets show 1)" in result.output  # the next README step, with its id
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_simulated_call_with_corrections_and_a_callback_request(tmp_path, database_url):
    """The README's second example script: silence, an email corrected at the read-back, keypad 1, a
    one-word question, a next question straight after "yes", then a request for a person."""
    app, server, url = live({}, tmp_path, database_url)
    try:
        result = app.test_cli_runner().invoke(
            args=["simulate", "--url", url, "--script", str(SCRIPT.with_name("corrections_and_callback.txt"))])
    finally:
        server.shutdown()
    assert result.exit_code == 0, result.output
    # the server runs in this process: keep the simulator's lines, not the server's log lines
    out = "\n".join(line for line in result.output.splitlines() if not line.startswith("{"))
    assert "caller> (silence)\nagent> Sorry, I didn't catch that." in out
    assert "agent> I heard S, A, M, at, hotmail dot com. Is that correct?\ncaller> [keys] 1" in out
    assert "caller> password\nagent> Could you tell me a little more about that?" in out
    assert "agent> Great.\nagent> From our article \"Exporting cases and reports\"" in out
    assert "agent> Of course. I'll pass this on to our expert team" in out
    assert "sam@hotmail.com" in out and "ai-call, needs-human" in out and "priority:  urgent" in out
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_simulate_reading_another_database_says_so_in_one_line(tmp_path, database_url):
    """The simulator reads the ticket from its own DATABASE_URL; a tester whose second terminal has another
    one (here: an empty SQLite file) gets a one-line reason and exit 1, not SQLAlchemy's SQL dump."""
    app, server, url = live({}, tmp_path, database_url)
    other = tmp_path / "other"
    other.mkdir()
    config = base_config(other)
    config.update(PUBLIC_BASE_URL=url)
    from callflow import create_app

    simulating = create_app(config)  # no tables: a database nobody migrated
    try:
        result = simulating.test_cli_runner().invoke(args=["simulate", "--url", url, "--script", str(SCRIPT)])
    finally:
        server.shutdown()
    assert result.exit_code == 1, result.output
    assert "Resetting a forgotten password" in result.output  # the call itself went through
    assert f"could not read the ticket from sqlite:///{other / 'test.sqlite3'}" in result.output
    assert "no such table" in result.output and "[SQL:" not in result.output
    assert "run it with the server's" in result.output
    for each in (app, simulating):
        with each.app_context():
            db.session.remove()
            db.engine.dispose()


def test_simulated_call_with_fakes_ends_with_a_kayako_case(tmp_path, database_url):
    with FakeKayako(articles=json.loads(SAMPLE_KB_PATH.read_text())) as kayako, FakeOpenAI(api_key="sk-test") as openai_fake:
        app, server, url = live(
            dict(
                KAYAKO_URL=kayako.url,
                KAYAKO_EMAIL=kayako.email,
                KAYAKO_PASSWORD=kayako.password,
                OPENAI_API_KEY="sk-test",
                OPENAI_BASE_URL=openai_fake.base_url,
            ),
            tmp_path,
            database_url,
        )
        try:
            runner = app.test_cli_runner()
            assert runner.invoke(args=["kb", "sync"]).exit_code == 0
            result = runner.invoke(args=["simulate", "--url", url, "--script", str(SCRIPT)])
            assert result.exit_code == 0, result.output
            assert "[audio]" in result.output  # prompts were played from cached TTS
            worker = runner.invoke(args=["tickets", "worker", "--once"])
            assert worker.exit_code == 0, worker.output
        finally:
            server.shutdown()
        assert len(kayako.cases) == 1
        case = next(iter(kayako.cases.values()))
        requester = kayako.users[case["requester_id"]]
        assert requester["full_name"] == "Jane Doe"
        assert kayako.user_by_email("jane.doe@example.com")["id"] == requester["id"]
        assert "ai-resolved" in str(case["tags"]) and case["priority_id"] == 12  # Normal
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
