"""How much of the bare app's throughput is left once a turn reads and writes its call row.

Not a test: ``.venv/bin/python bench/db_floor.py`` (``make bench`` runs it after
``throughput.py``). Per database (a temp SQLite file, then a throwaway PostgreSQL from
``tests/pgserver.py``), three servers run under the same gunicorn settings as
``bench/throughput.py`` (``gunicorn.conf.py`` forced to ``--workers 2``):

* **bare**: ``bench/bare_app.py``, a fixed Gather TwiML (the throughput baseline);
* **floor**: ``bench/bare_db_app.py``, the same plus one ``SELECT`` and one versioned
  ``UPDATE`` (``INSERT`` on a call's first turn) of a call row with SQLAlchemy Core: the least
  a turn with persisted state can do;
* **callflow**: ``wsgi:app``, the embedded default, full calls.

``--rounds`` rounds of back-to-back saturation windows (``--concurrency`` callers, no think
time), the order rotating each round. It prints turns/s and server CPU per turn of each, and
per round the ratios floor / bare and callflow / bare, with their medians. The question it
answers: what share of the bare throughput a database round trip per turn already takes,
before any call-flow work (issue 5's target is callflow >= 0.5 x bare).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import throughput as tp  # noqa: E402

FLOOR_READY = "bare_db_app ready in pid"


def one_database(kind: str, url: str, bare: tp.Gunicorn, tmp: Path, db_pid, args) -> dict:
    env = tp.base_env(tmp)
    env["DATABASE_URL"] = url
    tp.prepare_database(env)
    floor_env = dict(tp.base_env(tmp), BARE_DB_URL=url)
    floor = tp.Gunicorn("bare_db_app:app", floor_env, tmp, f"floor-{kind}", FLOOR_READY,
                        extra=["--pythonpath", str(BENCH)])
    app = tp.Gunicorn("wsgi:app", env, tmp, f"callflow-{kind}", tp.CALLFLOW_READY)
    servers = {"bare": bare, "floor": floor, "callflow": app}
    with floor, app:
        meter = tp.Meter({"bare": bare.proc.pid, "floor": floor.proc.pid, "callflow": app.proc.pid, "db": db_pid})
        rounds = []
        names = list(servers)
        for r in range(args.rounds):
            order = names[r % 3:] + names[:r % 3]
            got = {}
            for name in order:
                res, cpu = tp.measured(
                    meter, name, base_url=servers[name].url, label=f"{name} r{r + 1}", concurrency=args.concurrency,
                    duration=args.window, warmup=args.warmup,
                    fixed_path=None if name == "callflow" else tp.BARE_PATH, max_calls=args.max_calls, seed=300 + r,
                )
                got[name] = {"turns_per_s": round(res.turns_per_s, 1), "errors": sum(res.errors.values()),
                             "server_cpu_ms_per_turn": cpu["server_cpu_ms_per_turn"],
                             "db_cpu_ms_per_turn": cpu["db_cpu_ms_per_turn"]}
            bare_tps = got["bare"]["turns_per_s"] or float("nan")
            row = {"round": r + 1, **got, "floor_ratio": round(got["floor"]["turns_per_s"] / bare_tps, 3),
                   "callflow_ratio": round(got["callflow"]["turns_per_s"] / bare_tps, 3)}
            rounds.append(row)
            print(f"  [{kind}] round {r + 1}: " + ", ".join(
                f"{n} {got[n]['turns_per_s']:6.1f} turns/s ({got[n]['server_cpu_ms_per_turn']:.2f} ms CPU"
                f"{' +db %.2f' % got[n]['db_cpu_ms_per_turn'] if db_pid else ''}, errors {got[n]['errors']})" for n in names)
                + f" | floor/bare {row['floor_ratio']:.2f}, callflow/bare {row['callflow_ratio']:.2f}", flush=True)
    return {
        "database": kind,
        "rounds": rounds,
        "floor_ratio_median": round(tp._median(r["floor_ratio"] for r in rounds), 3),
        "callflow_ratio_median": round(tp._median(r["callflow_ratio"] for r in rounds), 3),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--databases", default="sqlite,postgresql")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--window", type=float, default=8.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--max-calls", type=int, default=50_000)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="callflow-floor-"))
    results, pg = [], None
    try:
        bare = tp.Gunicorn("bare_app:app", tp.base_env(tmp), tmp, "bare", tp.BARE_READY, extra=["--pythonpath", str(BENCH)])
        with bare:
            print(f"database floor: gunicorn {' '.join(tp.gunicorn_settings())}; {args.rounds} rounds of "
                  f"({args.warmup:g} s warm-up + {args.window:g} s) per server, {args.concurrency} callers", flush=True)
            for kind in [d.strip() for d in args.databases.split(",") if d.strip()]:
                db_pid = None
                if kind == "sqlite":
                    url = f"sqlite:///{tmp / 'floor.sqlite3'}"
                elif kind == "postgresql":
                    sys.path.insert(0, str(tp.ROOT))
                    from tests.pgserver import TempPostgres

                    pg = TempPostgres().start()
                    url = pg.create_database("callflow_floor")
                    db_pid = tp.postmaster_pid(pg)
                else:
                    raise SystemExit(f"unknown database {kind!r}")
                results.append(one_database(kind, url, bare, tmp, db_pid, args))
                if pg is not None:
                    pg.stop()
                    pg = None
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n== database floor (medians over rounds) ==")
    for res in results:
        print(f"{res['database']:<11} floor / bare {res['floor_ratio_median']:.2f}   callflow / bare "
              f"{res['callflow_ratio_median']:.2f}   (issue 5 target for callflow: 0.50)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
