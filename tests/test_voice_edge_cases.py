"""Plausible callers and deployments the voice webhooks got wrong: a correction starting with "No,", AT&T's domain, a
proxy that strips a path prefix, "Yes, <question>", questions about agents, and what an escalation says."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from callflow import prompts
from callflow.extensions import db
from callflow.models import Call
from callflow.spoken_email import parse_spoken_email

from .conftest import base_config, make_app, sign


def _row(app, caller):
    with app.app_context():
        return db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid))


def _to_confirm(caller, address="jade at example dot com"):
    caller.start()
    caller.say("Jane")
    caller.say(address)
    assert "Is that correct?" in caller.text()


# 1. spoken_email: a leading "no"/"sorry"/"nope"/"wait" becomes part of the local part
@pytest.mark.parametrize("spoken", ["No, jane at example dot com", "Sorry, jane at example dot com",
                                    "Nope, jane@example.com", "Wait, jane at example dot com"])
def test_leading_no_or_sorry_is_not_part_of_the_address(spoken):
    assert parse_spoken_email(spoken) == "jane@example.com"


def test_correction_with_a_leading_no_reads_back_the_corrected_address(app, caller):
    _to_confirm(caller)                      # heard "jade"
    caller.say("No, jane at example dot com")
    assert "I heard J, A, N, E, at" in caller.text()


# 2. spoken_email: AT&T's domain
def test_att_domain_is_not_cut_to_t_net():
    assert parse_spoken_email("jane at AT&T dot net") == "jane@att.net"


# 3. voice._action_url: PUBLIC_BASE_URL with a path prefix + ProxyFix X-Forwarded-Prefix doubles the prefix
def test_gather_action_behind_a_prefixing_proxy(tmp_path):
    base = "https://voice.example.org/callflow"
    app = make_app(dict(base_config(tmp_path), PROXY_FIX=True, PUBLIC_BASE_URL=base), load_kb=False)
    params = {"CallSid": "CA" + "3" * 32, "From": "+15005550006", "CallStatus": "ringing"}
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "voice.example.org",
               "X-Forwarded-Prefix": "/callflow", "X-Twilio-Signature": sign(base + "/voice/incoming", params)}
    response = app.test_client().post("/voice/incoming", data=params, headers=headers)
    assert response.status_code == 200
  
    assert f'action="{base}/voice/gather?t=1"' in response.get_data(as_text=True)


# 4. conversation._in_answer: "yes, <short question>" at "anything else?" drops the question
def test_yes_with_a_short_question_is_answered(app, caller):
    _to_confirm(caller, "jane at example dot com")
    caller.say("yes")
    caller.say("how do I reset my password")
    caller.say("yes")
    assert prompts.ANYTHING_ELSE in caller.text()
    caller.say("Yes, cancel my subscription")
    assert prompts.WHAT_IS_YOUR_QUESTION not in caller.text()
    assert _row(app, caller).last_question == "Yes, cancel my subscription"


# 6. intents.wants_human: KB questions about agents/someone are taken as a request for a person
@pytest.mark.parametrize("question", ["how do I give someone access to my account",
                                      "how do I give an agent admin rights"])
def test_question_about_agents_is_not_a_request_for_a_person(app, caller, question):
    _to_confirm(caller, "jane at example dot com")
    caller.say("yes")
    caller.say(question)
    assert _row(app, caller).escalation_reason != "caller-request"


# 7. prompts.ESCALATE is spoken for every escalation, including "I want a person" / pressing 0
def test_pressing_zero_is_not_answered_with_i_dont_have_that_information(caller):
    caller.start()
    caller.say(digits="0")
    assert caller.hung_up and prompts.CALLER_REQUEST in caller.text()
    assert "I don't have that information" not in caller.text()


def test_announcing_another_question_is_still_asked_for_it(app, caller):
    _to_confirm(caller, "jane at example dot com")
    caller.say("yes")
    caller.say("how do I reset my password")
    caller.say("yes")
    caller.say("yes I have another question")
    assert prompts.WHAT_IS_YOUR_QUESTION in caller.text() and caller.listening


def test_question_said_with_the_email_at_the_greeting_is_answered_after_the_read_back(app, caller):
    """It was dropped: the caller was asked "How can I help you today?" again, or the ticket said no question."""
    caller.start()
    caller.say("This is Jane, my email is jane at example dot com, and I can't log in to my account")
    assert "Is that correct?" in caller.text()
    assert _row(app, caller).pending_question == "I can't log in to my account"
    caller.say("yes")
    assert prompts.HOW_CAN_I_HELP not in caller.text() and prompts.CHECK_RESOLVED in caller.text()
    assert _row(app, caller).last_question == "I can't log in to my account"


@pytest.mark.parametrize("from_number, promise", [
    ("+14155550100", True), ("anonymous", False), ("+266696687", False), ("client:alice", False),
    ("sip:alice@example.com", False),
])
def test_giving_up_on_the_email_promises_a_call_back_only_with_a_number(app, from_number, promise):
    from .conftest import Caller

    caller = Caller(app.test_client(), from_number=from_number)
    caller.start()
    caller.say("Sam")
    for _ in range(3):
        caller.say("banana")  # not an address ("I don't know it" declines at once)
    said = caller.text()
    if not promise:  # no number to call: asked for one (tests/test_callback_number.py); without it, no promise
        assert said == f"{prompts.EMAIL_NOT_GOT} {prompts.ASK_NUMBER}"
        caller.say("I'd rather not")
        said = caller.text()
    assert (prompts.EMAIL_GIVE_UP in said) is promise
    assert (prompts.EMAIL_DECLINED_NO_NUMBER in said) is not promise
    assert prompts.HOW_CAN_I_HELP in said and caller.listening


# 8. conversation._in_check_resolved: "yes, and <next question>" at "Did that solve your issue?" dropped the question
@pytest.mark.parametrize("said, question", [
    ("yes thanks, and how do I export my cases?", "how do I export my cases?"),
    ("Yes it did, thank you. Can I also connect Slack", "Can I also connect Slack"),
    ("yeah that worked, I have another question, where do I find my invoices", "where do I find my invoices"),
    ("yes I have one more question about my invoice", "I have one more question about my invoice"),
])
def test_next_question_said_with_the_yes_is_answered(app, caller, said, question):
    _to_confirm(caller, "jane at example dot com")
    caller.say("yes")
    caller.say("how do I reset my password")
    caller.say(said)
    assert prompts.ANYTHING_ELSE not in caller.text()
    assert caller.text().startswith(prompts.GREAT) and caller.text().endswith(prompts.CHECK_RESOLVED)
    row = _row(app, caller)
    assert (row.state, row.resolved_count, row.questions_asked) == ("check_resolved", 1, 2)
    assert row.last_question == question


@pytest.mark.parametrize("said", [
    "yes that worked perfectly thank you so much for your help",
    "yes, now I can log in to my account",
    "yes the password reset worked, thanks",
    "yes that is how I fixed it",
])
def test_a_long_yes_is_not_taken_for_a_next_question(app, caller, said):
    _to_confirm(caller, "jane at example dot com")
    caller.say("yes")
    caller.say("how do I reset my password")
    caller.say(said)
    assert prompts.ANYTHING_ELSE in caller.text()
    row = _row(app, caller)
    assert (row.state, row.resolved_count, row.questions_asked) == ("answer", 1, 1)


# 9. conversation._answer_question: a one-word question just under the cutoff ("password": 40.9 < 42) was escalated
def test_a_short_question_the_kb_cannot_place_gets_one_request_for_more(app, caller):
    _to_confirm(caller, "jane at example dot com")
    caller.say("yes")
    caller.say("password")
    assert caller.text() == prompts.TELL_ME_MORE and caller.listening
    row = _row(app, caller)
    assert (row.state, row.pending_question, row.questions_asked) == ("answer", "password", 0)
    caller.say(None)  # silence: asked again for more, not "How can I help?"
    assert prompts.TELL_ME_MORE in caller.text()
    caller.say("I forgot it and can't sign in")
    assert prompts.CHECK_RESOLVED in caller.text()
    row = _row(app, caller)
    assert row.article_id == "1001" and row.pending_question is None and row.questions_asked == 1
    assert row.last_question == "password I forgot it and can't sign in"


def test_telling_more_is_asked_once_then_a_miss_escalates(app, caller):
    _to_confirm(caller, "jane at example dot com")
    caller.say("yes")
    caller.say("pizza")
    assert caller.text() == prompts.TELL_ME_MORE
    caller.say("pepperoni")
    assert caller.hung_up and prompts.ESCALATE in caller.text()
    row = _row(app, caller)
    assert (row.escalation_reason, row.last_question, row.questions_asked) == ("no-kb-match", "pizza pepperoni", 1)


@pytest.mark.parametrize("said", ["I need help with billing", "I have a question about billing please"])
def test_a_short_topic_in_a_sentence_gets_one_request_for_more(app, caller, said):
    """Filler words no longer count: "I need help with billing" (five words, one topic) was escalated at once with
    "I don't have that information"; "billing" alone got "Could you tell me a little more?"."""
    _to_confirm(caller, "jane at example dot com")
    caller.say("yes")
    caller.say(said)
    assert caller.text() == prompts.TELL_ME_MORE and caller.listening
    caller.say("where can I find my invoices")
    assert prompts.CHECK_RESOLVED in caller.text()


def test_a_longer_question_the_kb_cannot_place_is_escalated_at_once(app, caller):
    _to_confirm(caller, "jane at example dot com")
    caller.say("yes")
    caller.say("my parcel from your shop never arrived at my house")
    assert caller.hung_up and prompts.ESCALATE in caller.text()
