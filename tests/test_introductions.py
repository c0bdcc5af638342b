"""How callers introduce themselves: with their company ("Jane from Acme"), or spelling their name ("Jane, J A N E").

Before, "Jane from Acme support" gave no name and was kept as the caller's question (the word "support"), to be
searched once the address was confirmed; so was "this is Jane from Acme IT support" ("from Acme IT support"). "Jane,
J A N E" gave no name, "J A N E" neither, and "it's Siobhan, S I O B H A N" kept the letters as the caller's question.
"""
from __future__ import annotations

import pytest

from callflow import prompts
from callflow.intents import asks_who_we_are, corrects_name, extract_name, spelled_name, without_affiliation

from .test_call_interactions import call_of


@pytest.mark.parametrize("text,name", [
    ("Jane from Acme", "Jane"), ("Jane from Acme support", "Jane"), ("Jane Smith from Globex", "Jane Smith"),
    ("Tom with Acme Corp", "Tom"), ("Jane from the billing team at Acme", "Jane"),
    ("Jane from Acme, I can't log in", "Jane"), ("Jane from Acme calling about billing", "Jane"),
    ("Emails from customers are not arriving", None), ("Message from your system says error", None),
    ("Emails From Customers are not arriving", None),
    # a company's team ("Acme's IT team"), a department
    ("Jane from Acme's IT team", "Jane"), ("Jane Doe from accounts", "Jane Doe"), ("Tom from HR", "Tom"),
])
def test_a_name_with_the_company(text, name):
    assert extract_name(text) == name


@pytest.mark.parametrize("text,rest", [
    ("from Acme IT support", ""), ("from Acme", ""), ("from the billing team at Acme", ""),
    ("from Acme, I can't log in", "I can't log in"), ("from Acme calling about billing", "calling about billing"),
    ("from customers are not arriving", "from customers are not arriving"), ("I can't log in", "I can't log in"),
    ("from Acme's support team", ""), ("from accounts, I can't find my invoice", "I can't find my invoice"),
    (None, ""),
])
def test_without_affiliation(text, rest):
    assert without_affiliation(text) == rest


@pytest.mark.parametrize("text,expected", [
    ("Jane, J A N E", ("Jane,", "jane")), ("J A N E", ("", "jane")), ("my name is J A N E", ("my name is", "jane")),
    ("it's Siobhan, S I O B H A N", ("it's Siobhan,", "siobhan")), ("Siobhan S-I-O-B-H-A-N", ("Siobhan", "siobhan")),
    ("Hi, I need help with S S O", ("Hi, I need help with S S O", None)), ("I can't log in", ("I can't log in", None)),
    ("Jane", ("Jane", None)), (None, ("", None)),
])
def test_spelled_name(text, expected):
    assert spelled_name(text) == expected



@pytest.mark.parametrize("said,name", [
    ("Jane from Acme support", "Jane"), ("this is Jane from Acme IT support", "Jane"), ("Jane, J A N E", "Jane"),
    ("J A N E", "Jane"), ("it's Siobhan, S I O B H A N", "Siobhan"), ("Hi, I'm Tom Smith with Initech", "Tom Smith"),
    ("Hi, it's Jane from Acme's support team", "Jane"), ("Jane Doe from accounts", "Jane Doe"),
])
def test_an_introduction_gives_the_name_and_no_question(app, caller, said, name):
    caller.start()
    caller.say(said)
    assert caller.text() == f"{prompts.thanks_name(name)} {prompts.ASK_EMAIL}"
    call = call_of(app, caller)
    assert (call.name, call.pending_question) == (name, None)


def test_a_question_after_the_company_is_kept(app, caller):
    caller.start()
    caller.say("Hi this is Jane from Acme, I can't log in")
    assert caller.text() == f"{prompts.thanks_name('Jane')} {prompts.ASK_EMAIL_AFTER_QUESTION}"
    assert call_of(app, caller).pending_question == "I can't log in"


def test_spelled_letters_that_are_no_name_stay_in_the_question(app, caller):
    caller.start()
    caller.say("Hi, I need help with S S O")
    assert caller.text() == prompts.ASK_EMAIL_AFTER_QUESTION
    assert call_of(app, caller).pending_question == "Hi, I need help with S S O"


# -- a name put right at the email question -------------------------------------------------------------------------

@pytest.mark.parametrize("text,name,new", [
    ("sorry, it's Jane, not Jean", "Jean", "Jane"), ("no, my name is Jane", "Jean", "Jane"),
    ("Jane, not Jean", "Jean", "Jane"), ("you got my name wrong, it's Jane", "Jean", "Jane"),
    ("it's Mary Ann not Mary Anne", "Mary Anne", "Mary Ann"), ("my name is Jane", None, "Jane"),
    # not a correction: the same name, an address, a name alone (it may start a spelling), no name
    ("my name is Jean", "Jean", None), ("jane at example dot com", "Jean", None), ("Jane", "Jean", None),
    ("what name?", None, None), ("", "Jean", None), (None, None, None),
])
def test_corrects_name(text, name, new):
    assert corrects_name(text, name) == new


def test_a_name_put_right_at_the_email_question(app, caller):
    """"Sorry, it's Jane, not Jean" at the email question was taken for a try at the address: "Please spell it for
    me, letter by letter", and the ticket named the caller Jean."""
    caller.start()
    caller.say("Jean")
    caller.say("sorry, it's Jane, not Jean")
    assert caller.listening and caller.text() == f"{prompts.thanks_name('Jane')} {prompts.ASK_EMAIL}"
    call = call_of(app, caller)
    assert (call.name, call.email_attempts) == ("Jane", 0)
    caller.say("jane at example dot com")
    assert caller.text().startswith("I heard J, A, N, E")


def test_a_name_put_right_after_silences_gets_its_own_re_prompts(app, caller):
    """The random-call machine found it: two silences at the email question, then "my name is Sam Green", then one
    more silence was "I'm having trouble understanding... I'll pass this on", with no "Sorry, I didn't catch that"."""
    caller.start()
    caller.say("Jane")
    caller.say(None)
    caller.say(None)
    caller.say("My name is Sam Green")
    caller.say(None)
    assert caller.listening and caller.text() == f"{prompts.DIDNT_CATCH} {prompts.ASK_EMAIL}"


# -- titles, a pause before the name, "is this Kayako support?" --------------------------------------------------

@pytest.mark.parametrize("text,name", [
    ("it's Dr. Jane Smith", "Dr Jane Smith"), ("Mrs. Brown", "Mrs Brown"), ("this is Mr. Tom Jones", "Mr Tom Jones"),
    ("um yes hello my name is uh Jane", "Jane"), ("my name is, uh, Jane", "Jane"), ("J. Smith", "J Smith"),
    ("This is Jane. I need help", "Jane"), ("Kayako?", None),
])
def test_a_title_or_a_pause_keeps_the_name(text, name):
    """"It's Dr. Jane Smith" gave the name "Dr" (the period ended the clause); "my name is uh Jane" gave none."""
    assert extract_name(text) == name


@pytest.mark.parametrize("text,name", [
    ("O'Brien, Sean O'Brien", "Sean O'Brien"), ("the name's Bond, James Bond", "James Bond"),
    ("Smith. Jane Smith.", "Jane Smith"), ("Jane, Jane Smith", "Jane Smith"), ("my name is Jane, Jane Doe", "Jane Doe"),
    ("Jane Smith, Smith", "Jane Smith"), ("John, John", "John"), ("Smith, Jane Smith, and I can't log in", "Jane Smith"),
    # two names, neither in the other, stay as they were
    ("Mary, Jane", "Mary Jane"), ("Jane. Smith.", "Jane Smith"), ("my name is Jane, Smith", "Jane"),
])
def test_a_name_said_again_in_full_is_the_name_in_full(text, name):
    """"O'Brien, Sean O'Brien" was "Thanks, O'Brien Sean O'Brien.", and "the name's Bond, James Bond" "Thanks, Bond."."""
    assert extract_name(text) == name


@pytest.mark.parametrize("text,name", [
    ("Jane, and I'm in a hurry", "Jane"), ("Jane Smith and I'm calling from home", "Jane Smith"),
    ("Tom, and we're a bit stuck", "Tom"),
    # a word that opens a sentence is no name
    ("Look, I can't log in", None), ("Listen, and I've been waiting", None), ("Hello and I'm in a hurry", None),
])
def test_a_name_then_and_something_of_the_callers_own(text, name):
    """"Jane, and I'm in a hurry" gave no name (what followed was no problem); "Look, I can't log in" gave "Look"."""
    assert extract_name(text) == name


def test_a_name_said_in_a_hurry_is_thanked_and_nothing_kept(app, caller):
    caller.start()
    caller.say("Jane, and I'm in a hurry")
    assert caller.text() == f"{prompts.thanks_name('Jane')} {prompts.ASK_EMAIL}"
    assert (call_of(app, caller).name, call_of(app, caller).pending_question) == ("Jane", None)


@pytest.mark.parametrize("text", ["yes hi, is this Kayako support?", "Kayako?", "is this customer service",
                                  "have I reached Kayako", "is this the support line?", "am I speaking to Kayako"])
def test_asks_who_we_are(text):
    assert asks_who_we_are(text)


@pytest.mark.parametrize("text", ["is this Kayako support? I can't log in", "hi I'm calling about my bill",
                                  "is this a robot", "Jane", "", None])
def test_more_than_which_line_is_not_asking_who_we_are(text):
    assert not asks_who_we_are(text)


@pytest.mark.parametrize("said", ["yes hi, is this Kayako support?", "Kayako?"])
def test_a_caller_checking_the_line_hears_yes_then_the_name_question(app, caller, said):
    """"Is this Kayako support?" was kept as the caller's question ("I can help with that"), to be searched after the
    address; "Kayako?" was taken for a name ("Thanks, Kayako.")."""
    caller.start()
    caller.say(said)
    assert caller.listening and caller.text() == f"{prompts.THIS_IS_US} {prompts.ASK_NAME}"
    caller.say("Jane")
    assert caller.text() == f"{prompts.thanks_name('Jane')} {prompts.ASK_EMAIL}"
    assert call_of(app, caller).pending_question is None


@pytest.mark.parametrize("said,name,email", [
    ("Jane Smith, jane dot smith at acme dot com", "Jane Smith", "jane.smith@acme.com"),
    ("Jane Smith jane dot smith at acme dot com", "Jane Smith", "jane.smith@acme.com"),   # no comma: the name again
    ("it's Jane, jane at example dot com", "Jane", "jane@example.com"),
    ("Bob here bob at example dot com", "Bob", "bob@example.com"),
    ("this is Bob, email bob at example dot com", "Bob", "bob@example.com"),
    ("Jane, J A N E at example dot com", "Jane", "jane@example.com"),
])
def test_a_name_and_an_address_in_one_breath(app, caller, said, name, email):
    """The whole answer was parsed as the address, the name run into it: "Jane Smith, jane dot smith at acme dot com"
    was read back as janesmithjane.smith@acme.com, and the name was not taken."""
    caller.start()
    caller.say(said)
    call = call_of(app, caller)
    assert (call.name, call.email, call.state) == (name, email, "confirm_email")
    assert caller.text().startswith(prompts.thanks_name(name) + " I heard")


@pytest.mark.parametrize("said,email", [
    ("J, A, N, E at example dot com", "jane@example.com"),     # letters spell the address: no name "J"
    ("jane at example dot com", "jane@example.com"),
    ("john smith at gmail, sorry, hotmail dot com", "johnsmith@hotmail.com"),
    ("email at acme dot com", "email@acme.com"),               # "email" is the local part here
])
def test_an_address_alone_at_the_name_question_is_the_address(app, caller, said, email):
    caller.start()
    caller.say(said)
    call = call_of(app, caller)
    assert (call.name, call.email) == (None, email)


def test_a_hello_after_the_name_is_no_try_at_the_address(app, caller):
    """"hi" at the email question was a try at the address ("Sorry, I couldn't get that email address. Please spell
    it..."); at "How can I help you today?" a short question to tell more about; at "Did that solve your issue?" no
    yes or no. Now it hears "Hi there." and the question again."""
    caller.start()
    caller.say("Jane")
    caller.say("hi")
    assert caller.text() == f"{prompts.HI_THERE} {prompts.ASK_EMAIL}"
    assert call_of(app, caller).email_attempts == 0
    caller.say("jane at example dot com")
    caller.say("yes")
    caller.say("good morning")
    assert caller.text() == f"{prompts.HI_THERE} {prompts.HOW_CAN_I_HELP}"
    caller.say("I forgot my password")
    caller.say("hey there")
    assert caller.text() == f"{prompts.HI_THERE} {prompts.CHECK_RESOLVED}"
    caller.say("yeah")  # a yes, not a hello
    assert caller.text() == prompts.ANYTHING_ELSE


def test_hellos_that_go_on_are_counted_like_unclear_answers(app, caller):
    caller.start()
    caller.say("Jane")
    caller.say("jane at example dot com")
    caller.say("yes")
    caller.say("hi")
    caller.say("hello there")
    caller.say("hi")
    assert caller.hung_up and caller.text() == prompts.NOT_UNDERSTOOD
