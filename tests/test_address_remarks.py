"""What a caller says about the address when asked for it.

Before, a remark at "What's the email address on your account?" that looked like a question was kept as the caller's
question and searched once the address was confirmed: "I have two, which one do you want?" was answered from the
two-factor authentication article, and "can I give you my phone number instead?" was passed to a person as a
question the KB could not answer, before the caller had asked anything. The phone number offered instead of an
address got "Please spell it for me, letter by letter."
"""
from __future__ import annotations

import pytest

from callflow import prompts
from callflow.intents import declines_email

from .test_call_interactions import PASSWORD_QUESTION, call_of, ticket

OFFERS_NUMBER = ["can I give you my phone number instead", "just use my number", "can you use my phone number",
                 "phone number instead please", "use my mobile number instead"]
NOT_OFFERS = ["how do I change my phone number", "my phone number changed", "how do I add a phone number to my profile",
              "I don't have access to my email"]


@pytest.mark.parametrize("text", OFFERS_NUMBER)
def test_the_phone_number_offered_instead_declines_the_email(text):
    assert declines_email(text)


@pytest.mark.parametrize("text", NOT_OFFERS)
def test_a_question_about_a_phone_number_does_not_decline_the_email(text):
    assert not declines_email(text)



@pytest.mark.parametrize("remark,reply", [
    ("I have two, which one do you want?", f"{prompts.ANY_ADDRESS} {prompts.ASK_EMAIL}"),
    ("do you need my work email or my personal one?", f"{prompts.ANY_ADDRESS} {prompts.ASK_EMAIL}"),
    ("is that the one on file?", prompts.SPELL_EMAIL), ("how do you want me to spell it?", prompts.SPELL_EMAIL),
])
def test_a_remark_about_the_address_is_not_kept_as_the_question(app, caller, remark, reply):
    caller.start()
    caller.say("Jane")
    caller.say(remark)
    assert caller.text() == reply
    assert call_of(app, caller).pending_question is None
    caller.say("jane at example dot com")
    caller.say("yes")
    assert caller.listening and caller.text() == f"{prompts.EMAIL_CONFIRMED} {prompts.HOW_CAN_I_HELP}"


def test_a_question_instead_of_the_address_is_still_kept(app, caller):
    caller.start()
    caller.say("Jane")
    caller.say("I just want to reset my password")
    caller.say("jane at example dot com")
    caller.say("yes")
    assert caller.text().startswith(f'{prompts.EMAIL_CONFIRMED} From our article "Resetting a forgotten password"')


def test_the_phone_number_offered_instead_carries_on_without_an_email(app, caller):
    caller.start()
    caller.say("Jane")
    caller.say("can I give you my phone number instead?")
    assert caller.text() == f"{prompts.EMAIL_DECLINED} {prompts.HOW_CAN_I_HELP}"
    caller.say(PASSWORD_QUESTION)
    caller.say("yes")
    caller.say("no thanks")
    caller.hangup()
    p = ticket(app, caller)
    assert call_of(app, caller).email is None and "+14155550100" in p["contents_html"]
