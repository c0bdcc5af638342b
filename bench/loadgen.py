"""Asyncio + aiohttp load generator that places whole simulated phone calls over HTTP.

Each simulated call does what Twilio does (and what ``tests/conftest.Caller`` does):

1. ``POST /voice/incoming`` with the call's form fields (``CallSid``, ``From``, ``To`` ...);
2. for each line of the caller's script, ``POST`` the Gather ``action`` of the last TwiML
   answer with ``SpeechResult`` and ``Confidence`` (stops early if the answer hangs up);
3. ``POST /voice/status`` with ``CallStatus=completed``.

``fixed_path`` switches to baseline mode (``bench/bare_app.py``): the same number of POSTs
per call, all to one fixed URL, with the Gather action followed the same way, so the
client does the same work per turn for both servers.

Two ways to drive it:

* saturation -- ``concurrency`` callers, no think time: turns per second;
* paced -- e.g. 200 concurrent calls, ``think=(1, 3)`` seconds of uniform think time
  before each turn (~100 turns/s offered): latency percentiles.

Every request's client-observed time (send to last body byte) and the server's own time
(``Server-Timing: app;dur=<ms>``) are recorded. Only requests that *finish* inside the
measurement window (after ``warmup``, for ``duration`` seconds) count. When the window
closes, calls in progress hang up at once (their status callback is still sent, so each
started call should leave exactly one ticket) and no new call starts. Every loop is bound
in time (``warmup + duration`` plus one status POST per call, each request ``timeout``)
and in count (``max_calls``).

Standalone, against a server you started yourself (e.g. ``make serve`` with
``TWILIO_VALIDATE_SIGNATURES=false``)::

    .venv/bin/python bench/loadgen.py --url http://127.0.0.1:5000 --concurrency 200 --think 1:3 --duration 30
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import urljoin

import aiohttp

#: What the simulated caller says, one line per Gather (as tests/data/calls/password_reset.txt).
SCRIPT: tuple[tuple[str, str], ...] = (
    ("name", "My name is Jane Doe"),
    ("email", "jane dot doe at example dot com"),
    ("confirm", "yes"),
    ("question", "how do I reset my password"),
    ("resolved", "yes"),
    ("anything_else", "no thanks"),
)
TURNS_PER_CALL = len(SCRIPT) + 2  # incoming + one Gather POST per line + status callback


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; NaN for an empty list."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100.0 * len(ordered)) - 1))
    return ordered[k]


def parse_server_timing(value: Optional[str]) -> Optional[float]:
    """``app;dur=12.3`` -> 12.3 (ms); None if absent or malformed."""
    if not value:
        return None
    for part in value.split(","):
        fields = [f.strip() for f in part.split(";")]
        if fields and fields[0] == "app":
            for f in fields[1:]:
                if f.startswith("dur="):
                    try:
                        return float(f[4:])
                    except ValueError:
                        return None
    return None


@dataclass
class LoadResult:
    """What one load run measured (times in ms; rates per second of the window)."""

    label: str
    mode: str
    concurrency: int
    window_s: float
    requests_ok: int = 0
    requests_all: int = 0  # answered 200, inside the window or not (for CPU per turn)
    client_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    by_kind_server: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    errors_total: int = 0  # including the ones outside the window
    calls_started: int = 0
    calls_completed: int = 0  # status callback answered 200
    calls_ended_early: int = 0  # the server hung up before the script ended
    calls_cut_by_deadline: int = 0  # hung up by the load generator when the window closed
    redirects: int = 0  # <Redirect> answers without Gather (the database-trouble apology)
    missing_timing: int = 0
    completed_sids: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def turns_per_s(self) -> float:
        return self.requests_ok / self.window_s if self.window_s > 0 else 0.0

    def summary(self) -> dict:
        c, s = self.client_ms, self.server_ms
        kinds = {
            k: {"n": len(v), "p50": percentile(v, 50), "p99": percentile(v, 99)}
            for k, v in sorted(self.by_kind_server.items())
        }
        return {
            "label": self.label,
            "mode": self.mode,
            "concurrency": self.concurrency,
            "window_s": round(self.window_s, 2),
            "turns_per_s": round(self.turns_per_s, 1),
            "requests_ok": self.requests_ok,
            "requests_all": self.requests_all,
            "server_p50_ms": round(percentile(s, 50), 2),
            "server_p99_ms": round(percentile(s, 99), 2),
            "server_max_ms": round(max(s), 2) if s else None,
            "client_p50_ms": round(percentile(c, 50), 2),
            "client_p99_ms": round(percentile(c, 99), 2),
            "client_max_ms": round(max(c), 2) if c else None,
            "errors_in_window": sum(self.errors.values()),
            "errors_total": self.errors_total,
            "error_kinds": dict(self.errors),
            "calls_started": self.calls_started,
            "calls_completed": self.calls_completed,
            "calls_ended_early": self.calls_ended_early,
            "calls_cut_by_deadline": self.calls_cut_by_deadline,
            "redirects": self.redirects,
            "missing_server_timing": self.missing_timing,
            "server_by_turn": {k: {kk: (round(vv, 2) if isinstance(vv, float) else vv) for kk, vv in v.items()} for k, v in kinds.items()},
            "wall_s": round(self.wall_s, 1),
        }


class _Run:
    def __init__(self, base_url: str, result: LoadResult, *, fixed_path: Optional[str], think: tuple[float, float],
                 warmup: float, duration: float, max_calls: int, timeout: float, rng: random.Random):
        self.base = base_url.rstrip("/")
        self.r = result
        self.fixed_path = fixed_path
        self.think = think
        self.max_calls = max_calls
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.rng = rng
        self.t0 = time.perf_counter()
        self.window_start = self.t0 + warmup
        self.deadline = self.window_start + duration
        self.session: Optional[aiohttp.ClientSession] = None

    def _in_window(self, t: float) -> bool:
        return self.window_start <= t <= self.deadline

    def _stopping(self) -> bool:
        return time.perf_counter() >= self.deadline

    async def _think(self) -> None:
        lo, hi = self.think
        if hi <= 0:
            return
        pause = self.rng.uniform(lo, hi)
        remaining = self.deadline - time.perf_counter()
        if remaining > 0:
            await asyncio.sleep(min(pause, remaining))

    async def _post(self, path: str, form: dict[str, str], kind: str) -> Optional[bytes]:
        """One webhook POST; returns the body on 200, None on any error (recorded)."""
        assert self.session is not None
        url = path if path.startswith("http") else urljoin(self.base + "/", path.lstrip("/"))
        start = time.perf_counter()
        error = None
        body = b""
        server = None
        try:
            async with self.session.post(url, data=form, timeout=self.timeout) as resp:
                body = await resp.read()
                server = parse_server_timing(resp.headers.get("Server-Timing"))
                if resp.status != 200:
                    error = f"http {resp.status}"
        except asyncio.TimeoutError:
            error = "timeout"
        except aiohttp.ClientError as exc:
            error = type(exc).__name__
        end = time.perf_counter()
        if error:
            self.r.errors_total += 1
            if self._in_window(end):
                self.r.errors[error] += 1
            return None
        self.r.requests_all += 1
        if self._in_window(end):
            self.r.requests_ok += 1
            self.r.client_ms.append((end - start) * 1000.0)
            if server is None:
                self.r.missing_timing += 1
            else:
                self.r.server_ms.append(server)
                self.r.by_kind_server[kind].append(server)
        return body

    def _action(self, body: Optional[bytes]) -> tuple[Optional[str], bool]:
        """(URL to POST next, is it a Redirect without Gather) from a TwiML answer."""
        if not body:
            return None, False
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            self.r.errors["bad twiml"] += 1
            return None, False
        gather = root.find("Gather")
        if gather is not None:
            return gather.get("action"), False
        redirect = root.find("Redirect")
        if redirect is not None and root.find("Hangup") is None:
            return (redirect.text or "").strip() or None, True
        return None, False

    async def call(self) -> None:
        sid = "CA" + uuid.uuid4().hex
        number = "+1415555%04d" % self.rng.randrange(10000)  # 555 numbers: fictional
        base = {
            "CallSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": number,
            "To": "+15005550001",
            "Caller": number,
            "Called": "+15005550001",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        self.r.calls_started += 1
        body = await self._post(self.fixed_path or "/voice/incoming", {**base, "CallStatus": "ringing"}, "incoming")
        action, _ = self._action(body)
        step = 0
        redirects = 0
        while action and step < len(SCRIPT):
            await self._think()
            if self._stopping():
                self.r.calls_cut_by_deadline += 1
                break
            kind, line = SCRIPT[step]
            body = await self._post(
                action, {**base, "CallStatus": "in-progress", "SpeechResult": line, "Confidence": "0.91"}, kind
            )
            next_action, is_redirect = self._action(body)
            if is_redirect and redirects < 3:  # the apology + Redirect: Twilio follows it, the caller repeats
                self.r.redirects += 1
                redirects += 1
                body = await self._post(next_action, {**base, "CallStatus": "in-progress"}, kind + ":redirect")
                next_action, _ = self._action(body)
            action = next_action
            step += 1
        else:
            if step < len(SCRIPT) and body is not None:
                self.r.calls_ended_early += 1
        body = await self._post(
            self.fixed_path or "/voice/status", {**base, "CallStatus": "completed", "CallDuration": "42"}, "status"
        )
        if body is not None:
            self.r.calls_completed += 1
            self.r.completed_sids.append(sid)

    async def caller(self, first: bool) -> None:
        if first and self.think[1] > 0:  # stagger the first calls over one think time
            await asyncio.sleep(self.rng.uniform(0, self.think[1]))
        while not self._stopping() and self.r.calls_started < self.max_calls:
            await self.call()
            await self._think()


async def run_load(
    base_url: str,
    *,
    label: str = "",
    concurrency: int = 32,
    duration: float = 20.0,
    warmup: float = 5.0,
    think: tuple[float, float] = (0.0, 0.0),
    fixed_path: Optional[str] = None,
    max_calls: int = 100_000,
    timeout: float = 10.0,
    seed: int = 5,
) -> LoadResult:
    """Drive ``concurrency`` simulated callers against ``base_url`` and measure (see module doc)."""
    mode = "paced" if think[1] > 0 else "saturation"
    result = LoadResult(label=label or base_url, mode=mode, concurrency=concurrency, window_s=duration)
    run = _Run(base_url, result, fixed_path=fixed_path, think=think, warmup=warmup, duration=duration,
               max_calls=max_calls, timeout=timeout, rng=random.Random(seed))
    # Keep idle connections for less than gunicorn's keepalive (5 s), so the client never
    # sends on a connection the server is closing.
    connector = aiohttp.TCPConnector(limit=concurrency, keepalive_timeout=4.0)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as session:
        run.session = session
        started = time.perf_counter()
        await asyncio.gather(*(run.caller(first=True) for _ in range(concurrency)))
        result.wall_s = time.perf_counter() - started
    return result


def run(base_url: str, **kwargs) -> LoadResult:
    """Synchronous wrapper of :func:`run_load`."""
    return asyncio.run(run_load(base_url, **kwargs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:5000 (loopback only)")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--duration", type=float, default=20.0, help="measurement window (s)")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds before the window opens")
    ap.add_argument("--think", default="0:0", help="think time lo:hi seconds before each turn (0:0 = saturation)")
    ap.add_argument("--fixed-path", default=None, help="baseline mode: POST every turn here (e.g. /voice/bare)")
    ap.add_argument("--max-calls", type=int, default=100_000)
    args = ap.parse_args()
    if not args.url.startswith(("http://127.0.0.1", "http://localhost")):
        raise SystemExit("loadgen only sends traffic to 127.0.0.1")
    lo, hi = (float(x) for x in args.think.split(":"))
    result = run(args.url, concurrency=args.concurrency, duration=args.duration, warmup=args.warmup,
                 think=(lo, hi), fixed_path=args.fixed_path, max_calls=args.max_calls)
    print(json.dumps(result.summary(), indent=2))


if __name__ == "__main__":
    main()
