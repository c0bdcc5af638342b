"""Webhook TwiML, signature validation, replays and hostile input."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from callflow import prompts
from callflow.extensions import db
from callflow.models import Call, Turn

from .conftest import PUBLIC_BASE, sign


def test_incoming_greets_inside_a_speech_gather(caller):
    root = caller.start()
    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("input") == "speech dtmf"
    assert gather.get("actionOnEmptyResult") == "true"
    assert gather.get("speechTimeout") == "auto"
    assert gather.get("language") == "en-US"
    assert gather.get("method") == "POST"
    assert gather.get("action").startswith(PUBLIC_BASE + "/voice/gather")
    assert [child.tag for child in gather] == ["Say", "Say"]
    assert gather[0].text == prompts.GREETING and gather[0].get("voice") == "Polly.Joanna-Neural"
    # a safety net after the Gather posts to the same action
    assert root[1].tag == "Redirect" and root[1].text == gather.get("action")


def test_the_email_steps_wait_longer_for_the_end_of_speech(app, caller):
    """speechTimeout="auto" ends speech at a pause of about half a second: a spelled address was cut mid-letters."""
    assert caller.start().find("Gather").get("speechTimeout") == "auto"
    assert caller.say("Bo").find("Gather").get("speechTimeout") == "2"  # "What's the email address...?"
    assert caller.say("bo at example dot com").find("Gather").get("speechTimeout") == "2"  # the read-back
    assert caller.say("yes").find("Gather").get("speechTimeout") == "auto"  # "How can I help you today?"
    app.config["EMAIL_SPEECH_TIMEOUT_S"] = 3
    other = type(caller)(app.test_client())
    other.start()
    assert other.say("Al").find("Gather").get("speechTimeout") == "3"


def test_answer_state_gather_has_kb_hints_within_twilio_limits(caller):
    caller.start()
    caller.say("Bo")
    caller.say("bo at example dot com")
    root = caller.say("yes")
    hints = root.find("Gather").get("hints")
    assert hints
    phrases = hints.split(",")
    assert 0 < len(phrases) <= 500 and all(0 < len(p) <= 100 for p in phrases)


def test_response_is_valid_twiml_document(client, caller):
    response = caller.post("/voice/incoming", caller.params())
    assert response.headers["Content-Type"].startswith("text/xml")
    assert response.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert len(response.data) < 64 * 1024


@pytest.mark.parametrize("path", ["/voice/incoming", "/voice/gather?t=1", "/voice/status"])
def test_forged_signature_is_rejected(client, caller, path):
    response = client.post(path, data=caller.params(), headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/voice/incoming", "/voice/status"])
def test_missing_signature_is_rejected(client, caller, path):
    assert caller.post(path, caller.params(), signed=False).status_code == 403


def test_signature_over_other_params_is_rejected(client, caller):
    params = caller.params()
    signature = sign(PUBLIC_BASE + "/voice/incoming", params)
    params["From"] = "+19999999999"
    response = client.post("/voice/incoming", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_valid_signature_with_twilio_test_vector():
    from twilio.request_validator import RequestValidator

    params = {"CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+14158675309", "To": "+18005551212", "Caller": "+14158675309"}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert RequestValidator("12345").validate(url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert sign(url, params, token="12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_no_token_means_no_signature_needed(tmp_path):
    from .conftest import base_config, make_app

    config = base_config(tmp_path)
    config["TWILIO_AUTH_TOKEN"] = None
    config["TWILIO_VALIDATE_SIGNATURES"] = False  # development only: validation explicitly off
    app = make_app(config, load_kb=False)
    response = app.test_client().post("/voice/incoming", data={"CallSid": "CA" + "1" * 32})
    assert response.status_code == 200


def test_replayed_gather_with_same_idempotency_token_returns_same_twiml(app, caller):
    caller.start()
    action = caller.action
    first = caller.post(action, caller.params(SpeechResult="Maria"), headers={"I-Twilio-Idempotency-Token": "tok-1"})
    again = caller.post(action, caller.params(SpeechResult="Maria"), headers={"I-Twilio-Idempotency-Token": "tok-1"})
    assert first.data == again.data
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid))
        assert call.state == "collect_email"
        assert len([t for t in call.turns if t.speaker == "caller"]) == 1


def test_stale_gather_sequence_does_not_move_the_machine(app, caller):
    caller.start()
    stale_action = caller.action
    caller.say("Maria")
    current = caller.responses[-1].data
    replay = caller.post(stale_action, caller.params(SpeechResult="something else entirely"))
    assert replay.data == current
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid))
        assert call.state == "collect_email" and call.name == "Maria"


def test_incoming_retry_does_not_restart_the_call(app, caller):
    caller.start()
    caller.say("Maria")
    again = caller.post("/voice/incoming", caller.params(CallStatus="ringing"))
    assert again.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid)).state == "collect_email"


def test_gather_after_the_call_was_finalized_hangs_up(app, caller):
    caller.start()
    action = caller.action
    caller.hangup()
    response = caller.post(action, caller.params(SpeechResult="hello?"))
    root = ET.fromstring(response.data)
    assert root.find("Hangup") is not None


def test_error_inside_a_turn_is_an_apology_and_escalation(app, caller):
    class Exploding:
        def index(self):
            raise RuntimeError("kb exploded")

    caller.start()
    caller.say("Ann")
    caller.say("ann at example dot com")
    caller.say("yes")
    app.extensions["kb"] = Exploding()
    root = caller.say("how do I reset my password")
    assert caller.responses[-1].status_code == 200
    assert prompts.APOLOGY in caller.text() and root.find("Hangup") is not None
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid))
        assert call.state == "escalate" and call.outcome == "needs-human"
        assert "kb exploded" in call.error and call.escalation_reason == "error"


def test_missing_call_sid_is_a_clean_400(client):
    params = {"From": "+1"}
    response = client.post("/voice/incoming", data=params, headers={"X-Twilio-Signature": sign(PUBLIC_BASE + "/voice/incoming", params)})
    assert response.status_code == 400


def test_wrong_method_is_405(client):
    assert client.get("/voice/incoming").status_code in (403, 405)


@pytest.mark.parametrize(
    "speech",
    [
        "\x00\x01\x02 evil control chars",
        "<Say>inject</Say> & <Hangup/>",
        "é" * 5000,
        "🙂" * 300,
    ],
)
def test_hostile_speech_still_gets_valid_twiml(app, caller, speech):
    caller.start()
    root = caller.say(speech)
    assert caller.responses[-1].status_code == 200
    assert root.tag == "Response"
    assert root.find("Hangup") is None or prompts.ESCALATE in caller.text()
    with app.app_context():
        stored = db.session.scalars(select(Turn.text).where(Turn.speaker == "caller")).all()
        assert all(len(t) <= 1000 and "\x00" not in t for t in stored)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["status"] == "ok"


def test_unexpected_error_outside_the_turn_logic_is_still_twiml(app, caller):
    caller.start()
    speech = app.extensions.pop("speech")  # a broken service: rendering the reply fails
    try:
        response = caller.post(caller.action, caller.params(SpeechResult="Maria"))
        status = caller.post("/voice/status", caller.params(CallStatus="completed", CallDuration="9"))
    finally:
        app.extensions["speech"] = speech
    assert response.status_code == 200 and response.mimetype == "text/xml"
    root = ET.fromstring(response.data)
    assert root.find("Hangup") is not None
    assert prompts.APOLOGY in [el.text for el in root.iter("Say")]
    assert status.status_code == 200
    with app.app_context():  # the call still ends with its ticket
        call = db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid))
        assert call.ticket is not None


def test_a_caller_told_of_an_error_gets_a_needs_human_ticket(app, caller):
    """A bug outside the turn logic (here the speech service is gone) is spoken as "something went wrong...
    I'll pass this on to our expert team", but the call row was left as it was: its status callback queued
    an ``abandoned`` ticket of normal priority, so nobody followed up as the caller was promised."""
    caller.start()
    caller.say("Maria")
    speech = app.extensions.pop("speech")
    try:
        response = caller.post(caller.action, caller.params(SpeechResult="maria at example dot com"))
    finally:
        app.extensions["speech"] = speech
    assert prompts.APOLOGY in [el.text for el in ET.fromstring(response.data).iter("Say")]
    replay = caller.post(caller.action, caller.params(SpeechResult="maria at example dot com"))
    assert replay.data == response.data  # a retried Gather hears the same, the machine does not move
    caller.hangup(duration=20)
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid))
        assert (call.state, call.outcome, call.escalation_reason) == ("escalate", "needs-human", "error")
        assert call.error and "maria" not in call.error
        payload = call.ticket.payload
    assert payload["tags"] == ["ai-call", "needs-human"] and payload["priority"] == "urgent"
    assert "A system error interrupted the call." in payload["summary"]


def test_http_errors_pass_through_the_error_handler(client):
    assert client.post("/voice/gather", data={"CallSid": "CA1"}).status_code == 403
