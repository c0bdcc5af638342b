"""Tests for callflow.simulate: the simulator drives a fake callflow server over real HTTP.

The fake server (Flask on werkzeug's ``make_server``, random port, own thread) answers scripted
TwiML built with ``VoiceResponse``, checks ``X-Twilio-Signature`` with ``RequestValidator`` against
a public base URL that differs from the address it listens on (as behind ngrok), sets a cookie on
the first answer and records every request.
"""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse
from werkzeug.serving import make_server

from callflow import simulate
from callflow.simulate import parse_caller_line, read_script, run_call, simulate_command

PUBLIC = "https://abc.ngrok.app"
TOKEN = "test-auth-token-0123456789abcdef"
COOKIE = "sim_session"


class FakeCallflow:
    """A scripted callflow server on 127.0.0.1.

    ``routes`` maps a path to a ``VoiceResponse``, a TwiML/other string, a ``flask.Response`` or a
    callable ``record -> one of those``. ``/voice/status`` answers 204. Unknown paths answer 404.
    """

    def __init__(self, routes, *, public=PUBLIC, token=TOKEN):
        self.routes = routes
        self.public = public
        self.token = token
        self.requests: list[dict] = []
        self.counts: dict[str, int] = {}
        app = Flask("fake_callflow")

        @app.route("/<path:_path>", methods=["GET", "POST"])
        def handle(_path):
            return self.handle()

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def handle(self):
        query = request.query_string.decode()
        public_url = self.public + request.path + (f"?{query}" if query else "")
        signature = request.headers.get("X-Twilio-Signature")
        params = request.form if request.method == "POST" else {}
        signature_ok = None
        if self.token:
            signature_ok = RequestValidator(self.token).validate(public_url, params, signature or "")
        record = {
            "method": request.method,
            "path": request.path,
            "args": request.args.to_dict(),
            "form": request.form.to_dict(),
            "headers": dict(request.headers),
            "signature": signature,
            "signature_ok": signature_ok,
            "cookie": request.cookies.get(COOKIE),
        }
        self.requests.append(record)
        self.counts[request.path] = self.counts.get(request.path, 0) + 1
        if signature_ok is False:
            return Response("bad signature", status=403)
        if request.path == "/voice/status":
            return Response(status=204)
        route = self.routes.get(request.path)
        if route is None:
            return Response("not found", status=404)
        answer = route(record) if callable(route) else route
        if isinstance(answer, VoiceResponse):
            answer = Response(str(answer), mimetype="text/xml")
        elif isinstance(answer, str):
            answer = Response(answer, mimetype="text/xml")
        if len(self.requests) == 1:
            answer.set_cookie(COOKIE, "cookie-123")
        return answer

    @property
    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def fake_server():
    servers = []

    def start(routes, **kwargs):
        server = FakeCallflow(routes, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def gather_twiml(say="How can I help?", *, then=None, **gather_kwargs) -> VoiceResponse:
    """A ``<Response>`` with one speech Gather (kwargs are Gather attributes), then ``then(vr)``."""
    vr = VoiceResponse()
    kwargs = {"input": "speech dtmf", "action": "/voice/turn", "method": "POST"}
    kwargs.update(gather_kwargs)
    gather = Gather(**kwargs)
    gather.say(say)
    vr.append(gather)
    if then:
        then(vr)
    return vr


def goodbye() -> VoiceResponse:
    vr = VoiceResponse()
    vr.say("Goodbye.")
    vr.hangup()
    return vr


def call(server, lines, **kwargs):
    out: list[str] = []
    kwargs.setdefault("auth_token", TOKEN)
    kwargs.setdefault("public_base_url", PUBLIC)
    result = run_call(server.url, lines, out=out.append, **kwargs)
    return result, out


# --------------------------------------------------------------------------- conversation


def test_speech_turn_follows_relative_action_with_signature_cookie_and_headers(fake_server):
    first = gather_twiml("Hi, how can I help?", action="/voice/turn?s=1", action_on_empty_result=True)
    first.verbs[0].play("https://cdn.example/tts/abc.mp3")
    last = VoiceResponse()
    last.say("Thanks, a ticket is on its way.")
    last.hangup()
    last.say("never spoken")
    server = fake_server({"/voice/incoming": first, "/voice/turn": last})

    result, out = call(server, ["My printer is on fire", "unused line"])

    assert result.ended_by == "hangup"
    assert result.turns == 2
    assert re.fullmatch(r"CA[0-9a-f]{32}", result.call_sid)
    assert result.prompts == ["Hi, how can I help?", "[audio] https://cdn.example/tts/abc.mp3",
                              "Thanks, a ticket is on its way."]
    assert result.transcript == [
        ("agent", "Hi, how can I help?"),
        ("agent", "[audio] https://cdn.example/tts/abc.mp3"),
        ("caller", "My printer is on fire"),
        ("agent", "Thanks, a ticket is on its way."),
    ]
    assert "agent> Hi, how can I help?" in out
    assert "agent> [audio] https://cdn.example/tts/abc.mp3" in out
    assert "caller> My printer is on fire" in out
    assert not any("never spoken" in line for line in out)

    assert server.paths == ["/voice/incoming", "/voice/turn", "/voice/status"]
    incoming, turn, status = server.requests
    assert all(r["signature_ok"] for r in server.requests)
    assert incoming["form"]["CallStatus"] == "ringing"
    assert re.fullmatch(r"AC[0-9a-f]{32}", incoming["form"]["AccountSid"])
    for key, value in {"From": "+15005550006", "To": "+15005550001", "Caller": "+15005550006",
                       "Called": "+15005550001", "Direction": "inbound", "ApiVersion": "2010-04-01",
                       "CallSid": result.call_sid}.items():
        assert incoming["form"][key] == value
    assert "FromCountry" in incoming["form"]
    assert turn["args"] == {"s": "1"}
    assert turn["form"]["SpeechResult"] == "My printer is on fire"
    assert turn["form"]["Confidence"] == "0.92"
    assert turn["form"]["CallStatus"] == "in-progress"
    assert {r["form"]["CallSid"] for r in server.requests} == {result.call_sid}
    assert {r["form"]["AccountSid"] for r in server.requests} == {incoming["form"]["AccountSid"]}
    # Cookies are kept per call, like Twilio.
    assert incoming["cookie"] is None
    assert turn["cookie"] == "cookie-123" and status["cookie"] == "cookie-123"
    # Twilio's headers.
    tokens = set()
    for r in server.requests:
        assert r["headers"]["User-Agent"] == "TwilioProxy/1.1"
        assert r["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
        tokens.add(r["headers"]["I-Twilio-Idempotency-Token"])
    assert len(tokens) == 3


def test_absolute_public_urls_go_to_the_real_server_and_signatures_validate(fake_server):
    def redirect_to(url):
        vr = VoiceResponse()
        vr.redirect(url, method="POST")
        return vr

    server = fake_server({
        "/voice/incoming": gather_twiml(action=f"{PUBLIC}/voice/turn?s=2&t=a%20b"),
        "/voice/turn": redirect_to(f"{PUBLIC}/voice/next?x=1"),
        "/voice/next": redirect_to("?step=3"),           # query-only relative URL
        "/voice/final": goodbye(),
    })
    server.routes["/voice/next"] = lambda r: (
        redirect_to("?step=3") if r["args"] == {"x": "1"} else redirect_to("final#rc=2"))

    result, _ = call(server, ["hello"])

    assert result.ended_by == "hangup"
    assert server.paths == ["/voice/incoming", "/voice/turn", "/voice/next", "/voice/next",
                            "/voice/final", "/voice/status"]
    assert [r["args"] for r in server.requests[1:4]] == [{"s": "2", "t": "a b"}, {"x": "1"}, {"step": "3"}]
    assert all(r["signature_ok"] for r in server.requests)
    assert server.requests[2]["form"].get("SpeechResult") is None  # Redirect: standard params only


def test_get_method_sends_params_in_query_and_signs_full_url(fake_server):
    server = fake_server({"/voice/incoming": gather_twiml(method="GET"), "/voice/turn": goodbye()})

    result, _ = call(server, ["what is my ticket status"])

    turn = server.requests[1]
    assert turn["method"] == "GET"
    assert turn["args"]["SpeechResult"] == "what is my ticket status"
    assert turn["args"]["CallSid"] == result.call_sid
    assert turn["signature_ok"]


def test_unsigned_without_auth_token(fake_server):
    server = fake_server({"/voice/incoming": goodbye()}, token=None)

    result, _ = call(server, [], auth_token=None)

    assert result.ended_by == "hangup"
    assert all(r["signature"] is None for r in server.requests)


# --------------------------------------------------------------------------- silence and keys


@pytest.mark.parametrize("silence", ["", None, "   "])
def test_silence_with_action_on_empty_result_posts_without_speech(fake_server, silence):
    server = fake_server({"/voice/incoming": gather_twiml(action_on_empty_result=True),
                          "/voice/turn": goodbye()})

    result, out = call(server, [silence])

    assert server.paths == ["/voice/incoming", "/voice/turn", "/voice/status"]
    form = server.requests[1]["form"]
    assert "SpeechResult" not in form and "Confidence" not in form and "Digits" not in form
    assert form["CallStatus"] == "in-progress"
    assert ("caller", "") in result.transcript
    assert "caller> (silence)" in out


def test_silence_without_action_on_empty_result_falls_through_to_redirect(fake_server):
    server = fake_server({
        "/voice/incoming": gather_twiml(then=lambda vr: vr.redirect("/voice/noinput", method="POST")),
        "/voice/noinput": goodbye(),
        "/voice/turn": goodbye(),
    })

    result, _ = call(server, [""])

    assert server.paths == ["/voice/incoming", "/voice/noinput", "/voice/status"]
    assert "SpeechResult" not in server.requests[1]["form"]
    assert result.ended_by == "hangup"


def test_silence_with_nothing_after_the_gather_ends_the_call(fake_server):
    server = fake_server({"/voice/incoming": gather_twiml()})

    result, _ = call(server, [None])

    assert result.ended_by == "end"
    assert server.paths == ["/voice/incoming", "/voice/status"]


def test_dtmf_lines_send_digits(fake_server):
    def turn(record):
        return goodbye() if server.counts["/voice/turn"] >= 3 else gather_twiml("Again?")

    server = fake_server({"/voice/incoming": gather_twiml(), "/voice/turn": turn})

    result, out = call(server, ["#1", "dtmf:2", "#12#9"])

    turns = [r["form"] for r in server.requests if r["path"] == "/voice/turn"]
    assert [f["Digits"] for f in turns] == ["1", "2", "12"]  # finishOnKey "#" ends the entry
    assert all("SpeechResult" not in f for f in turns)
    assert "caller> [keys] 1" in out
    assert result.ended_by == "hangup"


def test_num_digits_and_custom_finish_key(fake_server):
    server = fake_server({"/voice/incoming": gather_twiml(num_digits=2, finish_on_key="*"),
                          "/voice/turn": goodbye()})

    call(server, ["##123"])

    assert server.requests[1]["form"]["Digits"] == "#1"


def test_speech_to_a_dtmf_only_gather_is_silence(fake_server):
    server = fake_server({"/voice/incoming": gather_twiml(input="dtmf", action_on_empty_result=True),
                          "/voice/turn": goodbye()})

    _, out = call(server, ["I want to talk to someone"])

    assert "SpeechResult" not in server.requests[1]["form"]
    assert any("does not listen for speech" in line for line in out)


# --------------------------------------------------------------------------- ending the call


def test_script_running_out_means_the_caller_hangs_up(fake_server):
    server = fake_server({"/voice/incoming": gather_twiml(), "/voice/turn": gather_twiml("More?")})

    result, _ = call(server, ["first"])

    assert result.ended_by == "caller_hangup"
    assert server.paths == ["/voice/incoming", "/voice/turn", "/voice/status"]
    assert server.requests[-1]["form"]["CallStatus"] == "completed"


def test_hangup_line_hangs_up(fake_server):
    server = fake_server({"/voice/incoming": gather_twiml(), "/voice/turn": goodbye()})

    result, _ = call(server, ["/hangup", "never sent"])

    assert result.ended_by == "caller_hangup"
    assert server.paths == ["/voice/incoming", "/voice/status"]


def test_max_turns_bounds_a_looping_server(fake_server):
    loop = VoiceResponse()
    loop.redirect("/voice/loop")
    server = fake_server({"/voice/incoming": loop, "/voice/loop": loop})

    result, out = call(server, [], max_turns=5)

    assert result.ended_by == "max_turns"
    assert result.turns == 5
    assert server.paths == ["/voice/incoming"] + ["/voice/loop"] * 4 + ["/voice/status"]
    assert any("stopping" in line for line in out)


@pytest.mark.parametrize("answer, expected", [
    (Response("Traceback: boom", status=500), "HTTP 500"),
    (Response("hello there", mimetype="text/plain"), "not TwiML"),
    (Response("this is <not xml", mimetype="text/xml"), "not XML"),
    (Response("<Foo/>", mimetype="text/xml"), "not <Response>"),
])
def test_bad_answer_ends_with_error_and_still_sends_status(fake_server, answer, expected):
    server = fake_server({"/voice/incoming": gather_twiml(), "/voice/turn": lambda r: answer})

    result, out = call(server, ["hello"])

    assert result.ended_by == "error"
    assert expected in result.error
    assert any(line.startswith("[sim] error:") and expected in line for line in out)
    assert server.paths == ["/voice/incoming", "/voice/turn", "/voice/status"]
    assert server.requests[-1]["form"]["CallStatus"] == "completed"
    assert result.status_callback_code == 204


def test_unreachable_server_is_an_error_not_an_exception():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out: list[str] = []

    result = run_call(f"http://127.0.0.1:{port}", [], out=out.append)

    assert result.ended_by == "error"
    assert "could not reach" in result.error
    assert result.status_callback_code is None


def test_status_callback_params(fake_server, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(simulate, "_now", lambda: clock[0])

    def turn(record):
        clock[0] += 7.6  # the caller talked for a while
        return goodbye()

    server = fake_server({"/voice/incoming": gather_twiml(), "/voice/turn": turn})

    result, _ = call(server, ["hello"])

    status = server.requests[-1]
    assert status["path"] == "/voice/status" and status["method"] == "POST"
    assert status["signature_ok"]
    form = status["form"]
    assert form["CallStatus"] == "completed"
    assert form["CallDuration"] == "7"
    assert form["CallSid"] == result.call_sid
    assert form["From"] == "+15005550006" and form["Direction"] == "inbound"
    assert form["Timestamp"] and form["CallbackSource"] == "call-progress-events"
    assert result.duration == 7 and result.status_callback_code == 204


def test_send_status_false_skips_the_callback(fake_server):
    server = fake_server({"/voice/incoming": goodbye()})

    call(server, [], send_status=False)

    assert server.paths == ["/voice/incoming"]


def test_callable_source_gets_the_prompt_and_eof_hangs_up(fake_server):
    server = fake_server({"/voice/incoming": gather_twiml("Hello, caller."),
                          "/voice/turn": gather_twiml("Anything else?")})
    seen: list[str] = []

    def ask(prompt):
        seen.append(prompt)
        if len(seen) > 1:
            raise EOFError
        return "my order is late"

    result, out = call(server, ask)

    assert seen == ["Hello, caller.", "Anything else?"]
    assert result.ended_by == "caller_hangup"
    assert server.requests[1]["form"]["SpeechResult"] == "my order is late"
    assert not any(line.startswith("caller>") for line in out)  # the prompt already shows it


def test_session_is_reused_when_given(fake_server):
    server = fake_server({"/voice/incoming": goodbye()})
    with requests.Session() as session:
        call(server, [], session=session)
        assert session.cookies.get(COOKIE) == "cookie-123"


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError):
        run_call("127.0.0.1:5000", [])
    with pytest.raises(ValueError):
        run_call("http://127.0.0.1:5000", [], max_turns=0)


# --------------------------------------------------------------------------- script syntax


@pytest.mark.parametrize("line, expected", [
    (None, ("silence", "")),
    ("", ("silence", "")),
    ("  \t", ("silence", "")),
    ("#1", ("dtmf", "1")),
    ("#12*#", ("dtmf", "12*#")),
    ("dtmf:42", ("dtmf", "42")),
    ("DTMF: 7", ("dtmf", "7")),
    ("/hangup", ("hangup", "")),
    ("  my laptop is broken ", ("speech", "my laptop is broken")),
    ("press 1", ("speech", "press 1")),
])
def test_parse_caller_line(line, expected):
    assert parse_caller_line(line) == expected


def test_read_script(tmp_path):
    path = tmp_path / "call.txt"
    path.write_text(
        "# a comment\n"
        "  Hi, my printer is broken  \n"
        "\n"
        "#1\n"
        "#not keys, a comment\n"
        "dtmf:23\n"
        "#\n"
        "Jane Doe\n"
        "/hangup\n",
        encoding="utf-8",
    )

    assert read_script(path) == ["Hi, my printer is broken", "", "#1", "dtmf:23", "Jane Doe", "/hangup"]
    assert read_script(str(path))[0] == "Hi, my printer is broken"


# --------------------------------------------------------------------------- CLI


def cli_app(lookup=None) -> Flask:
    app = Flask("cli_app")
    app.config.update(TWILIO_AUTH_TOKEN=TOKEN, PUBLIC_BASE_URL=PUBLIC)
    if lookup is not None:
        app.extensions["ticket_lookup"] = lookup
    app.cli.add_command(simulate_command)
    return app


def test_simulate_command_with_script_prints_conversation_and_ticket(fake_server, tmp_path):
    server = fake_server({"/voice/incoming": gather_twiml("Hi, how can I help?"), "/voice/turn": goodbye()})
    looked_up: list[str] = []

    def lookup(call_sid):
        looked_up.append(call_sid)
        return {
            "subject": "Printer on fire",
            "priority": "urgent",
            "tags": ["phone", "hardware"],
            "requester": {"name": "Jane Doe", "email": "jane@example.com", "phone": "+15005550006"},
            "outcome": "ticket_created",
            "summary": "Caller reports the printer is on fire.",
            "status": "queued",
        }

    script = tmp_path / "call.txt"
    script.write_text("# caller\nMy printer is on fire\n", encoding="utf-8")
    app = cli_app(lookup)

    result = app.test_cli_runner().invoke(simulate_command, ["--url", server.url, "--script", str(script)])

    assert result.exit_code == 0, result.output
    assert "agent> Hi, how can I help?" in result.output
    assert "caller> My printer is on fire" in result.output
    assert "agent> Goodbye." in result.output
    sid = server.requests[0]["form"]["CallSid"]
    assert looked_up == [sid]
    assert f"ticket queued for {sid}" in result.output
    for text in ("Printer on fire", "urgent", "phone, hardware", "Jane Doe", "jane@example.com",
                 "ticket_created", "Caller reports the printer is on fire.", "queued"):
        assert text in result.output
    assert all(r["signature_ok"] for r in server.requests)


def test_simulate_command_interactive_and_no_ticket(fake_server):
    server = fake_server({"/voice/incoming": gather_twiml("Hello?"), "/voice/turn": gather_twiml("And?")})
    app = cli_app(lambda sid: None)

    result = app.test_cli_runner().invoke(
        simulate_command, ["--url", server.url, "--from", "+15005550009"], input="hello there\n")

    assert result.exit_code == 1, result.output  # every call ends with a ticket: none found is a failure
    assert "agent> Hello?" in result.output
    assert "caller> hello there" in result.output  # the echoed prompt input
    assert f"no ticket for {server.requests[0]['form']['CallSid']} in this app's database" in result.output
    assert "DATABASE_URL" in result.output
    assert server.requests[1]["form"]["SpeechResult"] == "hello there"
    assert server.requests[0]["form"]["From"] == "+15005550009"


def test_simulate_command_exits_1_on_server_error(fake_server, tmp_path):
    server = fake_server({"/voice/incoming": lambda r: Response("boom", status=500)})
    script = tmp_path / "call.txt"
    script.write_text("hello\n", encoding="utf-8")
    app = cli_app(lambda sid: None)

    result = app.test_cli_runner().invoke(simulate_command, ["--url", server.url, "--script", str(script)])

    assert result.exit_code == 1
    assert "HTTP 500" in result.output
    assert server.paths == ["/voice/incoming", "/voice/status"]


def test_piped_stdin_shows_each_caller_line_in_the_transcript(fake_server):
    """``printf ... | flask simulate``: a pipe does not echo what it feeds, so the simulator must (before: the
    transcript read ``caller> agent> And?`` and the caller's words were nowhere). A real process: click's
    test runner echoes prompt input by itself."""
    server = fake_server({"/voice/incoming": gather_twiml("Hello?"), "/voice/turn": gather_twiml("And?")})

    proc = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "tests.test_simulate:cli_app()", "simulate", "--url", server.url],
        input="hello there\n\n", capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )

    lines = proc.stdout.splitlines()
    assert "caller> hello there" in lines, proc.stdout + proc.stderr
    assert lines.index("caller> hello there") == lines.index("agent> Hello?") + 1
    assert lines[lines.index("agent> And?") + 1] == "caller> "  # the blank line: silence, on its own line
    assert not any(line.startswith("caller> agent>") for line in lines)
    assert server.requests[1]["form"]["SpeechResult"] == "hello there"


def test_403_without_a_token_says_what_to_set(fake_server):
    server = fake_server({"/voice/incoming": goodbye()})  # checks signatures with TOKEN

    result, out = call(server, [], auth_token=None)

    assert result.ended_by == "error" and "HTTP 403" in result.error
    hint = next(line for line in out if line.startswith("[sim] hint:"))
    assert "TWILIO_AUTH_TOKEN" in hint and "TWILIO_VALIDATE_SIGNATURES=false" in hint


def test_403_with_a_wrong_token_names_the_url_signed(fake_server):
    server = fake_server({"/voice/incoming": goodbye()})

    result, out = call(server, [], auth_token="some-other-token-0123456789")

    assert result.ended_by == "error"
    hint = next(line for line in out if line.startswith("[sim] hint:"))
    assert PUBLIC in hint and "PUBLIC_BASE_URL" in hint and "TWILIO_AUTH_TOKEN" in hint


def test_403_from_a_server_without_a_token_says_so(fake_server):
    body = ("signature validation is on but TWILIO_AUTH_TOKEN is not set "
            "(set it, or TWILIO_VALIDATE_SIGNATURES=false for development)\n")
    server = fake_server({"/voice/incoming": lambda r: Response(body, status=403, mimetype="text/plain")},
                         token=None)

    _, out = call(server, [], auth_token=None)

    hint = next(line for line in out if line.startswith("[sim] hint:"))
    assert "the server has no TWILIO_AUTH_TOKEN" in hint


def test_404_at_incoming_points_at_the_url(fake_server):
    server = fake_server({"/voice/incoming": goodbye()})

    out: list[str] = []
    result = run_call(server.url + "/voice/incoming", [], auth_token=TOKEN, public_base_url=PUBLIC + "/voice/incoming",
                      out=out.append)

    assert result.ended_by == "error" and "HTTP 404" in result.error
    hint = next(line for line in out if line.startswith("[sim] hint:"))
    assert "--url" in hint and "without /voice/incoming" in hint


def test_unreachable_server_says_start_it_without_urllib3_noise():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out: list[str] = []

    result = run_call(f"http://127.0.0.1:{port}", [], out=out.append)

    assert f"could not reach the server at http://127.0.0.1:{port}" in result.error
    assert "HTTPConnectionPool" not in result.error and "Max retries" not in result.error
    assert any(line.startswith("[sim] hint:") and "make run" in line and "--url" in line for line in out)


def test_simulate_command_failed_call_does_not_wait_for_a_ticket(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = cli_app(lambda sid: None)

    result = app.test_cli_runner().invoke(simulate_command, ["--url", f"http://127.0.0.1:{port}"], input="")

    assert result.exit_code == 1
    assert "the call failed (see the error above)" in result.output
    assert "queued yet" not in result.output


def test_simulate_command_lookup_error_is_one_line_naming_the_database(fake_server, tmp_path):
    server = fake_server({"/voice/incoming": goodbye()})

    def lookup(call_sid):
        raise RuntimeError("(sqlite3.OperationalError) no such table: call\n[SQL: SELECT call.id, call.email FROM call]")

    app = cli_app(lookup)
    app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://qa:s3cret@db.internal/other"

    result = app.test_cli_runner().invoke(simulate_command, ["--url", server.url], input="")

    assert result.exit_code == 1
    assert "no such table: call" in result.output
    assert "[SQL:" not in result.output and "s3cret" not in result.output
    assert "postgresql+psycopg://qa:***@db.internal/other" in result.output
    assert "DATABASE_URL" in result.output


def test_simulate_command_script_not_utf8_is_a_usage_error(tmp_path):
    script = tmp_path / "call.txt"
    script.write_bytes(b"caf\xe9\n")

    result = cli_app().test_cli_runner().invoke(simulate_command, ["--script", str(script)])

    assert result.exit_code == 2
    assert "'--script'" in result.output and "not UTF-8" in result.output
    assert not isinstance(result.exception, UnicodeDecodeError)


def test_simulate_command_bad_url_names_the_option():
    result = cli_app().test_cli_runner().invoke(simulate_command, ["--url", "127.0.0.1:5000"])

    assert result.exit_code == 2
    assert "--url must be an absolute http(s) URL" in result.output
    assert "signed" not in result.output  # nothing else is said before the usage error


def test_ticket_lines_keep_a_space_after_long_keys():
    lines = simulate._format_ticket({"subject": "S", "email_confirmed": True, "duration_s": 64, "id": 3})

    assert "  email_confirmed: True" in lines and "  duration_s: 64" in lines
    assert "  subject:   S" in lines
