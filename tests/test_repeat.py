"""A caller who asks to hear the last prompt again ("can you repeat that?") hears it again. Before, at "Did that
solve your issue?" they heard "Sorry, please say yes or no", never the answer again; elsewhere the words were
taken for an answer (an address that did not parse, a question to search).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from callflow import prompts
from callflow.extensions import db
from callflow.flow import MAX_RETRIES
from callflow.intents import wants_repeat
from callflow.models import Call, Turn
from callflow.twiml import replay
from callflow.voice import REPEATED

from .conftest import PUBLIC_BASE, Caller
from .test_call_interactions import (PASSWORD_QUESTION, PASSWORD_TITLE, call_of, heard, identified,  # noqa: F401
                                     openai_app)


def prompts_of(root: ET.Element) -> list[tuple[str, str]]:
    """What the document speaks: (tag, text or audio URL) of each <Say>/<Play> in its Gather."""
    return [(el.tag, el.text or "") for el in root.find("Gather") if el.tag in ("Say", "Play")]


def test_the_answer_is_played_again_and_the_call_goes_on(app, caller):
    identified(caller)
    caller.say(PASSWORD_QUESTION)
    answer = prompts_of(caller.last)
    action = caller.action
    caller.say("Sorry, can you repeat that please?")
    assert caller.listening and prompts_of(caller.last) == answer
    assert caller.action != action  # a new Gather sequence number: the next answer is not taken as stale
    assert caller.last.find("Redirect").text == PUBLIC_BASE + caller.action
    caller.say("yes")
    assert caller.text() == prompts.ANYTHING_ELSE
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == caller.call_sid))
        agent = db.session.scalars(select(Turn.text).where(Turn.call_id == call.id, Turn.speaker == "agent")
                                   .order_by(Turn.seq)).all()
    assert agent[-2] == REPEATED and agent[-3].startswith(f'From our article "{PASSWORD_TITLE}"')


@pytest.mark.parametrize("asked", ["wait, what was the second step?", "can you repeat the steps", "slow down please",
                                   "what was that last part?", "you're going too fast"])
def test_the_answer_is_played_again_when_a_step_was_missed(caller, asked):
    """Before, these got "Sorry, please say yes or no." at "Did that solve your issue?": the steps were not heard
    again."""
    identified(caller)
    caller.say(PASSWORD_QUESTION)
    answer = prompts_of(caller.last)
    caller.say(asked)
    assert caller.listening and prompts_of(caller.last) == answer


@pytest.mark.parametrize(("lines", "expected"), [
    (["can you repeat that"], f"{prompts.GREETING} {prompts.ASK_NAME}"),
    (["Jane", "sorry, what?"], f"Thanks, Jane. {prompts.ASK_EMAIL}"),
    (["Jane", "jane at example dot com", "pardon?"], None),  # the read-back again
])
def test_any_listening_prompt_is_played_again(caller, lines, expected):
    caller.start()
    before = caller.text()
    for line in lines[:-1]:
        caller.say(line)
        before = caller.text()
    caller.say(lines[-1])
    assert caller.listening and caller.text() == (expected or before)


def test_hello_at_how_can_i_help_hears_it_again(caller):
    identified(caller)
    before = caller.text()
    caller.say("Hello? Is anyone there?")
    assert caller.listening and caller.text() == before


def test_a_team_asked_for_by_name_is_a_request_for_a_person(caller):
    """"I need to speak with billing" was searched, found nothing, and the caller heard "I'm sorry, I don't have
    that information"."""
    identified(caller)
    caller.say("I need to speak with billing")
    assert caller.hung_up and caller.text() == prompts.CALLER_REQUEST


def test_asking_again_and_again_is_counted_like_unclear_answers(caller):
    """A bounded call: the third request in a row passes the call to a person, as a third unclear answer does."""
    identified(caller)
    caller.say(PASSWORD_QUESTION)
    for _ in range(MAX_RETRIES):
        caller.say("say that again")
        assert caller.listening
    caller.say("say that again")
    assert caller.hung_up and caller.text() == prompts.NOT_UNDERSTOOD


def test_with_openai_the_same_audio_is_played_again(openai_app):
    """The repeated document is the last one with a new action: the same <Play> URLs, no new synthesis."""
    caller = Caller(openai_app.test_client())
    identified(caller)
    caller.say(PASSWORD_QUESTION)
    first = prompts_of(caller.last)
    assert first and all(tag == "Play" for tag, _ in first)
    caller.say("could you repeat that")
    assert prompts_of(caller.last) == first
    assert heard(openai_app, caller) == REPEATED


@pytest.mark.parametrize("text", [
    "can you repeat that", "Could you please repeat that?", "say that again", "sorry, what?", "pardon", "come again?",
    "I didn't catch that", "what was that", "repeat please", "one more time please", "um, repeat that",
    # checking the line: the prompt again (was "Could you tell me a little more about that?" at "How can I help")
    "hello?", "Hello, is anyone there?", "are you still there", "can you hear me",
    # the articles listed for a short question
    "repeat them", "can you say the options again?", "read the list again", "what were the choices again",
    # the answer's steps, again or slower
    "wait, what was the second step?", "can you repeat the steps", "go over the steps again", "slow down please",
    "can you go slower", "a bit slower please", "you're going too fast", "can you read that more slowly",
])
def test_requests_to_repeat(text):
    assert wants_repeat(text)


@pytest.mark.parametrize("text", [
    "I didn't get that email", "can you repeat the steps for SSO", "what is SSO", "what about macros", "yes", "no",
    "how do I repeat a report", "sorry", "", None, "hi", "hello I need help with billing",
    "what are the options for exporting", "say the options", "them",
    "what is the next step for SSO", "slow", "the steps for exporting",
])
def test_questions_and_answers_are_no_request_to_repeat(text):
    assert not wants_repeat(text)


def test_replay_needs_a_listening_document():
    listening = ('<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/voice/gather?t=1" input="speech">'
                 '<Say>Hello &amp; welcome</Say></Gather><Redirect method="POST">/voice/gather?t=1</Redirect></Response>')
    again = ET.fromstring(replay(listening, "/voice/gather?t=2&r=1"))
    assert again.find("Gather").get("action") == "/voice/gather?t=2&r=1"
    assert again.find("Redirect").text == "/voice/gather?t=2&r=1"
    assert again.find("Gather/Say").text == "Hello & welcome"
    for document in (None, "", "<Response><Say>Bye</Say><Hangup/></Response>", "<Response><Gather", "<Other/>"):
        assert replay(document, "/voice/gather?t=2") is None


# -- "are you a robot?": an honest answer, then the question again ------------------------------------------------

@pytest.mark.parametrize("question", ["are you a robot?", "is this a recording", "are you a real person",
                                      "wait, are you a robot or a real person?"])
def test_asking_whether_it_is_a_machine_gets_an_honest_answer_and_the_question_again(caller, question):
    """Before, "are you a robot?" at "How can I help you today?" got "Could you tell me a little more about
    that?" (a short question), and at the name prompt it was taken for a problem statement."""
    identified(caller)
    caller.say(question)
    assert caller.listening and caller.text() == f"{prompts.AUTOMATED} {prompts.HOW_CAN_I_HELP}"
    caller.say("I want a person")
    assert caller.text() == prompts.CALLER_REQUEST


@pytest.mark.parametrize("question", ["who am I speaking to?", "who is this", "what's your name?"])
def test_asking_who_it_is_gets_an_honest_answer_and_the_question_again(app, caller, question):
    """Before, "who am I speaking to?" at "How can I help you today?" got "Could you tell me a little more about
    that?" (a short question); at the name prompt "what's your name?" was kept as the caller's question."""
    caller.start()
    caller.say(question)
    assert caller.listening and caller.text() == f"{prompts.AUTOMATED} {prompts.ASK_NAME}"
    caller.say("Jane")
    caller.say("jane at example dot com")
    caller.say("yes")
    assert caller.text() == f"{prompts.EMAIL_CONFIRMED} {prompts.HOW_CAN_I_HELP}"
    caller.say(question)
    assert caller.listening and caller.text() == f"{prompts.AUTOMATED} {prompts.HOW_CAN_I_HELP}"
    assert call_of(app, caller).pending_question is None


@pytest.mark.parametrize("question", ["is this call being recorded?", "are you recording this", "am I being recorded?",
                                      "just checking, is this call recorded"])
def test_asking_whether_the_call_is_recorded_gets_told_what_is_kept(app, caller, question):
    """Before, "is this call being recorded?" was searched as a question, found no article, and passed the call to a
    person as a question the KB could not answer."""
    identified(caller)
    caller.say(question)
    assert caller.listening and caller.text() == f"{prompts.RECORDED} {prompts.HOW_CAN_I_HELP}"
    caller.say("how do I connect slack")
    assert caller.text().startswith('From our article "Connecting Slack"')


@pytest.mark.parametrize(("text", "recorded"), [
    ("is this call being recorded", True), ("are you recording me", True), ("do you record this call", True),
    ("how are calls recorded in the helpdesk", False), ("where are my recorded calls", False),
    ("do you record calls", False), ("is this call recorded because I want a copy", False), ("", False), (None, False),
])
def test_asks_if_recorded(text, recorded):
    from callflow.intents import asks_if_recorded

    assert asks_if_recorded(text) is recorded


@pytest.mark.parametrize(("text", "automated"), [
    ("who am I speaking with", True), ("whos this", True), ("who are you", True), ("what is your name please", True),
    ("who is my account manager", False), ("what is your name for the invoice", False),
    ("am I talking to a machine", True), ("are you human", True), ("is this an automated system", True),
    ("is this a robot that can reset my password", False), ("are you open on sundays", False),
    ("is this the billing line", False), ("are you there", False), ("", False), (None, False),
])
def test_asks_if_automated(text, automated):
    from callflow.intents import asks_if_automated

    assert asks_if_automated(text) is automated


@pytest.mark.parametrize("question", ["what can you help me with?", "what are my options", "how does this work"])
def test_asking_what_the_line_does_gets_told_and_asked_again(caller, question):
    """Before: "Could you tell me a little more about that?" (a short question)."""
    identified(caller)
    caller.say(question)
    assert caller.listening and caller.text() == f"{prompts.CAPABILITIES} {prompts.HOW_CAN_I_HELP}"
    caller.say("how do I connect slack")
    assert caller.text().startswith('From our article "Connecting Slack"')


@pytest.mark.parametrize(("text", "asks"), [
    ("What can you do?", True), ("what kind of questions can you answer", True), ("um what do you do", True),
    ("what can you do about my invoice", False), ("how does this work with slack", False), ("what is SSO", False),
    ("", False), (None, False),
])
def test_asks_what_it_can_do(text, asks):
    from callflow.intents import asks_what_it_can_do

    assert asks_what_it_can_do(text) is asks
