"""What a fresh gunicorn worker costs callers: the KB index built at boot, or in a turn.

Not a test: ``.venv/bin/python bench/worker_recycle.py`` (``make bench`` runs it). Every new
worker (a start, a HUP, ``max_requests`` recycling) needs its own KB search index.
``gunicorn.conf.py``'s ``post_worker_init`` builds it before the worker accepts a request
(:func:`callflow.kb.warm_index`); without that hook the first turn that needs the index
builds it, and every request queued on that worker waits.

On a temp SQLite database with ``--articles`` synthetic articles (``bench/kb_search.py``'s
generator), callflow runs under the same gunicorn settings as ``bench/throughput.py``, with
``GUNICORN_MAX_REQUESTS=--max-requests`` so workers recycle during the run, twice per
round in alternating order: with ``gunicorn.conf.py`` as is, and with the same settings but
no ``post_worker_init`` (``bench/gunicorn_no_warm.conf.py``). Each run places ``--calls``
paced calls (1-3 s think time) for ``--duration`` seconds and reports the server's and the
client's p50 / p99 / max and the worker boots.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Optional

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import kb_search  # noqa: E402
import loadgen  # noqa: E402
import throughput  # noqa: E402

NO_WARM_CONF = BENCH / "gunicorn_no_warm.conf.py"
READY = throughput.CALLFLOW_READY


def load_synthetic_kb(env: dict[str, str], articles: int, tmp: Path) -> None:
    """Migrate, then ``kb load`` ``articles`` generated articles (seed of bench/kb_search.py)."""
    docs, _ = kb_search.generate(articles, 20240605)
    path = tmp / "kb.json"
    path.write_text(json.dumps(docs), encoding="utf-8")
    for args in (["db", "upgrade"], ["kb", "load", str(path)]):
        throughput.subprocess.run([throughput.FLASK, "--app", "wsgi", *args], cwd=throughput.ROOT, env=env,
                                  check=True, stdout=throughput.subprocess.DEVNULL, timeout=600)


def one_run(env: dict[str, str], tmp: Path, warm: bool, args) -> dict:
    extra = [] if warm else ["-c", str(NO_WARM_CONF)]  # the last -c wins
    name = "warm" if warm else "no-warm"
    with throughput.Gunicorn("wsgi:app", env, tmp, name, READY, extra=extra) as server:
        result = loadgen.run(server.url, label=name, concurrency=args.calls, duration=args.duration,
                             warmup=args.warmup, think=(1.0, 3.0), seed=11)
        boots = server.worker_boots()
    out = result.summary()
    out["worker_boots"] = boots
    return out


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=10_000)
    ap.add_argument("--max-requests", type=int, default=300, help="GUNICORN_MAX_REQUESTS (jitter: a tenth)")
    ap.add_argument("--calls", type=int, default=60, help="concurrent paced calls")
    ap.add_argument("--duration", type=float, default=40.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="callflow-recycle-") as tmpdir:
        tmp = Path(tmpdir)
        env = throughput.base_env(tmp)
        env.update(
            DATABASE_URL=f"sqlite:///{tmp / 'recycle.sqlite3'}",
            GUNICORN_MAX_REQUESTS=str(args.max_requests),
            GUNICORN_MAX_REQUESTS_JITTER=str(max(1, args.max_requests // 10)),
        )
        load_synthetic_kb(env, args.articles, tmp)
        print(f"KB of {args.articles} articles; workers recycled every {args.max_requests} requests (+ jitter); "
              f"{args.calls} paced calls, {args.duration:.0f} s per run", flush=True)
        runs = []
        for rnd in range(args.rounds):
            for warm in ((False, True) if rnd % 2 == 0 else (True, False)):
                s = one_run(env, tmp, warm, args)
                s["round"] = rnd + 1
                runs.append(s)
                print(f"  round {rnd + 1} {'post_worker_init warm-up' if warm else 'index built in a turn  '}: "
                      f"{s['turns_per_s']:.1f} turns/s, server p50/p99/max {s['server_p50_ms']:.1f} / "
                      f"{s['server_p99_ms']:.1f} / {s['server_max_ms']} ms, client p50/p99/max "
                      f"{s['client_p50_ms']:.1f} / {s['client_p99_ms']:.1f} / {s['client_max_ms']} ms, "
                      f"errors {s['errors_in_window']}, worker boots {s['worker_boots']}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
