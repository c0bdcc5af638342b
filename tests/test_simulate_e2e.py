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
    with app.app_context():
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
