"""Property-based fuzzing of every webhook (hypothesis): the answer is TwiML or a clean 4xx.

Requests are signed the way Twilio signs them -- HMAC over the public URL and the form as
the server parses it -- so hostile input reaches the handlers instead of stopping at the
403 of the signature check. Each property runs on every database of the suite (SQLite and
PostgreSQL; PostgreSQL, for one, refuses NUL characters in text).
"""
from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from typing import Optional
from urllib.parse import quote, quote_from_bytes, urlencode
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from callflow.extensions import db
from callflow.models import Call, TicketOutbox

from .conftest import DATABASES, PUBLIC_BASE, TOKEN, Caller, base_config, make_app

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
KNOWN_SID = "CA" + "f" * 32
PATHS = ["/voice/incoming", "/voice/gather", "/voice/status"]
CLEAN_4XX = {400, 403, 404, 405, 411, 413}  # 411: a chunked body (callflow.request_body)
FORM = "application/x-www-form-urlencoded"
TWILIO_FIELDS = [
    "CallSid", "AccountSid", "From", "To", "Caller", "Called", "CallStatus", "Direction", "ApiVersion",
    "SpeechResult", "Confidence", "Digits", "CallDuration", "FromCountry", "StableSpeechResult",
]
SPECIALS = [
    "", " ", "\x00", "\x00\x01\x02\x1b[31m", "\r\n\r\n", "\t\v\f", "\u202eevil\u202c", "\u200f\u05e9\u05dc\u05d5\u05dd",
    "\u0645\u0631\u062d\u0628\u0627", "\U0001f642" * 50, "\U0001f469\u200d\U0001f4bb", "\ufeff", "\ufffd",
    "e\u0301" * 30, "\u2028\u2029", "<Say>x</Say>", "]]><Hangup/>", "&amp;&#0;&#x0;", "%00", "%ZZ",
    "-1", "0", "1", "2", "*", "#", "0123456789*#", "1e309", "nan", "inf", "-0.0", "1.5", "9" * 400, "9" * 5000,
    "\u00b2", "\u00b9\u00b2\u00b3", "\u0661\u0662", "\uff11\uff12", "\u2460",  # Unicode "digits" int() may refuse
    "completed", "in-progress", "busy", "no-answer", "failed", "canceled", "ringing", "COMPLETED",
    "+14155550100", "jane dot doe at example dot com", "agent", "yes", "no",
]

control_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=40)
unicode_text = st.text(max_size=300)  # every code point but lone surrogates, which UTF-8 cannot carry
huge_text = st.builds(lambda chunk, n: (chunk * n)[:60_000], st.text(min_size=1, max_size=6), st.integers(500, 20_000))
values = st.one_of(st.sampled_from(SPECIALS), unicode_text, control_text, huge_text)
call_sids = st.one_of(
    st.just(KNOWN_SID),
    st.builds(lambda: "CA" + uuid4().hex),  # unknown to the app
    st.sampled_from(["", " ", "CA", "x" * 64, "x" * 65, "CA\x00", "CA" + "f" * 32 + "\n", "../../etc", "CA%20"]),
    unicode_text,
)
fields = st.dictionaries(st.one_of(st.sampled_from(TWILIO_FIELDS), st.text(max_size=20)), values, max_size=8)
query_values = st.one_of(
    st.integers(-5, 50).map(str),
    st.sampled_from(["", "abc", "1.5", "-1", "99999999999999999999", "9" * 5000, "0x1", "\u0661", "\u00b2", "\uff11"]),
    st.text(max_size=20),
)
queries = st.builds(
    lambda t, r, extra: "&".join(
        part for part in (
            f"t={quote(t, safe='')}" if t is not None else "",
            f"r={quote(r, safe='')}" if r is not None else "",
            extra,
        ) if part
    ),
    st.none() | query_values,
    st.none() | query_values,
    st.sampled_from(["", "t=1&t=2", "t", "=", "&&", "%", "%ZZ", "CallSid=" + KNOWN_SID]),
)


class ErrorRecords(logging.Handler):
    """Collects ERROR records of callflow: hostile input must never cause a database error or a bug."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        found = [f"{r.name}: {r.getMessage()} {r.exc_info[1]!r}" if r.exc_info else f"{r.name}: {r.getMessage()}"
                 for r in self.records]
        self.records.clear()
        return found


@pytest.fixture(scope="module", params=DATABASES)
def fuzz_app(request, tmp_path_factory):
    """One app per database for the whole module, with one call already in progress."""
    tmp = tmp_path_factory.mktemp("fuzz")
    url: Optional[str] = None
    server = None
    if request.param == "postgresql":
        server = request.getfixturevalue("pg_server")
        url = server.create_database()
    app = make_app(base_config(tmp, url))
    Caller(app.test_client(), call_sid=KNOWN_SID).start()
    errors = ErrorRecords()
    logging.getLogger("callflow").addHandler(errors)
    app.extensions["fuzz_errors"] = errors
    yield app
    logging.getLogger("callflow").removeHandler(errors)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if server is not None:
        server.drop_database(url)


def signature_for(path: str, query: str, body: bytes, content_type: Optional[str]) -> str:
    """Sign over what the server will see: the public URL and the form as werkzeug parses it."""
    builder = EnvironBuilder(path=path, method="POST", query_string=query, data=body, content_type=content_type)
    parsed = Request(builder.get_environ())
    url = PUBLIC_BASE + parsed.path + (f"?{parsed.query_string.decode('latin-1')}" if parsed.query_string else "")
    return RequestValidator(TOKEN).compute_signature(url, parsed.form)


def post(app, path: str, body: bytes, *, query: str = "", content_type: Optional[str] = FORM, signed: bool = True):
    headers = {"X-Twilio-Signature": signature_for(path, query, body, content_type)} if signed else {}
    kwargs = {"content_type": content_type} if content_type else {}
    return app.test_client().post(path, query_string=query, data=body, headers=headers, **kwargs)


def encode(form: dict[str, str]) -> bytes:
    return urlencode(form).encode("ascii")


def assert_clean(response, *, signed: bool = True) -> None:
    """200 with a TwiML document, or a clean 4xx; never a 5xx, never a stack trace."""
    body = response.get_data()
    assert response.status_code < 500, body[:2000]
    assert b"Traceback" not in body and b"File \"" not in body
    if response.status_code == 200:
        assert response.mimetype == "text/xml", body[:500]
        assert ET.fromstring(body).tag == "Response"
    else:
        assert response.status_code in CLEAN_4XX, (response.status_code, body[:500])
    if signed:
        assert response.status_code != 403, "a correctly signed request must reach the handler"


def no_errors_logged(app) -> None:
    """Nothing was logged at ERROR (a database error answered with an apology still fails here)."""
    errors = app.extensions["fuzz_errors"].take()
    assert not errors, errors


@FUZZ
@given(path=st.sampled_from(PATHS), sid=st.none() | call_sids, form=fields, query=queries)
# found by fuzzing (kept as fixed examples): Unicode digits that str.isdigit() accepts and int()
# refuses, and NUL characters, which PostgreSQL refuses in text columns
@example(path="/voice/status", sid="CA" + "d" * 32, form={"CallStatus": "ringing", "CallDuration": "\u00b2"}, query="")
@example(path="/voice/status", sid="CA" + "e" * 32, form={"CallStatus": "completed", "CallDuration": "\u00b2"}, query="")
@example(path="/voice/status", sid="CA" + "c" * 32, form={"CallStatus": "completed", "From": "+1\x00"}, query="")
@example(path="/voice/status", sid=KNOWN_SID, form={"CallStatus": "in-progress\x00"}, query="")
@example(path="/voice/incoming", sid="CA" + "b" * 32, form={"From": "\x00", "To": "+1\x00"}, query="")
@example(path="/voice/gather", sid="CA" + "a" * 32, form={"From": "\x00", "SpeechResult": "hi"}, query="t=\u00b2")
def test_fuzzed_form_fields_get_twiml_or_a_clean_4xx(fuzz_app, path, sid, form, query):
    form = dict(form)
    if sid is not None:
        form["CallSid"] = sid
    else:
        form.pop("CallSid", None)
    fuzz_app.extensions["fuzz_errors"].take()
    assert_clean(post(fuzz_app, path, encode(form), query=query))
    no_errors_logged(fuzz_app)


percent_bytes = st.binary(max_size=300).map(lambda raw: quote_from_bytes(raw, safe=""))
raw_bodies = st.one_of(
    # percent-escaped invalid UTF-8 and UTF-8-encoded surrogates (CESU-style), in a real field
    st.builds(
        lambda sid, name, junk: f"CallSid={quote(sid, safe='')}&{name}={junk}&Confidence=%ED%A0%80".encode(),
        call_sids, st.sampled_from(TWILIO_FIELDS), percent_bytes | st.sampled_from(["%ED%A0%80%ED%B0%80", "%C0%80", "%FF%FE", "%E2%82"]),
    ),
    st.binary(max_size=2000),  # not even a form
    st.builds(lambda raw: b"CallSid=" + KNOWN_SID.encode() + b"&SpeechResult=" + raw, st.binary(max_size=500)),
)
content_types = st.sampled_from(
    [FORM, FORM + "; charset=latin-1", FORM + "; charset=nonsense", "multipart/form-data", "multipart/form-data; boundary=x",
     "text/plain", "application/json", "application/xml", None]
)


@FUZZ
@given(path=st.sampled_from(PATHS), body=raw_bodies, query=queries, content_type=content_types)
def test_fuzzed_raw_bodies_get_twiml_or_a_clean_4xx(fuzz_app, path, body, query, content_type):
    fuzz_app.extensions["fuzz_errors"].take()
    assert_clean(post(fuzz_app, path, body, query=query, content_type=content_type))
    no_errors_logged(fuzz_app)


@FUZZ
@given(
    path=st.sampled_from(PATHS),
    method=st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "HEAD"]),
    form=fields,
    query=queries,
)
def test_wrong_methods_are_405(fuzz_app, path, method, form, query):
    body = encode(dict(form, CallSid=KNOWN_SID))
    response = fuzz_app.test_client().open(path, method=method, query_string=query, data=body, content_type=FORM)
    assert response.status_code == 405
    assert b"Traceback" not in response.get_data()


@settings(FUZZ, max_examples=50)
@given(
    path=st.sampled_from(PATHS),
    form=fields,
    query=queries,
    signature=st.none() | st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
)
def test_unsigned_or_forged_requests_are_403(fuzz_app, path, form, query, signature):
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    response = fuzz_app.test_client().post(path, query_string=query, data=encode(dict(form, CallSid=KNOWN_SID)), headers=headers)
    assert response.status_code in (403, 413)
    assert b"Traceback" not in response.get_data()


turns = st.lists(
    st.fixed_dictionaries(
        {},
        optional={"SpeechResult": values, "Digits": values, "Confidence": values, "CallStatus": values},
    ),
    min_size=1,
    max_size=8,
)


tokens = (
    st.none()
    | st.sampled_from(["", "tok-1", "x" * 199, "x" * 200, "x" * 201, "x" * 4000, "tok\x00-1", "\x00", "\x7f\x01 \xe9"])
    | st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=300)
    # any Latin-1 header value but CR/LF (which the test client refuses): PostgreSQL text refuses NUL
    | st.text(alphabet=st.characters(max_codepoint=0xFF, exclude_characters="\r\n"), max_size=40)
)


@settings(FUZZ, max_examples=40)
@given(
    turns=turns,
    replay=st.booleans(),
    token=tokens,
    hang_up_with=st.sampled_from(["completed", "busy", "in-progress", "", "\x00"]),
    duration=values,
)
# found by fuzzing on PostgreSQL: a 500-character "name" overflowed call.name (VARCHAR(120)), and an
# idempotency token over 200 characters overflowed call.last_request_token (VARCHAR(200))
@example(turns=[{"SpeechResult": "A" * 500}], replay=False, token=None, hang_up_with="completed", duration="")
@example(turns=[{"SpeechResult": "Maria"}], replay=True, token="x" * 4000, hang_up_with="completed", duration="")
# found on PostgreSQL: a NUL in the idempotency token made the call's row unwritable (an apology, an error logged)
@example(turns=[{"SpeechResult": "Maria"}], replay=True, token="tok\x00-1", hang_up_with="completed", duration="")
def test_fuzzed_conversations_stay_twiml(fuzz_app, turns, replay, token, hang_up_with, duration):
    """Whole calls with fuzzed turns, following the Gather action like Twilio, then the status callback."""
    fuzz_app.extensions["fuzz_errors"].take()
    client = fuzz_app.test_client()
    caller = Caller(client)
    assert_clean(caller.post("/voice/incoming", caller.params(CallStatus="ringing")))
    caller._follow(caller.responses[-1])
    headers = {} if token is None else {"I-Twilio-Idempotency-Token": token}
    for extra in turns:
        if not caller.action:
            break
        action = caller.action
        response = caller.post(action, caller.params(**extra), headers=headers)
        assert_clean(response)
        if response.status_code != 200:
            break
        if replay:  # Twilio retrying the same Gather: same answer
            again = caller.post(action, caller.params(**extra), headers=headers)
            assert_clean(again)
            if token:
                assert again.data == response.data
        caller._follow(response)
    assert_clean(caller.post("/voice/status", caller.params(CallStatus=hang_up_with, CallDuration=duration)))
    no_errors_logged(fuzz_app)


# Caller lines that keep a call going if anything can: yes/no, silence, keys, addresses, questions.
CALLER_LINES = [
    None, "", "yes", "yeah sure", "no", "nope", "maybe", "hmm", "what", "1", "2", "9", "*",
    "jane at example dot com", "john dot smith at gmail dot com", "j a n e at example dot org", "at dot",
    "how do I reset my password", "how do I export my tickets", "my dog barks every morning",
    "can you repeat that", "thanks", "okay", "I have another question", "Jane Doe",
]
#: A call ends (hangs up) within this many caller turns, whatever the caller says: greeting and
#: retries, 3 email attempts with their re-prompts, and at most MAX_QUESTIONS answered questions
#: (the longest call found by hand takes 48, see the example below).
MAX_CALLER_TURNS = 80


@settings(FUZZ, max_examples=40)
@given(script=st.lists(st.sampled_from(CALLER_LINES), min_size=1, max_size=60), cycle=st.integers(1, 5))
@example(script=["Jane", "jane at example dot com", "yes", "yes"], cycle=5)  # "yes" forever
@example(script=["Jane", "jane at example dot com", "yes", "how do I reset my password", "yes"], cycle=5)
# the longest call found by hand (48 caller turns): every re-prompt, all 3 email attempts, 5 questions
@example(script=[None, None, "Jane", None, None, "at dot", None, None, "at dot", None, None, "jane at example dot com",
                 "maybe", "maybe", "no it is john dot smith at gmail dot com"]
         + ["yes", "yes", "how do I reset my password", "maybe", "maybe", "yes"] * 6, cycle=1)
def test_every_call_ends_and_leaves_one_ticket(fuzz_app, script, cycle):
    """The caller repeats ``script`` (its tail for ever, ``cycle`` times over): the call hangs up
    within MAX_CALLER_TURNS turns, and the status callback leaves exactly one ticket."""
    fuzz_app.extensions["fuzz_errors"].take()
    caller = Caller(fuzz_app.test_client())
    caller.start()
    lines = script + script[-1:] * 10 * cycle + script * cycle + script[-1:] * 200
    turns = 0
    for line in lines:
        if not caller.action:
            break
        turns += 1
        assert turns <= MAX_CALLER_TURNS, f"still listening after {MAX_CALLER_TURNS} caller turns"
        caller.say(line)
        assert_clean(caller.responses[-1])
    assert caller.hung_up
    assert_clean(caller.post("/voice/status", caller.params(CallStatus="completed", CallDuration="60")))
    with fuzz_app.app_context():
        call_id = db.session.scalar(select(Call.id).where(Call.call_sid == caller.call_sid))
        assert db.session.scalar(select(func.count()).select_from(TicketOutbox).where(TicketOutbox.call_id == call_id)) == 1
    no_errors_logged(fuzz_app)
