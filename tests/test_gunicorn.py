"""gunicorn.conf.py: its values, and a real gunicorn serving, reloading on HUP and stopping on TERM."""
from __future__ import annotations

import http.client
import json
import os
import runpy
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "gunicorn.conf.py"
ENV_NAMES = ("BIND", "HOST", "PORT", "WEB_CONCURRENCY", "WEB_THREADS", "GUNICORN_MAX_REQUESTS",
             "GUNICORN_MAX_REQUESTS_JITTER", "GUNICORN_CONTROL_SOCKET", "OPENAI_API_KEY", "LOG_FORMAT")


def load_conf(monkeypatch, **env: str) -> dict:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return {k: v for k, v in runpy.run_path(str(CONF)).items() if not k.startswith("_")}


def gunicorn_config(settings: dict):
    """The settings as gunicorn itself validates them (unknown names raise)."""
    from gunicorn.config import Config

    cfg = Config()
    for name, value in settings.items():
        if name in cfg.settings:
            cfg.set(name, value)
    return cfg


def test_defaults(monkeypatch):
    conf = load_conf(monkeypatch)
    assert conf["worker_class"] == "gthread"
    assert conf["workers"] == 2 and conf["threads"] == 1  # embedded default: CPU-bound turns
    assert conf["timeout"] < 15  # Twilio gives up on a webhook after 15 s
    assert conf["timeout"] == 12 and conf["graceful_timeout"] == 10 and conf["keepalive"] == 5
    assert conf["graceful_timeout"] < conf["timeout"]
    assert conf["max_requests"] > 0 and 0 < conf["max_requests_jitter"] < conf["max_requests"]
    assert conf["bind"] == ["127.0.0.1:5000"]
    assert conf["accesslog"] == "-" and conf["preload_app"] is False
    assert "%(U)s" in conf["access_log_format"] and "%(r)s" not in conf["access_log_format"]
    assert "%(q)s" not in conf["access_log_format"] and "%(f)s" not in conf["access_log_format"]
    cfg = gunicorn_config(conf)
    assert cfg.worker_class_str == "gthread" and cfg.timeout == 12 and cfg.threads == 1
    assert cfg.address == [("127.0.0.1", 5000)]
    assert cfg.control_socket_disable is True


def test_threads_follow_openai(monkeypatch):
    """Turns that wait ~1 s on OpenAI get 8 threads per worker; WEB_THREADS always wins."""
    assert load_conf(monkeypatch, OPENAI_API_KEY="sk-test")["threads"] == 8
    assert load_conf(monkeypatch, OPENAI_API_KEY="  ")["threads"] == 1
    assert load_conf(monkeypatch, OPENAI_API_KEY="sk-test", WEB_THREADS="3")["threads"] == 3


def test_environment_overrides(monkeypatch):
    conf = load_conf(monkeypatch, WEB_CONCURRENCY="4", WEB_THREADS="16", PORT="8123")
    assert (conf["workers"], conf["threads"], conf["bind"]) == (4, 16, ["127.0.0.1:8123"])
    conf = load_conf(monkeypatch, HOST="0.0.0.0", PORT="8000")
    assert conf["bind"] == ["0.0.0.0:8000"]
    conf = load_conf(monkeypatch, BIND="127.0.0.1:9001, unix:/tmp/callflow.sock", PORT="1")
    assert conf["bind"] == ["127.0.0.1:9001", "unix:/tmp/callflow.sock"]
    assert gunicorn_config(conf).address[0] == ("127.0.0.1", 9001)


def test_log_format_decides_gunicorns_own_lines(monkeypatch):
    """LOG_FORMAT=json (the default): gunicorn's error and access loggers write JSON lines (and do not also reach the
    app's root handler); LOG_FORMAT=text keeps gunicorn's plain lines."""
    conf = load_conf(monkeypatch)
    loggers = conf["logconfig_dict"]["loggers"]
    assert loggers["gunicorn.error"]["propagate"] is False and loggers["gunicorn.access"]["propagate"] is False
    assert conf["logconfig_dict"]["root"]["handlers"] == [] and "%(t)s" not in conf["access_log_format"]
    assert gunicorn_config(conf).logconfig_dict == conf["logconfig_dict"]
    text = load_conf(monkeypatch, LOG_FORMAT="text")
    assert "logconfig_dict" not in text and "%(t)s" in text["access_log_format"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, timeout: float = 2.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, dict(response.headers), response.read()


def wait_until(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def healthy(base: str) -> bool:
    try:
        status, _, body = get(base + "/healthz", timeout=1.0)
    except (urllib.error.URLError, ConnectionError, OSError):
        return False
    return status == 200 and json.loads(body)["status"] == "ok"


def test_real_gunicorn_serves_reloads_on_hup_and_stops_on_term(tmp_path):
    pytest.importorskip("gunicorn")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "KAYAKO_", "OPENAI_")) and k not in ENV_NAMES}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'gunicorn.sqlite3'}",
        TWILIO_VALIDATE_SIGNATURES="false",
        TTS_CACHE_DIR=str(tmp_path / "tts"),
        BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
        WEB_THREADS="2",
        LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
    )
    bin_dir = Path(sys.executable).parent
    migrate = subprocess.run(
        [str(bin_dir / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    assert migrate.returncode == 0, migrate.stderr.decode(errors="replace")[-2000:]

    out, err = (tmp_path / "gunicorn.out").open("wb"), (tmp_path / "gunicorn.err").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(CONF), "wsgi:app"], cwd=ROOT, env=env, stdout=out, stderr=err
    )

    def errlog() -> str:
        return (tmp_path / "gunicorn.err").read_text(errors="replace")

    try:
        wait_until(lambda: healthy(base) or proc.poll() is not None, 15, "gunicorn to answer /healthz")
        assert proc.poll() is None, errlog()[-3000:]
        assert "Using worker: gthread" in errlog()

        # a webhook through the real server: TwiML back, a request id, a JSON log line with the CallSid
        sid = "CA" + "7" * 32
        request = urllib.request.Request(
            base + "/voice/incoming",
            data=f"CallSid={sid}&From=%2B14155550100&CallStatus=ringing".encode(),
            headers={"X-Request-ID": "gunicorn-test-1"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200 and response.headers["X-Request-ID"] == "gunicorn-test-1"
            assert b"<Response>" in response.read()

        with urllib.request.urlopen(base + "/healthz?q=secret%40example.com", timeout=5) as response:
            assert response.status == 200

        # a chunked body (no Content-Length) over the wire: 411, not served from a truncated form. The
        # headers and the first 64 KiB chunk go out, then the answer is read: the server answers from the
        # headers and closes, and a client still pushing the rest (2 MiB) raced that close (a broken pipe)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.putrequest("POST", "/voice/gather?t=1")
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        first = b"CallSid=CA" + b"9" * 32 + b"&SpeechResult=" + b"x" * 65536
        conn.send(b"%x\r\n%s\r\n" % (len(first), first))
        assert conn.getresponse().status == 411
        conn.close()

        booted = errlog().count("Booting worker")
        proc.send_signal(signal.SIGHUP)  # graceful reload: new workers, old ones finish and exit
        wait_until(lambda: errlog().count("Booting worker") > booted, 15, "a new worker after HUP")
        wait_until(lambda: healthy(base), 10, "/healthz after HUP")
        assert "Hang up" in errlog()
        wait_until(lambda: errlog().count("KB index ready: ") >= 2, 15, "the new worker's KB index")

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        out.close()
        err.close()

    # LOG_FORMAT=json: every line of both streams is a JSON object, gunicorn's own too ("Booting worker", "Hang up")
    logs = [json.loads(line) for line in errlog().splitlines()]
    assert any(r["logger"] == "gunicorn.error" and r["message"].startswith("Booting worker") for r in logs)
    access_lines = [json.loads(line) for line in (tmp_path / "gunicorn.out").read_text().splitlines()]
    assert all(r["logger"] == "gunicorn.access" for r in access_lines)
    (incoming,) = [r for r in access_lines if "POST /voice/incoming" in r["message"]]
    assert incoming["request_id"] == "gunicorn-test-1" and " status=200 bytes=" in incoming["message"]
    line = next(r for r in logs if r.get("logger") == "callflow.request" and "/voice/incoming" in r["message"])
    # post_worker_init: every worker (the first, and the one booted by HUP) built its KB index
    # before it served a request.
    warmed = [i for i, r in enumerate(logs) if r.get("logger") == "callflow.kb" and r["message"].startswith("KB index ready: ")]
    served = [i for i, r in enumerate(logs) if r.get("logger") == "callflow.request"]
    assert len(warmed) == 2 and warmed[0] < served[0], (warmed, served[:1])
    assert line["call_sid"] == sid and line["request_id"] == "gunicorn-test-1"
    assert "4155550100" not in errlog()
    access = (tmp_path / "gunicorn.out").read_text(errors="replace")
    assert "GET /healthz" in access  # the access log goes to stdout
    assert "request_id=gunicorn-test-1" in access
    assert "secret%40example.com" not in access and "?q=" not in access  # no query strings


@pytest.mark.parametrize("name, value", [("WEB_CONCURRENCY", "0"), ("WEB_THREADS", "0"), ("WEB_THREADS", "two"),
                                         ("PORT", "-1"), ("GUNICORN_MAX_REQUESTS", "lots")])
def test_a_bad_number_stops_gunicorn_naming_the_variable(monkeypatch, name, value):
    """WEB_CONCURRENCY=0 started a master with no worker: every request hung, with nothing in the log."""
    with pytest.raises(ValueError, match=f"^{name} must be a whole number"):
        load_conf(monkeypatch, **{name: value})
