"""Call throughput and latency of callflow under gunicorn, against a bare Flask baseline.

Not a test: ``.venv/bin/python bench/throughput.py`` (``make bench`` runs it). For each
database (a temp SQLite file, then a throwaway PostgreSQL from ``tests/pgserver.py``):

1. migrate and load the sample KB (``flask --app wsgi db upgrade`` and ``kb load``);
2. start gunicorn with ``gunicorn.conf.py`` (gthread; ``-k gthread --threads 8`` if the file
   is missing) forced to ``--workers 2`` on a free 127.0.0.1 port, signatures off
   (``TWILIO_AUTH_TOKEN`` unset, ``TWILIO_VALIDATE_SIGNATURES=false``), ``LOG_LEVEL=WARNING``,
   no ``PUBLIC_BASE_URL``, no OpenAI / Kayako (the embedded default);
3. **saturation**: ``--rounds`` rounds, each one window on the bare app
   (``bench/bare_app.py``, same gunicorn settings, running the whole time) and one on
   callflow, back to back in alternating order; ``--concurrency`` callers with no think
   time (``bench/loadgen.py``). Our throughput is quoted as the median over the rounds of
   callflow turns/s / bare turns/s (target >= 50%);
4. **paced**: ``--calls`` (200) concurrent simulated calls with uniform ``--think`` time
   (1-3 s) before each turn, ~100 turns/s offered, ``--paced-duration`` seconds: p50/p99 of
   the server's own time (``Server-Timing``) and of the client-observed time, errors
   (target: server p99 <= 25 ms);
5. stop the server and check the database: every call whose status callback was answered
   has exactly one ``ticket_outbox`` row, and no call has two.

Also per database: a lighter paced run (``--light-calls``, 50 calls, ~29 turns/s) to tell
per-turn cost from queueing. The bare app is also run once in the paced mode, as the floor
of what the load generator and gunicorn add. For every run the CPU seconds of the server's
processes (master + workers, from ``/proc``), of PostgreSQL's and of the load generator are
divided by the turns answered: CPU ms per turn, which other load on the machine inflates
much less than wall time. ``other load`` is the CPU the rest of the machine used meanwhile
(other engineers' test runs...), in cores. A "turn" is one webhook POST (incoming, a Gather result, or the status
callback); a call is 8 of them.

Caveat: the machine has 2 shared cores; the load generator (one Python process) and the
servers compete for them, and the baseline suffers from it as much as callflow does --
hence ratios from back-to-back windows, and medians.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import requests

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import loadgen  # noqa: E402

VENV_BIN = Path(sys.executable).parent
GUNICORN = str(VENV_BIN / "gunicorn")
FLASK = str(VENV_BIN / "flask")
BARE_PATH = "/voice/bare"
CALLFLOW_READY = "TWILIO_AUTH_TOKEN is not set"  # logged at WARNING by create_app in each worker
BARE_READY = "bare_app ready in pid"

TARGET_RATIO = 0.5
TARGET_P99_MS = 25.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> Optional[list[str]]:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            data = fh.read()
    except OSError:
        return None
    return data[data.rfind(")") + 2:].split()  # fields from "state" (3rd) on


def process_tree_cpu(pid: Optional[int]) -> float:
    """CPU seconds (user + system) of a process, its reaped children and its live children."""
    if not pid:
        return 0.0
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    total = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            child = _stat_fields(int(entry))
            if child is not None and child[1] == str(pid):
                total += int(child[11]) + int(child[12])
    return total / CLK_TCK


def machine_busy_cpu() -> float:
    """CPU seconds all processes of the machine spent not idle (from /proc/stat)."""
    with open("/proc/stat") as fh:
        parts = [int(x) for x in fh.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    steal = parts[7] if len(parts) > 7 else 0
    return (sum(parts[:8]) - idle - steal) / CLK_TCK


class Meter:
    """CPU seconds spent by the servers, the database, this load generator and everyone else."""

    def __init__(self, pids: dict[str, Optional[int]]):
        self.pids = pids

    def snapshot(self) -> dict[str, float]:
        snap = {name: process_tree_cpu(pid) for name, pid in self.pids.items()}
        snap["loadgen"] = time.process_time()
        snap["machine"] = machine_busy_cpu()
        snap["wall"] = time.monotonic()
        return snap

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        d = {k: after[k] - before[k] for k in before}
        ours = sum(v for k, v in d.items() if k not in ("machine", "wall"))
        d["others"] = max(0.0, d["machine"] - ours)
        return d


def loadavg() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def measured(meter: Meter, server_key: str, **kwargs) -> tuple[loadgen.LoadResult, dict]:
    """One loadgen run plus CPU ms per answered turn for every party, and other load on the machine."""
    before = meter.snapshot()
    result = loadgen.run(**kwargs)
    d = Meter.delta(before, meter.snapshot())
    n = max(1, result.requests_all)
    cpu = {
        "server_cpu_ms_per_turn": round(1000 * d[server_key] / n, 2),
        "db_cpu_ms_per_turn": round(1000 * d.get("db", 0.0) / n, 2),
        "loadgen_cpu_ms_per_turn": round(1000 * d["loadgen"] / n, 2),
        "others_cores": round(d["others"] / max(d["wall"], 1e-9), 2),  # other engineers' processes etc.
        "loadavg_after": loadavg(),
    }
    return result, cpu


def gunicorn_settings() -> list[str]:
    """gunicorn.conf.py if the repository has one, else gthread with 8 threads; always 2 workers."""
    conf = ROOT / "gunicorn.conf.py"
    base = ["-c", str(conf)] if conf.exists() else ["-k", "gthread", "--threads", "8"]
    return base + ["--workers", "2"]


SERVER_ENV: dict[str, str] = {}  # --server-env KEY=VALUE, for experiments (both servers)


def base_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "WEB_", "TWILIO_", "KAYAKO_", "OPENAI_"))}
    for name in ("PUBLIC_BASE_URL", "BIND", "HOST", "PORT", "DATABASE_URL", "PROXY_FIX"):
        env.pop(name, None)
    # TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL stay unset (filtered out above).
    env.update(
        {
            "TWILIO_VALIDATE_SIGNATURES": "false",
            "LOG_LEVEL": "WARNING",
            # Empty values keep a stray .env file from switching outside services on.
            "OPENAI_API_KEY": "",
            "KAYAKO_URL": "",
            "TTS_CACHE_DIR": str(tmp / "tts"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(SERVER_ENV)
    return env


def prepare_database(env: dict[str, str]) -> None:
    """Migrate and load the sample KB, as an operator would."""
    for args in (["db", "upgrade"], ["kb", "load"]):
        subprocess.run([FLASK, "--app", "wsgi", *args], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)


class Gunicorn:
    """A gunicorn master on a free loopback port; ready when every worker logged ``ready``."""

    def __init__(self, app: str, env: dict[str, str], logdir: Path, name: str, ready: str, extra: list[str] = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = name
        self.ready = ready
        self.err_path = logdir / f"{name}.err.log"
        self.out_path = logdir / f"{name}.access.log"
        self.cmd = [GUNICORN, *gunicorn_settings(), "--bind", f"127.0.0.1:{self.port}", *extra, app]
        self.env = env
        self.proc: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 120.0) -> "Gunicorn":
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=self._out, stderr=self._err,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited: {self.err_path.read_text()[-2000:]}")
            if self.err_path.read_text(errors="replace").count(self.ready) >= 2:
                break
            time.sleep(0.2)
        else:
            print(f"  ({self.name}: workers did not report ready within {timeout:.0f} s; going on)", flush=True)
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: /healthz never answered")

    def worker_boots(self) -> int:
        return self.err_path.read_text(errors="replace").count("Booting worker with pid")

    def app_errors(self) -> int:
        """ERROR lines in the app's (JSON) log and gunicorn's error log."""
        text = self.err_path.read_text(errors="replace")
        return len(re.findall(r'"level": "(?:ERROR|CRITICAL)"|\[ERROR\]|\[CRITICAL\]', text))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # graceful: in-flight turns finish
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for fh in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if fh:
                fh.close()

    def __enter__(self) -> "Gunicorn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def check_tickets(database_url: str, completed_sids: list[str], started: int) -> dict:
    """One ticket per completed call? Counted in the database after the server stopped."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text('SELECT c.call_sid, COUNT(t.id) FROM "call" c LEFT JOIN ticket_outbox t ON t.call_id = c.id GROUP BY c.call_sid')
            ).all()
            ticket_rows = conn.execute(text("SELECT COUNT(*) FROM ticket_outbox")).scalar_one()
            turns = conn.execute(text("SELECT COUNT(*) FROM turn")).scalar_one()
    finally:
        engine.dispose()
    per_call = {sid: n for sid, n in rows}
    completed = set(completed_sids)
    return {
        "calls_started": started,
        "calls_completed": len(completed),
        "call_rows": len(per_call),
        "ticket_rows": int(ticket_rows),
        "turn_rows": int(turns),
        "completed_without_ticket": sum(1 for s in completed if per_call.get(s, 0) == 0),
        "calls_with_2plus_tickets": sum(1 for n in per_call.values() if n > 1),
        "tickets_for_calls_not_completed": sum(n for s, n in per_call.items() if s not in completed),
        "ok": int(ticket_rows) == len(completed)
        and all(per_call.get(s, 0) == 1 for s in completed)
        and all(n <= 1 for n in per_call.values()),
    }


def _median(values) -> float:
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def saturation_rounds(bare: Gunicorn, app: Gunicorn, meter: Meter, args) -> dict:
    """Alternate bare / callflow windows; ratio per round, median over rounds."""
    rounds = []
    app_results, bare_results = [], []
    for r in range(args.rounds):
        order = [("bare", bare), ("app", app)] if r % 2 == 0 else [("app", app), ("bare", bare)]
        got, cpu = {}, {}
        for kind, server in order:
            got[kind], cpu[kind] = measured(
                meter,
                kind,
                base_url=server.url,
                label=f"{kind} saturation r{r + 1}",
                concurrency=args.concurrency,
                duration=args.window,
                warmup=args.warmup,
                fixed_path=BARE_PATH if kind == "bare" else None,
                max_calls=args.max_calls,
                seed=100 + r,
            )
        app_results.append(got["app"])
        bare_results.append(got["bare"])
        ratio = got["app"].turns_per_s / got["bare"].turns_per_s if got["bare"].turns_per_s else float("nan")
        cpu_ratio = (cpu["bare"]["server_cpu_ms_per_turn"] / cpu["app"]["server_cpu_ms_per_turn"]
                     if cpu["app"]["server_cpu_ms_per_turn"] else float("nan"))
        rounds.append({
            "round": r + 1,
            "bare_turns_per_s": round(got["bare"].turns_per_s, 1),
            "app_turns_per_s": round(got["app"].turns_per_s, 1),
            "ratio": round(ratio, 3),
            "app_server_p50_ms": round(loadgen.percentile(got["app"].server_ms, 50), 2),
            "app_server_p99_ms": round(loadgen.percentile(got["app"].server_ms, 99), 2),
            "app_errors": sum(got["app"].errors.values()),
            "bare_errors": sum(got["bare"].errors.values()),
            "app_cpu": cpu["app"],
            "bare_cpu": cpu["bare"],
            "cpu_ratio": round(cpu_ratio, 3),
        })
        print(f"    round {r + 1}: bare {got['bare'].turns_per_s:6.1f} turns/s, callflow {got['app'].turns_per_s:6.1f} turns/s,"
              f" ratio {ratio:.2f} | server CPU/turn bare {cpu['bare']['server_cpu_ms_per_turn']:.2f} ms,"
              f" callflow {cpu['app']['server_cpu_ms_per_turn']:.2f} ms (+db {cpu['app']['db_cpu_ms_per_turn']:.2f}),"
              f" loadgen {cpu['app']['loadgen_cpu_ms_per_turn']:.2f}/{cpu['bare']['loadgen_cpu_ms_per_turn']:.2f} ms"
              f" | callflow server p50/p99 {rounds[-1]['app_server_p50_ms']:.1f}/{rounds[-1]['app_server_p99_ms']:.1f} ms,"
              f" errors {rounds[-1]['app_errors']} | other load {cpu['app']['others_cores']:.2f} cores", flush=True)
    app_server = [x for res in app_results for x in res.server_ms]
    bare_server = [x for res in bare_results for x in res.server_ms]
    return {
        "rounds": rounds,
        "ratio_median": round(_median(r["ratio"] for r in rounds), 3),
        "cpu_ratio_median": round(_median(r["cpu_ratio"] for r in rounds), 3),
        "app_turns_per_s_median": round(_median(r["app_turns_per_s"] for r in rounds), 1),
        "bare_turns_per_s_median": round(_median(r["bare_turns_per_s"] for r in rounds), 1),
        "app_calls_per_s_median": round(_median(r["app_turns_per_s"] for r in rounds) / loadgen.TURNS_PER_CALL, 2),
        "app_server_cpu_ms_per_turn_median": round(_median(r["app_cpu"]["server_cpu_ms_per_turn"] for r in rounds), 2),
        "app_db_cpu_ms_per_turn_median": round(_median(r["app_cpu"]["db_cpu_ms_per_turn"] for r in rounds), 2),
        "bare_server_cpu_ms_per_turn_median": round(_median(r["bare_cpu"]["server_cpu_ms_per_turn"] for r in rounds), 2),
        "loadgen_cpu_ms_per_turn_median": round(_median(r["app_cpu"]["loadgen_cpu_ms_per_turn"] for r in rounds), 2),
        "others_cores_median": round(_median(r["app_cpu"]["others_cores"] for r in rounds), 2),
        "app_server_p50_ms": round(loadgen.percentile(app_server, 50), 2),
        "app_server_p99_ms": round(loadgen.percentile(app_server, 99), 2),
        "bare_server_p50_ms": round(loadgen.percentile(bare_server, 50), 2),
        "bare_server_p99_ms": round(loadgen.percentile(bare_server, 99), 2),
        "app_errors": sum(sum(r.errors.values()) for r in app_results),
        "bare_errors": sum(sum(r.errors.values()) for r in bare_results),
        "app_runs": [r.summary() for r in app_results],
        "completed_sids": [s for r in app_results for s in r.completed_sids],
        "calls_started": sum(r.calls_started for r in app_results),
    }


def paced(server: Gunicorn, meter: Meter, key: str, args, label: str, fixed_path: Optional[str] = None,
          duration: Optional[float] = None) -> tuple[loadgen.LoadResult, dict]:
    lo, hi = (float(x) for x in args.think.split(":"))
    return measured(
        meter,
        key,
        base_url=server.url,
        label=label,
        concurrency=args.calls,
        duration=duration or args.paced_duration,
        warmup=args.paced_warmup,
        think=(lo, hi),
        fixed_path=fixed_path,
        max_calls=args.max_calls,
        seed=7,
    )


def print_paced(s: dict) -> None:
    cpu = s["cpu"]
    print(f"    {s['label']}: {s['turns_per_s']:.1f} turns/s, server p50 {s['server_p50_ms']:.1f} ms p99 {s['server_p99_ms']:.1f} ms"
          f" (max {s['server_max_ms']}), client p50 {s['client_p50_ms']:.1f} ms p99 {s['client_p99_ms']:.1f} ms,"
          f" errors {s['errors_in_window']} {s['error_kinds'] or ''}, calls completed {s['calls_completed']},"
          f" server CPU/turn {cpu['server_cpu_ms_per_turn']:.2f} ms (+db {cpu['db_cpu_ms_per_turn']:.2f}),"
          f" other load {cpu['others_cores']:.2f} cores", flush=True)
    kinds = s.get("server_by_turn", {})
    if len(kinds) > 1:
        order = ["incoming", *(k for k, _ in loadgen.SCRIPT), "status"]
        print("      server p50/p99 by turn (ms): " + ", ".join(
            f"{k} {kinds[k]['p50']:.0f}/{kinds[k]['p99']:.0f}" for k in order if k in kinds), flush=True)


def postmaster_pid(pg) -> Optional[int]:
    try:
        return int((pg.data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def bench_database(kind: str, database_url: str, bare: Gunicorn, args, tmp: Path, db_pid: Optional[int]) -> dict:
    env = base_env(tmp)
    env["DATABASE_URL"] = database_url
    t = time.perf_counter()
    prepare_database(env)
    print(f"  [{kind}] migrated and loaded the sample KB in {time.perf_counter() - t:.1f} s", flush=True)
    app = Gunicorn("wsgi:app", env, tmp, f"callflow-{kind}", CALLFLOW_READY)
    t = time.perf_counter()
    app.start()
    print(f"  [{kind}] gunicorn up in {time.perf_counter() - t:.1f} s; load average {loadavg()}", flush=True)
    meter = Meter({"app": app.proc.pid, "bare": bare.proc.pid, "db": db_pid})
    try:
        out: dict = {"database": kind}
        if not args.skip_saturation:
            print(f"  [{kind}] saturation: {args.concurrency} callers, no think time, {args.rounds} rounds of "
                  f"({args.warmup:g} s warm-up + {args.window:g} s) per server", flush=True)
            out["saturation"] = saturation_rounds(bare, app, meter, args)
        print(f"  [{kind}] paced: {args.calls} concurrent calls, think {args.think} s, {args.paced_warmup:g} s ramp + "
              f"{args.paced_duration:g} s", flush=True)
        res, cpu = paced(app, meter, "app", args, f"callflow {kind} paced")
        out["paced"] = dict(res.summary(), cpu=cpu)
        print_paced(out["paced"])
        completed = out.get("saturation", {}).get("completed_sids", []) + res.completed_sids
        started = out.get("saturation", {}).get("calls_started", 0) + res.calls_started
        if args.light_calls > 0:
            light = argparse.Namespace(**{**vars(args), "calls": args.light_calls})
            print(f"  [{kind}] paced, light load: {args.light_calls} concurrent calls, think {args.think} s, "
                  f"{args.paced_warmup:g} s ramp + {args.light_duration:g} s", flush=True)
            res, cpu = paced(app, meter, "app", light, f"callflow {kind} paced {args.light_calls} calls",
                             duration=args.light_duration)
            out["paced_light"] = dict(res.summary(), cpu=cpu, offered_turns_per_s=round(offered_rate(light), 1))
            print_paced(out["paced_light"])
            completed += res.completed_sids
            started += res.calls_started
    finally:
        app.stop()
    out["worker_boots"] = app.worker_boots()
    out["app_error_log_lines"] = app.app_errors()
    out["tickets"] = check_tickets(database_url, completed, started)
    t = out["tickets"]
    print(f"  [{kind}] tickets: {t['ticket_rows']} ticket rows for {t['calls_completed']} completed calls "
          f"({t['calls_started']} started); missing {t['completed_without_ticket']}, duplicated {t['calls_with_2plus_tickets']}"
          f" -> {'OK' if t['ok'] else 'MISMATCH'}; gunicorn worker boots {out['worker_boots']} (2 at start),"
          f" error log lines {out['app_error_log_lines']}", flush=True)
    if "saturation" in out:
        out["saturation"].pop("completed_sids", None)
    return out


def print_summary(results: dict) -> None:
    print("\n== call throughput (medians; 2 shared cores; the load generator runs on the same machine) ==")
    print(f"{'database':<11} {'callflow t/s':>12} {'bare t/s':>9} {'ratio':>6} {'target':>7} {'CPU ratio':>9} "
          f"{'CPU ms/turn':>11} {'bare CPU':>8}")
    for db in results["databases"]:
        sat = db.get("saturation")
        if not sat:
            continue
        ratio = sat["ratio_median"]
        print(f"{db['database']:<11} {sat['app_turns_per_s_median']:>12.1f} {sat['bare_turns_per_s_median']:>9.1f} {ratio:>6.2f} "
              f"{'met' if ratio >= TARGET_RATIO else 'MISSED':>7} {sat['cpu_ratio_median']:>9.3f} "
              f"{sat['app_server_cpu_ms_per_turn_median'] + sat['app_db_cpu_ms_per_turn_median']:>11.2f} "
              f"{sat['bare_server_cpu_ms_per_turn_median']:>8.2f}")
    print(f"\n{'paced':<16} {'offered':>8} {'t/s':>6} {'srv p50':>8} {'srv p99':>8} {'cli p50':>8} {'cli p99':>8} "
          f"{'errors':>6} {'target':>7} {'tickets':>12}")
    rows = [(db["database"], db["paced"], db) for db in results["databases"]]
    rows += [(f"{db['database']} ({results['args']['light_calls']})", db["paced_light"], None)
             for db in results["databases"] if db.get("paced_light")]
    if results.get("bare_paced"):
        rows.append(("bare app", results["bare_paced"], None))
    for name, p, db in rows:
        tickets = f"{db['tickets']['ticket_rows']}/{db['tickets']['calls_completed']} {'OK' if db['tickets']['ok'] else 'BAD'}" if db else "-"
        target = ('met' if p['server_p99_ms'] <= TARGET_P99_MS else 'MISSED') if db else "-"
        print(f"{name:<16} {p.get('offered_turns_per_s', results['offered_turns_per_s']):>8.0f} {p['turns_per_s']:>6.1f} {p['server_p50_ms']:>8.1f} "
              f"{p['server_p99_ms']:>8.1f} {p['client_p50_ms']:>8.1f} {p['client_p99_ms']:>8.1f} {p['errors_in_window']:>6} "
              f"{target:>7} {tickets:>12}")
    print(f"targets: callflow >= {TARGET_RATIO:.0%} of the bare throughput; server p99 <= {TARGET_P99_MS:g} ms with "
          f"{results['args']['calls']} concurrent calls. CPU ratio = bare server CPU per turn / callflow server+db CPU per turn.")


def offered_rate(args) -> float:
    lo, hi = (float(x) for x in args.think.split(":"))
    mean_think = (lo + hi) / 2
    # One call: think before incoming and each Gather (7 pauses), status right after the last turn.
    call_s = (len(loadgen.SCRIPT) + 1) * mean_think
    return args.calls * loadgen.TURNS_PER_CALL / call_s if call_s else float("nan")


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    ap.add_argument("--concurrency", type=int, default=32, help="saturation: concurrent callers")
    ap.add_argument("--rounds", type=int, default=3, help="saturation: bare/callflow window pairs")
    ap.add_argument("--window", type=float, default=10.0, help="saturation: measured seconds per window")
    ap.add_argument("--warmup", type=float, default=3.0, help="saturation: warm-up seconds per window")
    ap.add_argument("--calls", type=int, default=200, help="paced: concurrent simulated calls")
    ap.add_argument("--think", default="1:3", help="paced: uniform think time lo:hi seconds before each turn")
    ap.add_argument("--paced-duration", type=float, default=55.0, help="paced: measured seconds")
    ap.add_argument("--paced-warmup", type=float, default=5.0, help="paced: ramp-up seconds (not measured)")
    ap.add_argument("--light-calls", type=int, default=50, help="paced run at a lighter load, for comparison (0: skip)")
    ap.add_argument("--light-duration", type=float, default=25.0, help="measured seconds of the light paced run")
    ap.add_argument("--bare-paced-duration", type=float, default=30.0, help="paced run of the bare app (0: skip)")
    ap.add_argument("--max-calls", type=int, default=50_000, help="upper bound on calls per load run")
    ap.add_argument("--skip-saturation", action="store_true")
    ap.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                    help="experiment: extra environment for both servers, e.g. GUNICORN_MAX_REQUESTS=0 or WEB_THREADS=4")
    ap.add_argument("--json", default=None, help="also write the results as JSON to this file")
    args = ap.parse_args(argv)
    for item in args.server_env:
        key, _, value = item.partition("=")
        SERVER_ENV[key.strip()] = value

    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if (ROOT / ".env").exists():
        print("  (note: a .env file exists; outside services are forced off, but check it)", flush=True)
    results: dict = {"args": vars(args), "server_env": dict(SERVER_ENV), "databases": [], "python": platform.python_version(),
                     "gunicorn": gunicorn_settings(), "offered_turns_per_s": round(offered_rate(args), 1),
                     "loadavg_start": loadavg()}
    tmp = Path(tempfile.mkdtemp(prefix="callflow-bench-"))
    pg = None
    try:
        bare = Gunicorn("bare_app:app", base_env(tmp), tmp, "bare", BARE_READY, extra=["--pythonpath", str(BENCH)])
        with bare:
            print(f"call throughput: bare app up at {bare.url}; gunicorn {' '.join(gunicorn_settings())}"
                  f"{' with ' + ' '.join(f'{k}={v}' for k, v in SERVER_ENV.items()) if SERVER_ENV else ''}; "
                  f"load average {loadavg()}", flush=True)
            for kind in databases:
                db_pid = None
                if kind == "sqlite":
                    url = f"sqlite:///{tmp / 'bench.sqlite3'}"
                elif kind == "postgresql":
                    from tests.pgserver import TempPostgres

                    pg = TempPostgres().start()
                    url = pg.create_database("callflow_bench")
                    results["postgresql_version"] = postgres_version(pg)
                    db_pid = postmaster_pid(pg)
                else:
                    raise SystemExit(f"unknown database {kind!r}")
                results["databases"].append(bench_database(kind, url, bare, args, tmp, db_pid))
                if pg is not None:
                    pg.stop()
                    pg = None
            if args.bare_paced_duration > 0:
                meter = Meter({"bare": bare.proc.pid})
                res, cpu = paced(bare, meter, "bare", args, "bare app paced", fixed_path=BARE_PATH,
                                 duration=args.bare_paced_duration)
                results["bare_paced"] = dict(res.summary(), cpu=cpu)
                print_paced(results["bare_paced"])
            results["bare_worker_boots"] = bare.worker_boots()
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    results["loadavg_end"] = loadavg()
    print_summary(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


def postgres_version(pg) -> str:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=pg.port, user="callflow", dbname="postgres") as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


if __name__ == "__main__":
    sys.exit(main())
