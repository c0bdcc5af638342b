"""A caller unsure which email address to give, or who says we have it already.

Before, "I have two emails, which one?" or "you should have it already" at "What's the email address on your
account?" got "Sorry, I couldn't get that email address. Please spell it for me, letter by letter.", and counted as
one of the three tries at the address. Now the caller is told any address they use with us will do (or that the line
cannot look them up), and asked again, counted like an unclear answer.
"""
from __future__ import annotations

import pytest

from callflow import prompts
from callflow.flow import MAX_RETRIES
from callflow.intents import asks_which_address, says_address_on_file
from callflow.models import NEEDS_HUMAN

from .test_call_interactions import call_of, ticket

WHICH = ["I have two emails", "I have two, which one do you want?", "which one", "I'm not sure which one",
         "my work one or my personal one?", "I have a few email addresses", "which email do you need",
         "um I have two so which one", "do you need my work email or my personal one?",
         # "Sorry, I couldn't get that email address. Please spell it..." before
         "do you need my work or personal email?", "my work or my personal one?"]
NOT_WHICH = ["my work one is jane at acme dot com", "two", "I have two questions", "which one is the billing article",
             "jane at example dot com", "", None]
ON_FILE = ["it's on file", "you should have it already", "you already have it", "same as before",
           "it's the same as last time", "can you look me up by my number?", "you've got it",
           "it should be in your system", "don't you have it", "you have my details",
           # "Sorry, I couldn't get that email address. Please spell it..." before
           "it's the same as my login", "the one I sign in with", "it's the email I use to log in with",
           "same as my username"]
NOT_ON_FILE = ["the same as my name", "you have it wrong", "it's jane at example dot com", "on file", "", None,
               "the one I sign in with is jane at example dot com", "I can't sign in with it"]


@pytest.mark.parametrize("said", WHICH)
def test_asks_which_address(said):
    assert asks_which_address(said) and not says_address_on_file(said)


@pytest.mark.parametrize("said", NOT_WHICH)
def test_not_asking_which_address(said):
    assert not asks_which_address(said)


@pytest.mark.parametrize("said", ON_FILE)
def test_says_address_on_file(said):
    assert says_address_on_file(said) and not asks_which_address(said)


@pytest.mark.parametrize("said", NOT_ON_FILE)
def test_not_saying_address_on_file(said):
    assert not says_address_on_file(said)


@pytest.mark.parametrize("said,told", [("I have two emails, which one?", prompts.ANY_ADDRESS),
                                       ("you should have it already", prompts.CANT_LOOK_UP)])
def test_the_caller_is_told_and_asked_again_without_losing_a_try(app, caller, said, told):
    caller.start()
    caller.say("Jane")
    caller.say(said)
    assert caller.listening and caller.text() == f"{told} {prompts.ASK_EMAIL}"
    call = call_of(app, caller)
    assert (call.email_attempts, call.pending_question) == (0, None)
    caller.say("jane at example dot com")
    assert caller.text() == prompts.confirm_email("J, A, N, E, at, example dot com")


def test_a_caller_who_keeps_saying_we_have_it_is_passed_on_in_the_end(app, caller):
    caller.start()
    caller.say("Jane")
    for _ in range(MAX_RETRIES):
        caller.say("you should have it already")
        assert caller.listening
    caller.say("you should have it already")
    assert not caller.listening
    caller.hangup()
    assert ticket(app, caller)["outcome"] == NEEDS_HUMAN
