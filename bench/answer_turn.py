"""Benchmark the answer turn with OpenAI on (fake OpenAI at realistic latencies).

Not a test: run ``python bench/answer_turn.py`` (or ``make bench``). The fake OpenAI
answers chat completions in 700 ms and speech in 300 ms to first byte / 1.5 s in all.
For each configuration it drives calls over real HTTP to a threaded server on loopback
and times the answer turn (the Gather POST carrying the question):

* server time — the Gather POST's round trip;
* audio served — from the Gather POST until every ``<Play>`` mp3 of the answer has been
  downloaded (what Twilio must do before the caller hears it);
* own share — server time minus the time spent waiting on OpenAI (the union of the
  upstream calls' intervals inside the request). Target: under 50 ms.

Configurations: ``before`` (no answer cache, prompts synthesized one after another, fixed
prompts not warmed) and ``after`` (fixed prompts warmed by ``tts warm``, all of a reply's
prompts synthesized in parallel, drafted answers cached); each for a new question (cold)
and a repeated one. Medians over ``--calls`` calls.

``--database postgresql`` runs the same on a throwaway PostgreSQL server
(``tests/pgserver.py``: initdb in a temp directory, loopback port, removed afterwards), one
fresh database per configuration; the default is a SQLite file per configuration.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import requests
import logging

from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callflow import create_app  # noqa: E402
from callflow.extensions import db  # noqa: E402
from callflow.kb import SAMPLE_KB_PATH, read_articles_file, upsert_articles  # noqa: E402
from callflow.prompts import FIXED_PROMPTS  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI, default_chat_responder  # noqa: E402

QUESTIONS = [
    "I forgot my password and can't log in, how do I reset it",
    "how do I turn on two factor authentication",
    "how can I download my invoices",
    "how do I add a new agent to my team",
    "can I export all my tickets to a spreadsheet",
    "how do I merge two tickets together",
    "how do I set up a macro for common replies",
    "how do I connect my support mailbox",
    "how do I cancel my subscription",
]


class Upstream:
    """Records the intervals (monotonic seconds) of calls to OpenAI made by the server."""

    def __init__(self):
        self.intervals: list[tuple[float, float]] = []
        self.lock = threading.Lock()

    def wrap(self, obj, name):
        inner = getattr(obj, name)

        def timed(*args, **kwargs):
            start = time.monotonic()
            try:
                return inner(*args, **kwargs)
            finally:
                with self.lock:
                    self.intervals.append((start, time.monotonic()))

        setattr(obj, name, timed)

    def waited(self, start: float, end: float) -> float:
        """Seconds of [start, end] covered by at least one upstream call."""
        with self.lock:
            spans = sorted((max(a, start), min(b, end)) for a, b in self.intervals if b > start and a < end)
        total, cur_a, cur_b = 0.0, None, None
        for a, b in spans:
            if cur_b is None or a > cur_b:
                if cur_b is not None:
                    total += cur_b - cur_a
                cur_a, cur_b = a, b
            else:
                cur_b = max(cur_b, b)
        if cur_b is not None:
            total += cur_b - cur_a
        return total


def serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, f"http://127.0.0.1:{server.server_port}"


def build(fake: FakeOpenAI, mode: str, tmp: Path, database_url: str | None = None):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{tmp / (mode + '.sqlite3')}",
            "TWILIO_AUTH_TOKEN": None,
            "TWILIO_VALIDATE_SIGNATURES": False,  # signatures are mandatory unless switched off
            "PUBLIC_BASE_URL": "http://127.0.0.1:1",  # replaced once the port is known
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": fake.base_url,
            "KAYAKO_URL": None,
            "TTS_CACHE_DIR": str(tmp / f"tts-{mode}"),
        }
    )
    with app.app_context():
        db.create_all()
        upsert_articles(read_articles_file(SAMPLE_KB_PATH))
        db.session.commit()
    server, url = serve(app)
    speech = app.extensions["speech"]
    speech.public_base_url = url
    app.config["PUBLIC_BASE_URL"] = url
    upstream = Upstream()
    drafter = app.extensions["drafter"]
    inner = getattr(drafter, "inner", drafter)
    upstream.wrap(inner, "draft")
    upstream.wrap(speech, "_synthesize")
    if mode == "before":
        app.extensions["drafter"] = inner  # no answer cache
        speech.synthesize_async = None  # no parallel prefetch
    else:
        speech.warm(FIXED_PROMPTS)
    return app, server, url, upstream


def place_call(url: str) -> tuple[str, str]:
    sid = "CA" + uuid.uuid4().hex
    session = requests.Session()
    form = {"CallSid": sid, "From": "+14155550100", "To": "+15005550001", "CallStatus": "in-progress"}
    root = ET.fromstring(session.post(url + "/voice/incoming", data=form).content)
    for line in ("Jane Doe", "jane at example dot com", "yes"):
        action = root.find("Gather").get("action")
        root = ET.fromstring(session.post(_abs(url, action), data={**form, "SpeechResult": line}).content)
    return sid, root.find("Gather").get("action")


def _abs(url: str, action: str) -> str:
    return action if action.startswith("http") else url + action


def answer_turn(url: str, question: str, upstream: Upstream) -> dict[str, float]:
    sid, action = place_call(url)
    form = {"CallSid": sid, "From": "+14155550100", "To": "+15005550001", "SpeechResult": question}
    start = time.monotonic()
    response = requests.post(_abs(url, action), data=form)
    server_done = time.monotonic()
    root = ET.fromstring(response.content)
    plays = [el.text for el in root.iter("Play")]
    says = [el.text for el in root.iter("Say")]
    for play in plays:
        audio = requests.get(play)
        assert audio.status_code == 200 and audio.headers["Content-Type"] == "audio/mpeg"
    served = time.monotonic()
    waited = upstream.waited(start, server_done)
    return {
        "server_ms": (server_done - start) * 1000,
        "served_ms": (served - start) * 1000,
        "own_ms": max(0.0, (server_done - start - waited) * 1000),
        "plays": len(plays),
        "says": len(says),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=7)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                        help="SQLite files (default) or a throwaway PostgreSQL server (tests/pgserver.py)")
    args = parser.parse_args()
    pg = None
    if args.database == "postgresql":
        from tests.pgserver import TempPostgres

        pg = TempPostgres().start()
    try:
        run(args, pg)
    finally:
        if pg is not None:
            pg.stop()


def run(args, pg) -> None:
    logging.disable(logging.WARNING)
    fake = FakeOpenAI(api_key="sk-bench")
    fake.start()
    fake.chat_latency, fake.tts_ttfb, fake.tts_total = 0.7, 0.3, 1.5
    nonce = {"value": ""}

    def responder(request_json):
        reply = default_chat_responder(request_json)
        if isinstance(reply, dict) and reply.get("grounded"):
            reply = dict(reply, answer=reply["answer"] + nonce["value"])
        return reply

    fake.chat_responder = responder
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("before", "after"):
            database_url = pg.create_database(f"answer_turn_{mode}") if pg is not None else None
            app, server, url, upstream = build(fake, mode, Path(tmp), database_url)
            for scenario in ("new question", "repeated question"):
                results = []
                for i in range(args.calls):
                    if scenario == "new question":
                        nonce["value"] = f" Reference {uuid.uuid4().hex[:6]}."
                        question = QUESTIONS[i % len(QUESTIONS)] + f" please {uuid.uuid4().hex[:4]}"
                    else:
                        nonce["value"] = " Reference fixed."
                        question = QUESTIONS[0]
                        if i == 0:
                            answer_turn(url, question, upstream)  # prime the caches
                    results.append(answer_turn(url, question, upstream))
                med = {k: statistics.median(r[k] for r in results) for k in ("server_ms", "served_ms", "own_ms")}
                rows.append((mode, scenario, med, results[-1]["plays"], results[-1]["says"]))
            server.shutdown()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    fake.stop()
    print(f"answer turn on {args.database}, fake OpenAI chat {fake.chat_latency * 1000:.0f} ms, TTS {fake.tts_ttfb * 1000:.0f} ms to first byte / {fake.tts_total * 1000:.0f} ms; medians of {args.calls} calls")
    print(f"{'config':<8} {'question':<18} {'server ms':>10} {'audio served ms':>16} {'own share ms':>13} {'<Play>':>7} {'<Say>':>6}")
    for mode, scenario, med, plays, says in rows:
        print(f"{mode:<8} {scenario:<18} {med['server_ms']:>10.0f} {med['served_ms']:>16.0f} {med['own_ms']:>13.1f} {plays:>7} {says:>6}")


if __name__ == "__main__":
    main()
