"""gunicorn settings for callflow: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Every setting is documented at https://docs.gunicorn.org/en/stable/settings.html ; the
signals (graceful reload with HUP, graceful stop with TERM) at
https://docs.gunicorn.org/en/stable/signals.html .

Environment (also read from ``.env``, like :mod:`config`):

* ``BIND`` -- address(es) to listen on, comma-separated (``127.0.0.1:5000``,
  ``0.0.0.0:8000``, ``unix:/run/callflow.sock``). Default ``HOST:PORT``.
* ``HOST`` (default ``127.0.0.1``) and ``PORT`` (default ``5000``) -- used when ``BIND`` is
  unset. Behind a load balancer on another host, set ``HOST=0.0.0.0`` (or ``BIND``).
* ``WEB_CONCURRENCY`` -- worker processes (default 2); ``WEB_THREADS`` -- threads per
  worker (default 8 when ``OPENAI_API_KEY`` is set, else 1). Each thread serves one webhook at a time: a worker holds one
  SQLAlchemy pool, so keep ``threads`` <= the pool size (5 + 10 overflow by default).
* ``GUNICORN_MAX_REQUESTS`` (default 20000) / ``GUNICORN_MAX_REQUESTS_JITTER`` (default
  2000) -- recycle a worker gracefully after that many requests, staggered.
* ``GUNICORN_CONTROL_SOCKET`` -- path of gunicorn's control socket (off by default: several
  instances on one host would fight over the default path).

Why these values:

* ``worker_class = "gthread"``: webhook turns wait on the database, Kayako or OpenAI, so
  threads overlap that waiting without gevent's monkey-patching.
* ``timeout = 12``: Twilio gives a webhook 15 s before it plays its "application error"
  (https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides); a worker
  silent for 12 s is killed and replaced before that. With gthread workers this is the
  worker heartbeat, not a per-request limit: the turn budget inside the app
  (``callflow.voice.TURN_BUDGET_S``) keeps each answer far below 15 s.
* ``graceful_timeout = 10``: on HUP/TERM (and ``max_requests`` recycling) a worker stops
  accepting and has 10 s to finish its in-flight turns, which all end well before that.
* ``keepalive = 5``: Twilio and load balancers reuse connections; 5 s is below the usual
  60 s idle timeout of load balancers, so the server closes first, never mid-request.
* ``preload_app = False``: each worker builds its own app and database engine after the
  fork (no shared connections), and HUP reloads the application code.
* ``post_worker_init``: each new worker builds its KB search index before it accepts a
  request (``callflow.kb.warm_index``), so no caller's turn waits for the build.
* Access log to stdout (path without query string, no referer: no personal data; with the
  response's ``X-Request-ID``), error log (and the app's JSON logs) to stderr. With
  ``LOG_FORMAT=json`` (the default) both are JSON lines too (``logconfig_dict``).
"""
from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv

# The same .env file config.py reads (existing environment variables win).
load_dotenv(Path(__file__).resolve().parent / ".env")


def _int(name: str, default: int, minimum: int = 0) -> int:
    """The whole number in variable ``name`` (unset or empty: ``default``); ``ValueError`` naming it if it is not
    one or is under ``minimum`` (WEB_CONCURRENCY=0 started no worker, and every request hung)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise ValueError(f"{name} must be a whole number, at least {minimum}, not {os.environ[name]!r}")
    return number


_bind = os.environ.get("BIND", "").strip()
bind = (
    [part.strip() for part in _bind.split(",") if part.strip()]
    if _bind
    else [f"{os.environ.get('HOST', '').strip() or '127.0.0.1'}:{_int('PORT', 5000, minimum=1)}"]
)

worker_class = "gthread"
workers = _int("WEB_CONCURRENCY", 2, minimum=1)
# Without OpenAI a turn is pure CPU (~3-4 ms under load) and a worker's threads share one
# GIL: a second thread only adds GIL hand-offs and lock waits (SQLite, 2 workers saturated:
# 1 thread 334-408 turns/s, 2 threads 231-353; PostgreSQL 200 paced calls, server p99: 1 thread
# 11-14 ms, 2 threads 22-26 ms, 8 threads 137 ms; bench/results.md). With OpenAI a turn waits ~1 s on
# the network: 8 threads overlap that wait.
threads = _int("WEB_THREADS", 8 if os.environ.get("OPENAI_API_KEY", "").strip() else 1, minimum=1)

timeout = 12
graceful_timeout = 10
keepalive = 5

max_requests = _int("GUNICORN_MAX_REQUESTS", 20000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 2000)

preload_app = False
proc_name = "callflow"

accesslog = "-"  # stdout
# No query string and no referer (an admin search such as ?q=<email> must not reach the log),
# the duration in ms, and the X-Request-ID the app put on the response (joins the JSON logs).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s "%(a)s"'
errorlog = "-"  # stderr
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

if (os.environ.get("LOG_FORMAT", "").strip().lower() or "json") == "json":
    # LOG_FORMAT=json (the default): gunicorn's own lines ("Booting worker", "WORKER TIMEOUT", a
    # worker's crash) are JSON objects like the app's, on stderr, and each access line is one on
    # stdout with the response's X-Request-ID as request_id; a log pipeline parsing JSON loses none.
    # https://docs.gunicorn.org/en/stable/settings.html#logconfig-dict
    import sys

    if str(Path(__file__).resolve().parent) not in sys.path:  # gunicorn -c /srv/callflow/gunicorn.conf.py from elsewhere
        sys.path.insert(0, str(Path(__file__).resolve().parent))
    from callflow.logging_setup import gunicorn_logconfig

    logconfig_dict = gunicorn_logconfig(loglevel)
    # The JSON line has the time; labelled numbers, since "200 532 41" would be masked as a phone number.
    access_log_format = (
        '%(h)s "%(m)s %(U)s %(H)s" status=%(s)s bytes=%(B)s duration_ms=%(M)s request_id=%({x-request-id}o)s "%(a)s"'
    )

# The heartbeat file lives in memory when possible (a disk-backed /tmp can stall it).
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
if _control_socket:
    control_socket = _control_socket
else:
    control_socket_disable = True


def post_worker_init(worker) -> None:
    """Build the KB index in a new worker before it takes its first request.

    gunicorn calls this after loading the app and before the worker's accept loop
    (https://docs.gunicorn.org/en/stable/settings.html#post-worker-init). The heartbeat is
    kept alive during a long build. Other apps served with this file (the benchmarks' bare
    app) have no KB: nothing to do.
    """
    app = getattr(worker, "wsgi", None)
    if "kb" not in getattr(app, "extensions", {}):
        return
    from callflow.kb import warm_index

    warm_index(app, heartbeat=worker.notify)
