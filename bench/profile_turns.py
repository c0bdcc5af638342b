"""Where a call's server time goes: whole calls in-process under cProfile.

Not a test: ``.venv/bin/python bench/profile_turns.py [--database sqlite|postgresql]``.
Creates the app as ``bench/throughput.py`` serves it (embedded default, signatures off,
sample KB), places ``--calls`` calls through Flask's test client with the same script as
``bench/loadgen.py`` (no HTTP, no gunicorn, one thread), prints the mean server time per
turn kind, then profiles a further ``--calls`` calls and prints the functions with the most
cumulative and own time.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import logging
import pstats
import statistics
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import SCRIPT  # noqa: E402


def make_app(database_url: str, tmp: Path):
    from callflow import create_app
    from callflow.extensions import db
    from callflow.kb import SAMPLE_KB_PATH, read_articles_file, upsert_articles

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "TWILIO_AUTH_TOKEN": None,
            "TWILIO_VALIDATE_SIGNATURES": False,
            "PUBLIC_BASE_URL": None,
            "OPENAI_API_KEY": None,
            "OPENAI_BASE_URL": None,
            "KAYAKO_URL": None,
            "TTS_CACHE_DIR": str(tmp / "tts"),
            "LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        db.create_all()
        upsert_articles(read_articles_file(SAMPLE_KB_PATH))
        db.session.commit()
    return app


def _median_ms(fn, repeat: int = 200) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def components(app) -> list[tuple[str, float]]:
    """Median wall ms of pieces every turn (or many turns) pays, timed alone, without the profiler."""
    from sqlalchemy import select

    from callflow import call_store
    from callflow.extensions import db
    from callflow.flow import CallFlow
    from callflow.models import Call
    from callflow.twiml import format_hints
    from callflow.voice import EMAIL_HINTS, YES_NO_HINTS

    out = []
    with app.app_context():
        index = app.extensions["kb"].index()
        out.append(("format_hints(KB hints, 100 phrases) - 'answer' turns", _median_ms(lambda: format_hints(index.hints(100)))))
        out.append(("  of which KbIndex.hints(100)", _median_ms(lambda: index.hints(100))))
        out.append(("format_hints(email / yes-no hints)", _median_ms(lambda: (format_hints(EMAIL_HINTS), format_hints(YES_NO_HINTS)))))
        sid = db.session.scalar(select(Call.call_sid).order_by(Call.id.desc()).limit(1))
        db.session.rollback()

        def load_only():
            with db.engine.begin() as conn:
                return call_store.load(conn, sid)

        record = load_only()
        out.append(("CallFlow(model=call) - a new machine (not done per turn)", _median_ms(lambda: CallFlow(model=record))))
        out.append(("call_store.load in its own transaction", _median_ms(load_only, 100)))

        def touch_commit():
            with db.engine.begin() as conn:
                rec = call_store.load(conn, sid)
                rec.retry_count = (rec.retry_count or 0) + 1
                call_store.save(conn, rec)

        t_touch = _median_ms(touch_commit, 100)
        out.append(("  + versioned UPDATE + COMMIT", max(0.0, t_touch - out[-1][1])))
    return out


def place_call(client, times: dict) -> None:
    sid = "CA" + uuid.uuid4().hex
    base = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+14155550100", "To": "+15005550001",
            "Direction": "inbound", "ApiVersion": "2010-04-01"}

    def post(path, form, kind):
        t, c = time.perf_counter(), time.thread_time()
        response = client.post(path, data=form)
        times[kind].append(((time.perf_counter() - t) * 1000, (time.thread_time() - c) * 1000))
        return response

    root = ET.fromstring(post("/voice/incoming", {**base, "CallStatus": "ringing"}, "incoming").data)
    for kind, line in SCRIPT:
        gather = root.find("Gather")
        if gather is None:
            break
        root = ET.fromstring(post(gather.get("action"), {**base, "CallStatus": "in-progress", "SpeechResult": line, "Confidence": "0.91"}, kind).data)
    post("/voice/status", {**base, "CallStatus": "completed", "CallDuration": "42"}, "status")


def bucket(filename: str, func: str) -> str:
    """Coarse owner of a profiled function: a package, a callflow module, or a C method."""
    if filename == "~":
        for name in ("sqlite3", "psycopg", "_ssl", "select", "socket", "time.sleep", "lock"):
            if name in func:
                return f"C: {name}"
        return "C: builtins"
    if "site-packages/" in filename:
        rest = filename.split("site-packages/", 1)[1]
        return rest.split("/", 1)[0].replace(".py", "")
    if "/callflow/" in filename:
        return "callflow/" + filename.split("/callflow/", 1)[1]
    if "/lib/python3" in filename:
        return "stdlib/" + filename.rsplit("/", 1)[1]
    return filename.rsplit("/", 1)[-1]


def print_buckets(profiler: cProfile.Profile, top: int = 20) -> None:
    """Own (exclusive) time summed per package / module: where the CPU goes."""
    stats = pstats.Stats(profiler)
    totals: dict[str, float] = defaultdict(float)
    for (filename, _line, func), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        totals[bucket(filename, func)] += tt
    grand = sum(totals.values()) or 1.0
    print(f"\n--- own time by package / module (profiler on; {grand:.2f} s in all) ---")
    for name, t in sorted(totals.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {name:<40} {t:7.3f} s {100 * t / grand:5.1f}%")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--no-profile", action="store_true", help="only the per-turn times and pieces")
    ap.add_argument("--sqlite-synchronous", choices=("OFF", "NORMAL", "FULL"), default=None,
                    help="what-if: add PRAGMA synchronous=... to SQLite connections (the app sets NORMAL)")
    args = ap.parse_args()
    pg = None
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        if args.database == "postgresql":
            from tests.pgserver import TempPostgres

            pg = TempPostgres().start()
            url = pg.create_database()
        else:
            url = f"sqlite:///{tmp / 'profile.sqlite3'}"
        try:
            app = make_app(url, tmp)
            if args.database == "sqlite" and args.sqlite_synchronous:
                from sqlalchemy import event

                from callflow.extensions import db as _db

                def _sync(dbapi_connection, _record, level=args.sqlite_synchronous):
                    cursor = dbapi_connection.cursor()
                    cursor.execute(f"PRAGMA synchronous={level}")
                    cursor.close()

                with app.app_context():
                    event.listen(_db.engine, "connect", _sync)
                    _db.engine.dispose()  # new connections get the pragma
                print(f"(what-if: PRAGMA synchronous={args.sqlite_synchronous} on every SQLite connection)")
            logging.disable(logging.WARNING)
            client = app.test_client()
            warm: dict = defaultdict(list)
            place_call(client, warm)  # first call builds the KB index etc.
            from sqlalchemy import event

            from callflow.extensions import db as _db

            statements: list[str] = []

            def _count(conn, cursor, statement, *rest):
                statements.append(statement.split(None, 1)[0].upper())

            with app.app_context():
                engine = _db.engine
            event.listen(engine, "before_cursor_execute", _count)
            place_call(client, defaultdict(list))
            event.remove(engine, "before_cursor_execute", _count)
            kinds = Counter(statements)
            print(f"SQL statements in one call of {len(SCRIPT) + 2} turns: {len(statements)} "
                  f"({', '.join(f'{k} {v}' for k, v in kinds.most_common())}) + one COMMIT per turn")
            times: dict = defaultdict(list)
            for _ in range(args.calls):
                place_call(client, times)
            print(f"{args.database}: in-process time per turn (ms, median of {args.calls} calls, one thread, no HTTP)")
            print(f"  {'turn':<14} {'wall':>8} {'cpu':>8}")
            total_wall = total_cpu = 0.0
            for kind in ["incoming", *(k for k, _ in SCRIPT), "status"]:
                if times[kind]:
                    wall = statistics.median(w for w, _ in times[kind])
                    cpu = statistics.median(c for _, c in times[kind])
                    total_wall += wall
                    total_cpu += cpu
                    print(f"  {kind:<14} {wall:8.2f} {cpu:8.2f}")
            print(f"  {'whole call':<14} {total_wall:8.2f} {total_cpu:8.2f}")
            print(f"  -> one core serves at most ~{1000 * (len(SCRIPT) + 2) / max(total_cpu, 1e-9):.0f} turns/s of this CPU time")
            print("\nper-turn pieces, timed alone (median wall ms; cProfile not running):")
            for name, ms in components(app):
                print(f"  {name:<58} {ms:7.2f}")
            if args.no_profile:
                return 0
            profiler = cProfile.Profile()
            prof_times: dict = defaultdict(list)
            profiler.enable()
            for _ in range(args.calls):
                place_call(client, prof_times)
            profiler.disable()
            print_buckets(profiler)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(r"/callflow/", args.top)
            text = out.getvalue()
            print(f"\n--- callflow's own functions by cumulative time ({args.calls} calls, profiler on) ---")
            print(text[text.find("   ncalls"):].rstrip())
            for key in ("tottime",):
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out)
                stats.sort_stats(key).print_stats(args.top)
                text = out.getvalue()
                print(f"\n--- top {args.top} by {key} ({args.calls} calls) ---")
                print(text[text.find("   ncalls"):].rstrip())
            from callflow.extensions import db

            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        finally:
            if pg is not None:
                pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
