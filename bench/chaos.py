"""Chaos load run: concurrent calls while the tickets worker is SIGKILLed and Kayako goes down.

Not a test (it takes a minute and uses real processes); run ``python bench/chaos.py``.
It serves callflow on loopback (threaded), places ``--calls`` full calls from
``--concurrency`` threads, and meanwhile runs ``flask tickets worker`` processes against a
fake Kayako, killing one with SIGKILL every few seconds and taking Kayako down (connection
refused, then a 503 page) and up again. When the calls are over, Kayako stays up and a last
worker drains the queue. It then checks and prints: every call has exactly one ticket,
every ticket is delivered, Kayako holds exactly one case per call (no duplicate CallSid
marker), and exits non-zero otherwise.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callflow import create_app  # noqa: E402
from callflow.extensions import db  # noqa: E402
from callflow.kb import SAMPLE_KB_PATH, read_articles_file, upsert_articles  # noqa: E402
from callflow.models import TicketOutbox  # noqa: E402
from tests.fakes.kayako_server import FakeKayako  # noqa: E402

SCRIPTS = [
    ["Jane Doe", "jane dot doe at example dot com", "yes", "how do I reset my password", "yes", "no thanks"],
    ["Bob", "bob at example dot com", "yes", "I want to speak to a person"],
    ["Ann", "ann at example dot com", "yes", "my dog ate my homework", ],
    ["Sam", "sam at example dot com", "yes", "how do I export my tickets", "no it did not"],
    ["Al", "al at example dot com"],  # hangs up mid-call
]


def place_call(url: str, index: int) -> str:
    sid = "CA" + uuid.uuid4().hex
    form = {"CallSid": sid, "From": f"+1415555{index:04d}", "To": "+15005550001", "CallStatus": "ringing"}
    session = requests.Session()
    root = ET.fromstring(session.post(url + "/voice/incoming", data=form, timeout=20).content)
    for line in SCRIPTS[index % len(SCRIPTS)]:
        gather = root.find("Gather")
        if gather is None:
            break
        action = gather.get("action")
        action = action if action.startswith("http") else url + action
        root = ET.fromstring(session.post(action, data={**form, "CallStatus": "in-progress", "SpeechResult": line}, timeout=20).content)
    session.post(url + "/voice/status", data={**form, "CallStatus": "completed", "CallDuration": "30"}, timeout=20)
    return sid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=150)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--kill-every", type=float, default=2.0, help="seconds between worker SIGKILLs")
    args = parser.parse_args()
    random.seed(7)
    tmp = Path(tempfile.mkdtemp(prefix="callflow-chaos-"))
    db_url = f"sqlite:///{tmp / 'chaos.sqlite3'}"
    kayako = FakeKayako(articles=json.loads(SAMPLE_KB_PATH.read_text())).start()
    kayako.delay(0.3, "/api/v1/cases", method="POST")  # widen the window in which a kill is ambiguous
    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "TWILIO_AUTH_TOKEN": None, "TWILIO_VALIDATE_SIGNATURES": False,
                      "KAYAKO_URL": None, "OPENAI_API_KEY": None, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        db.create_all()
        upsert_articles(read_articles_file(SAMPLE_KB_PATH))
        db.session.commit()
    # werkzeug's server logs every request at INFO unless its logger says otherwise.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    env = dict(os.environ, DATABASE_URL=db_url, KAYAKO_URL=kayako.url, KAYAKO_EMAIL=kayako.email,
               KAYAKO_PASSWORD=kayako.password, TICKET_CLAIM_TTL_S="2", TICKET_RETRY_BASE_S="0.5",
               TICKET_RETRY_MAX_S="2", TICKET_WORKER_POLL_S="0.3", LOG_LEVEL="ERROR", OPENAI_API_KEY="")

    def spawn_worker() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "tickets", "worker"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    done = threading.Event()
    events = Counter()

    def chaos() -> None:
        workers = [spawn_worker(), spawn_worker()]
        while not done.is_set():
            time.sleep(args.kill_every)
            victim = random.randrange(len(workers))
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
            events["worker killed"] += 1
            workers[victim] = spawn_worker()
            roll = random.random()
            if roll < 0.2:
                kayako.down("refuse")
                events["kayako down (refused)"] += 1
            elif roll < 0.35:
                kayako.down("503")
                events["kayako down (503)"] += 1
            else:
                kayako.up()
        for worker in workers:
            worker.send_signal(signal.SIGKILL)
            worker.wait()

    chaos_thread = threading.Thread(target=chaos)
    started = time.monotonic()
    chaos_thread.start()
    with ThreadPoolExecutor(args.concurrency) as pool:
        sids = list(pool.map(lambda i: place_call(url, i), range(args.calls)))
    calls_s = time.monotonic() - started
    done.set()
    chaos_thread.join()
    kayako.up()
    kayako.clear_faults()
    # drain: the last worker also sweeps calls whose claims the killed workers left behind
    deadline = time.monotonic() + 120
    with app.app_context():
        while time.monotonic() < deadline:
            pending = db.session.scalar(db.select(db.func.count(TicketOutbox.id)).where(TicketOutbox.status != "delivered"))
            if not pending:
                break
            subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "tickets", "worker", "--once"], cwd=ROOT,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
            time.sleep(1)
            db.session.remove()
        tickets = db.session.scalars(db.select(TicketOutbox)).all()
        by_call = Counter(t.payload["call_sid"] for t in tickets)
        statuses = Counter(t.status for t in tickets)
    markers = Counter(case.get("legacy_id") for case in kayako.cases.values())
    server.shutdown()
    kayako.stop()
    lost = [s for s in sids if by_call[s] != 1]
    duplicates = {m: n for m, n in markers.items() if n > 1}
    missing_cases = len(sids) - len(markers)
    print(f"chaos run: {args.calls} calls from {args.concurrency} threads in {calls_s:.1f} s; "
          + ", ".join(f"{k}: {v}" for k, v in sorted(events.items())))
    print(f"tickets: {len(tickets)} for {len(sids)} calls; statuses {dict(statuses)}")
    print(f"kayako cases: {len(kayako.cases)}; calls without exactly one ticket: {len(lost)}; "
          f"duplicate cases: {len(duplicates)}; calls without a case: {missing_cases}")
    ok = not lost and not duplicates and missing_cases == 0 and statuses.get("delivered", 0) == len(sids)
    print("RESULT: " + ("no ticket lost, none duplicated" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
