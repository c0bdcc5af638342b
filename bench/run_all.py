"""Run every benchmark in sequence and print the figures (``make bench``).

1. the machine: cores, memory, CPU model, Python / gunicorn / PostgreSQL versions, load;
2. answer turn on PostgreSQL (``bench/answer_turn.py --database postgresql``);
3. call throughput and latency on SQLite and PostgreSQL (``bench/throughput.py``), then
   the database floor: the bare app plus one read and one write of a call row, against the
   bare app and callflow (``bench/db_floor.py``), and what a fresh worker costs callers
   with a 10k-article KB, with and without the KB warm-up at boot (``bench/worker_recycle.py``);
4. KB search at 1k / 10k / 100k articles (``bench/kb_search.py``);
5. per-turn CPU and wall time in-process on PostgreSQL, a diagnostic of where a turn's
   time goes (``bench/profile_turns.py --no-profile``);
6. KB routing accuracy on the labelled questions (``bench/kb_routing.py``).

Each step runs in its own interpreter and streams its output; a summary of the figures
against their targets follows. About 10 minutes on 2 cores (``--quick``: about 4, smaller
and shorter runs, for checking that everything works -- not figures to quote).
Benchmarks are not tests: nothing here fails on a missed target. ``--json-dir`` keeps
the raw results.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
PY = sys.executable


def _cmd_output(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pg = "?"
    sys.path.insert(0, str(ROOT))
    try:
        from tests.pgserver import find_bindir

        bindir = find_bindir()
        if bindir:
            pg = _cmd_output([str(bindir / "postgres"), "--version"])
    except Exception:
        pass
    gunicorn = _cmd_output([str(Path(PY).parent / "gunicorn"), "--version"])
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": _cmd_output(["nproc"]),
        "memory": next((line for line in _cmd_output(["free", "-h"]).splitlines() if line.startswith("Mem:")), "?"),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "gunicorn": gunicorn,
        "postgresql": pg,
        "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "git": _cmd_output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
        + (" + uncommitted changes" if _cmd_output(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"]) else ""),
    }


def stream(name: str, cmd: list[str], timeout: float) -> tuple[int, str, float]:
    """Run ``cmd`` from the repository root, echoing its output; return (code, output, seconds)."""
    print(f"\n===== {name} =====\n$ {' '.join(os.path.relpath(c, ROOT) if c.startswith(str(ROOT)) else c for c in cmd)}", flush=True)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line)
            if time.monotonic() - start > timeout:
                raise subprocess.TimeoutExpired(cmd, timeout)
        proc.wait(timeout=max(1.0, timeout - (time.monotonic() - start)))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        print(f"({name}: stopped after {timeout:.0f} s)")
        return -1, "".join(lines), time.monotonic() - start
    seconds = time.monotonic() - start
    print(f"({name}: {seconds:.0f} s, exit {proc.returncode})", flush=True)
    return proc.returncode, "".join(lines), seconds


def parse_answer_turn(text: str) -> list[dict]:
    rows = []
    for line in text.splitlines():
        m = re.match(r"^(before|after)\s+(new question|repeated question)\s+(\d+)\s+(\d+)\s+([\d.]+)", line)
        if m:
            rows.append({"config": m[1], "question": m[2], "server_ms": int(m[3]), "served_ms": int(m[4]),
                         "own_ms": float(m[5])})
    return rows


def parse_routing(text: str) -> dict:
    out = {}
    m = re.search(r"routing accuracy\s+([\d.]+)%", text)
    if m:
        out["accuracy_pct"] = float(m[1])
    m = re.search(r"routing at cutoff ([\d.]+)", text)
    if m:
        out["cutoff"] = float(m[1])
    for key in ("answered right", "escalated right", "wrong article", "missed"):
        m = re.search(rf"{key}\s+(\d+)", text)
        if m:
            out[key] = int(m[1])
    return out


def parse_per_turn(text: str) -> dict:
    m = re.search(r"whole call\s+([\d.]+)\s+([\d.]+)", text)
    out = {"call_wall_ms": float(m[1]), "call_cpu_ms": float(m[2])} if m else {}
    m = re.search(r"SQL statements in one call of (\d+) turns: (\d+)", text)
    if m:
        out.update(turns=int(m[1]), statements=int(m[2]))
    return out


def summary(info: dict, answer: list[dict], tp: Optional[dict], kb: Optional[list], routing: dict, per_turn: dict,
            times: dict, floor: Optional[list[str]] = None, recycle: Optional[list[str]] = None) -> None:
    print("\n" + "=" * 100)
    print("SUMMARY (medians; 2 shared cores -- the load generator, the servers, PostgreSQL and anything else")
    print("running on this machine compete for them; ratios come from back-to-back runs in the same session)")
    print(f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}, {info['gunicorn']}, "
          f"{info['postgresql']}; load average at start {info['loadavg']}")
    if answer:
        own = max(r["own_ms"] for r in answer)
        print("\nanswer turn on PostgreSQL (fake OpenAI: chat 700 ms, TTS 300 ms / 1.5 s): "
              + "; ".join(f"{r['config']} {r['question']}: server {r['server_ms']} ms, own {r['own_ms']:.1f} ms" for r in answer)
              + f"  -> own share target < 50 ms: {'met' if own < 50 else 'MISSED'} (worst {own:.1f} ms)")
    if tp:
        print("\ncall throughput (gunicorn " + " ".join(tp["gunicorn"]) + "):")
        for db in tp["databases"]:
            sat, p = db.get("saturation"), db["paced"]
            if sat:
                print(f"  {db['database']:<10} saturation: callflow {sat['app_turns_per_s_median']:.1f} turns/s vs bare "
                      f"{sat['bare_turns_per_s_median']:.1f} -> ratio {sat['ratio_median']:.2f} (target >= 0.50: "
                      f"{'met' if sat['ratio_median'] >= 0.5 else 'MISSED'}); server CPU per turn callflow "
                      f"{sat['app_server_cpu_ms_per_turn_median']:.1f} ms (+ database {sat['app_db_cpu_ms_per_turn_median']:.1f}) "
                      f"vs bare {sat['bare_server_cpu_ms_per_turn_median']:.2f} ms")
            print(f"  {db['database']:<10} {tp['args']['calls']} concurrent calls ({tp['offered_turns_per_s']:.0f} turns/s offered, "
                  f"{p['turns_per_s']:.1f} served): server p50 {p['server_p50_ms']:.1f} ms, p99 {p['server_p99_ms']:.1f} ms "
                  f"(target <= 25: {'met' if p['server_p99_ms'] <= 25 else 'MISSED'}); client p50 {p['client_p50_ms']:.1f} ms, "
                  f"p99 {p['client_p99_ms']:.1f} ms; errors {p['errors_in_window']}; tickets {db['tickets']['ticket_rows']} for "
                  f"{db['tickets']['calls_completed']} completed calls ({'OK' if db['tickets']['ok'] else 'MISMATCH'})")
            pl = db.get("paced_light")
            if pl:
                print(f"  {db['database']:<10} {tp['args']['light_calls']} concurrent calls ({pl['offered_turns_per_s']:.0f} turns/s offered): "
                      f"server p50 {pl['server_p50_ms']:.1f} ms, p99 {pl['server_p99_ms']:.1f} ms; client p50 {pl['client_p50_ms']:.1f} ms, "
                      f"p99 {pl['client_p99_ms']:.1f} ms; errors {pl['errors_in_window']}")
            print(f"  {db['database']:<10} gunicorn worker boots {db['worker_boots']} (2 at start, the rest max_requests recycling)")
        bp = tp.get("bare_paced")
        if bp:
            print(f"  bare app   {tp['args']['calls']} concurrent calls: server p50/p99 {bp['server_p50_ms']:.1f}/{bp['server_p99_ms']:.1f} ms, "
                  f"client p50/p99 {bp['client_p50_ms']:.1f}/{bp['client_p99_ms']:.1f} ms (the floor)")
    if floor:
        print("\ndatabase floor (bench/db_floor.py: the bare app plus one SELECT and one UPDATE of a call row):")
        for line in floor:
            print("  " + line)
    if recycle:
        print("\nfresh workers (bench/worker_recycle.py: 10k-article KB, workers recycled during paced calls):")
        for line in recycle:
            print("  " + line)
    if kb:
        print("\nKB search (KbIndex.search, limit 3):")
        for r in kb:
            print(f"  {r['articles']:>7} articles: first-pass p50 {r['first_p50_ms']:.2f} ms, p99 {r['first_p99_ms']:.2f} ms; "
                  f"repeat p50 {r['repeat_p50_ms']:.2f}, p99 {r['repeat_p99_ms']:.2f} ms; index {r['rss_index_mb']:.0f} MB RSS; "
                  f"build {r['build_s']:.1f} s"
                  + (f"  -> p99 target <= 10 ms: {'met' if max(r['first_p99_ms'], r['repeat_p99_ms']) <= 10 else 'MISSED'}"
                     if r["articles"] >= 100_000 else ""))
    if per_turn.get("turns"):
        n = per_turn["turns"]
        print(f"\nper-turn cost in-process on PostgreSQL (no HTTP, one thread): {per_turn['call_cpu_ms'] / n:.1f} ms CPU, "
              f"{per_turn['call_wall_ms'] / n:.1f} ms wall per turn; {per_turn['statements'] / n:.1f} SQL statements + 1 COMMIT per turn")
    if routing:
        print(f"\nKB routing (sample KB, labelled questions, cutoff {routing.get('cutoff', '?')}): accuracy "
              f"{routing.get('accuracy_pct', '?')}% ({routing.get('answered right', '?')} answered right, "
              f"{routing.get('escalated right', '?')} escalated right, {routing.get('wrong article', '?')} wrong, "
              f"{routing.get('missed', '?')} missed)")
    print("\nstep times: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()) + f"; total {sum(times.values()) / 60:.1f} min")


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller, shorter runs (a smoke run, not figures to quote)")
    ap.add_argument("--skip", default="",
                    help="comma-separated steps to skip: answer,throughput,floor,recycle,kb_search,profile,kb_routing,chaos")
    ap.add_argument("--json-dir", default=None, help="keep the raw JSON results here")
    args = ap.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    info = machine()
    print("callflow benchmarks -- " + ", ".join(f"{k}: {v}" for k, v in info.items()), flush=True)
    out_dir = Path(args.json_dir) if args.json_dir else Path(tempfile.mkdtemp(prefix="callflow-bench-results-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "machine.json").write_text(json.dumps(info, indent=2))
    times: dict[str, float] = {}
    answer, tp, kb, routing, per_turn, floor, recycle = [], None, None, {}, {}, [], []
    try:
        if "answer" not in skip:
            code, text, times["answer turn"] = stream(
                "answer turn on PostgreSQL",
                [PY, str(BENCH / "answer_turn.py"), "--database", "postgresql", *(["--calls", "3"] if args.quick else [])],
                timeout=600)
            answer = parse_answer_turn(text)
            (out_dir / "answer_turn.json").write_text(json.dumps(answer, indent=2))
        if "throughput" not in skip:
            tp_json = out_dir / "throughput.json"
            quick = ["--rounds", "1", "--window", "5", "--warmup", "2", "--paced-duration", "15", "--paced-warmup", "3",
                     "--bare-paced-duration", "10"]
            code, _, times["throughput"] = stream(
                "call throughput (SQLite, PostgreSQL)",
                [PY, str(BENCH / "throughput.py"), "--json", str(tp_json), *(quick if args.quick else [])],
                timeout=1200)
            if tp_json.exists():
                tp = json.loads(tp_json.read_text())
        if "floor" not in skip:
            code, text, times["database floor"] = stream(
                "database floor: bare app, bare app + one read and one write of a call row, callflow",
                [PY, str(BENCH / "db_floor.py"), *(["--rounds", "1", "--window", "4"] if args.quick else [])],
                timeout=900)
            floor = [line.strip() for line in text.splitlines() if "floor / bare" in line]
        if "recycle" not in skip:
            code, text, times["worker recycle"] = stream(
                "fresh workers: the KB index built at boot (post_worker_init) or in a caller's turn",
                [PY, str(BENCH / "worker_recycle.py"),
                 *(["--articles", "3000", "--duration", "15", "--calls", "30"] if args.quick else [])],
                timeout=900)
            recycle = [line.strip() for line in text.splitlines() if line.strip().startswith("round ")]
        if "kb_search" not in skip:
            kb_json = out_dir / "kb_search.json"
            code, _, times["kb search"] = stream(
                "KB search",
                [PY, str(BENCH / "kb_search.py"), "--json", str(kb_json),
                 *(["--sizes", "1000,10000", "--queries", "200"] if args.quick else [])],
                timeout=1200)
            if kb_json.exists():
                kb = json.loads(kb_json.read_text())
        if "profile" not in skip:
            code, text, times["per-turn cost"] = stream(
                "per-turn cost on PostgreSQL (diagnostic: where a turn's time goes)",
                [PY, str(BENCH / "profile_turns.py"), "--database", "postgresql", "--no-profile",
                 "--calls", "10" if args.quick else "30"],
                timeout=300)
            per_turn = parse_per_turn(text)
        if "kb_routing" not in skip:
            code, text, times["kb routing"] = stream("KB routing accuracy", [PY, str(BENCH / "kb_routing.py")], timeout=300)
            routing = parse_routing(text)
        if "chaos" not in skip:
            code, text, times["chaos"] = stream(
                "chaos run: workers SIGKILLed and Kayako down mid-load (no ticket lost, none duplicated)",
                [PY, str(BENCH / "chaos.py"), "--calls", "30" if args.quick else "100"],
                timeout=600)
    finally:
        if not args.json_dir:
            shutil.rmtree(out_dir, ignore_errors=True)
    summary(info, answer, tp, kb, routing, per_turn, times, floor, recycle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
