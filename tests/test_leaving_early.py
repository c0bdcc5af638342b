"""A caller who ends the call before asking anything: "bye", "I'll call back later", "sorry, wrong number".

Before, at the name question "bye" was passed over and the caller was asked for their email; "never mind" was taken
for a name ("Thanks, Never Mind."); at the email question "never mind, bye" heard "Please spell it for me, letter by
letter" and used one of the three tries. "I think I dialed the wrong number" was kept as the caller's question ("I can
help with that"), and at "How can I help you today?" it was searched and passed to a person: an urgent ticket for a
wrong number.
"""
from __future__ import annotations

import pytest
from statemachine.exceptions import TransitionNotAllowed

from callflow import prompts
from callflow.flow import CallFlow
from callflow.intents import LEAVING, WRONG_NUMBER, extract_name, leaves_early
from callflow.models import ABANDONED, Call

from .test_call_interactions import call_of, identified, ticket

GOODBYES = ["bye", "goodbye", "ok thank you, bye", "actually, never mind, bye", "sorry, I have to go",
            "never mind, I'll call back later", "oh sorry I'll call you back", "have a good day", "no, bye",
            "um, I gotta go", "forget it, bye bye"]
WRONG_NUMBERS = ["sorry, wrong number", "wrong number sorry", "oh I think I dialed the wrong number",
                 "I must have dialled the wrong number, sorry", "oops, I called this number by mistake",
                 "sorry, I think I've got the wrong number, bye", "sorry, pocket dial"]
NOT_LEAVING = ["Jane", "never mind", "sorry", "thanks", "is this the wrong number?", "have I got the wrong number",
               "can you call me back", "please call me back later", "I can't log in, I'll call back later",
               "jane at example dot com, bye", "my phone number is wrong", "I deleted my cases by mistake",
               "Jane, bye", "yes", "no", "hold on", "", None]


@pytest.mark.parametrize("text", GOODBYES)
def test_a_goodbye_leaves(text):
    assert leaves_early(text) == LEAVING


@pytest.mark.parametrize("text", WRONG_NUMBERS)
def test_a_wrong_number_leaves(text):
    assert leaves_early(text) == WRONG_NUMBER


@pytest.mark.parametrize("text", NOT_LEAVING)
def test_a_name_an_address_a_problem_or_a_question_does_not_leave(text):
    assert leaves_early(text) is None


@pytest.mark.parametrize("text", ["never mind", "Never mind", "forget it", "whatever", "oops"])
def test_never_mind_is_no_name(text):
    assert extract_name(text) is None



@pytest.mark.parametrize("said", ["bye", "actually, never mind, bye", "sorry, I have to go"])
def test_a_goodbye_at_the_name_question_ends_the_call(app, caller, said):
    caller.start()
    caller.say(said)
    assert caller.hung_up and caller.text() == prompts.GOODBYE
    caller.hangup()
    p = ticket(app, caller)
    assert (p["outcome"], p["priority"]) == (ABANDONED, "normal")
    assert "ended the call before asking a question" in p["summary"]
    assert call_of(app, caller).name is None


@pytest.mark.parametrize("said", ["sorry, wrong number", "oh I think I dialed the wrong number"])
def test_a_wrong_number_hears_which_line_it_is(app, caller, said):
    caller.start()
    caller.say(said)
    assert caller.hung_up and caller.text() == prompts.WRONG_NUMBER
    caller.hangup()
    p = ticket(app, caller)
    assert (p["outcome"], p["priority"]) == (ABANDONED, "normal")
    assert p["subject"] == "Phone call: no question captured"  # the wrong number was not kept as a question


def test_a_goodbye_at_the_email_question_is_no_try_at_the_address(app, caller):
    caller.start()
    caller.say("Jane")
    caller.say("never mind, I'll call back later")
    assert caller.hung_up and caller.text() == prompts.GOODBYE
    assert call_of(app, caller).email_attempts == 0
    caller.hangup()
    assert ticket(app, caller)["outcome"] == ABANDONED


def test_a_goodbye_at_the_read_back_ends_thecall_of(app, caller):
    caller.start()
    caller.say("Jane")
    caller.say("jane at example dot com")
    caller.say("no, bye")
    assert caller.hung_up and caller.text() == prompts.GOODBYE
    call = call_of(app, caller)
    assert (call.state, call.email_confirmed) == ("goodbye", False)


def test_a_wrong_number_at_how_can_i_help_is_no_question(app, caller):
    identified(caller)
    caller.say("sorry, wrong number")
    assert caller.hung_up and caller.text() == prompts.WRONG_NUMBER
    caller.hangup()
    p = ticket(app, caller)
    assert (p["outcome"], p["priority"]) == (ABANDONED, "normal")


def test_a_question_said_with_the_name_stays_in_the_ticket(app, caller):
    caller.start()
    caller.say("Hi, this is Jane, I can't log in to my account")
    caller.say("sorry, I have to go")
    assert caller.hung_up and caller.text() == prompts.GOODBYE
    caller.hangup()
    p = ticket(app, caller)
    assert "log in" in p["subject"]
    assert "ended the call before it was answered" in p["summary"]


def test_the_name_question_goes_on_after_never_mind(app, caller):
    caller.start()
    caller.say("never mind")
    assert caller.listening and "Never Mind" not in caller.text()
    assert caller.text() == prompts.ASK_EMAIL


def test_is_this_the_wrong_number_is_not_the_end(app, caller):
    caller.start()
    caller.say("is this the wrong number?")
    assert caller.listening


def test_after_a_question_a_wrong_number_is_not_a_goodbye(app, caller):
    """Only before any question: after an answer "wrong number" is words of the caller's next question."""
    identified(caller)
    caller.say("how do I reset my password")
    caller.say("yes")
    caller.say("sorry, wrong number")
    assert caller.text() != prompts.WRONG_NUMBER


@pytest.mark.parametrize("state", ["greet", "collect_email", "confirm_email"])
def test_the_machine_leaves_before_any_question(state):
    call = Call(call_sid="CA1", state=state)
    machine = CallFlow(model=call, state_field="state")
    machine.send("leave")
    assert call.state == "goodbye"


@pytest.mark.parametrize("state", ["answer", "check_resolved"])
def test_the_machine_does_not_leave_after_the_identity_questions(state):
    call = Call(call_sid="CA1", state=state)
    machine = CallFlow(model=call, state_field="state")
    with pytest.raises(TransitionNotAllowed):
        machine.send("leave")
