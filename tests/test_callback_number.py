"""A caller with no email address to give and no caller id: asked for a number to call back on.

Before, a caller with a withheld number who said "can I give you my phone number instead?" heard "No problem. Let's
carry on with your question", and at the end "they will follow up shortly": the ticket had no email and no phone,
and nobody could follow up. Now the caller is asked for a number; the one said (E.164, read in the line's region by
phonenumbers) is read back, and is the ticket's and the Kayako requester's phone.
"""
from __future__ import annotations

import re

import flask_migrate
import pytest
from sqlalchemy import select

from callflow import create_app, prompts
from callflow.extensions import db
from callflow.models import Call
from callflow.phone import parse_spoken_phone, spoken_number
from callflow.privacy import forget_caller
from callflow.spoken_email import spoken_digits

from .conftest import Caller, base_config
from .migration_rows import add_call_at, call_table
from .test_admin import admin, signed_in  # noqa: F401 (fixtures)
from .test_call_interactions import call_of, ticket

US_LINE, UK_LINE = "+15005550001", "+442079460999"


@pytest.mark.parametrize("text,digits", [
    ("four one five, five five five, oh one double oh", "4155550100"), ("415-555-0100", "4155550100"),
    ("my number is (415) 555 0100", "4155550100"), ("plus four four twenty seven nine four six oh oh oh oh",
                                                    "+44279460000"),
    ("oh seven seven oh oh nine oh oh one two three", "07700900123"), ("no", ""), ("", ""), (None, ""),
])
def test_spoken_digits(text, digits):
    assert spoken_digits(text) == digits


@pytest.mark.parametrize("text,line,number", [
    ("four one five, five five five, oh one double oh", US_LINE, "+14155550100"),
    ("it's 212 555 1234", None, "+12125551234"),                 # no line number: the default region (US)
    ("it's 212 555 1234", "anonymous", "+12125551234"),
    ("oh two oh seven nine four six oh oh oh oh", UK_LINE, "+442079460000"),   # national, on a UK line
    ("plus four four two oh seven nine four six oh oh oh oh", US_LINE, "+442079460000"),
    ("one two three", US_LINE, None), ("banana", US_LINE, None), ("I'd rather not", US_LINE, None),
    ("one one one one one one one one one one one one one one one one", US_LINE, None),
    ("555 0100", US_LINE, None),                                    # no area code
    ("415 555 0100 extension 23", US_LINE, "+14155550100"),         # the extension left out (it was 12 digits)
    ("four one five five five five oh one double oh, ext 4", US_LINE, "+14155550100"),
    ("extension 23", US_LINE, None),
])
def test_parse_spoken_phone(text, line, number):
    assert parse_spoken_phone(text, line) == number


@pytest.mark.parametrize("huge", ["one " * 50_000, "1" * 150_000, "plus " * 40_000, "oh " * 50_000])
def test_a_huge_transcript_is_no_number(huge):
    """Far over any real answer: read only up to the transcript cap, and no valid number comes of it."""
    assert len(spoken_digits(huge)) <= 1500
    assert parse_spoken_phone(huge, US_LINE) is None


def test_the_number_is_read_back_digit_by_digit():
    assert spoken_number("+14155550100") == "4, 1, 5, 5, 5, 5, 0, 1, 0, 0"
    assert spoken_number("+442079460000") == "0, 2, 0, 7, 9, 4, 6, 0, 0, 0, 0"  # with the trunk prefix


@pytest.fixture
def withheld(client):
    """A caller whose caller id is withheld (Twilio's ``From`` is "anonymous")."""
    return Caller(client, from_number="anonymous")


def _declines(caller: Caller) -> None:
    caller.start()
    caller.say("Jane")
    caller.say("can I give you my phone number instead?")


def test_a_withheld_caller_without_email_is_asked_for_a_number(app, withheld):
    _declines(withheld)
    assert withheld.listening and withheld.text() == f"{prompts.NO_PROBLEM} {prompts.ASK_NUMBER}"
    withheld.say("four one five, five five five, oh one double oh")
    assert withheld.text() == prompts.confirm_number("4, 1, 5, 5, 5, 5, 0, 1, 0, 0")
    withheld.say("yes")
    assert withheld.text() == f"{prompts.NUMBER_CONFIRMED} {prompts.HOW_CAN_I_HELP}"
    withheld.say("how do I reset my password")
    withheld.say("no")
    assert withheld.hung_up and withheld.text() == prompts.NOT_RESOLVED
    withheld.hangup()
    p = ticket(app, withheld)
    assert p["requester"] == {"name": "Jane", "email": None, "phone": "+14155550100"}
    assert "+14155550100 (given on the call to call back on; caller id withheld)" in p["contents_html"]
    assert "No way to reach the caller" not in p["contents_html"]
    call = call_of(app, withheld)
    assert (call.callback_number, call.number_asked, call.email_attempts) == ("+14155550100", True, 0)


def test_a_caller_who_would_rather_not_goes_on_without_one(app, withheld):
    _declines(withheld)
    withheld.say("I'd rather not")
    assert withheld.text() == f"{prompts.EMAIL_DECLINED_NO_NUMBER} {prompts.HOW_CAN_I_HELP}"
    withheld.hangup()
    p = ticket(app, withheld)
    assert p["requester"]["phone"] == "anonymous" and "No way to reach the caller" in p["contents_html"]


def test_a_number_not_understood_is_asked_once_more_then_the_call_goes_on(app, withheld):
    _declines(withheld)
    withheld.say("banana")
    assert withheld.listening and withheld.text() == prompts.SAY_NUMBER_AGAIN
    withheld.say("twelve")
    assert withheld.text() == f"{prompts.EMAIL_DECLINED_NO_NUMBER} {prompts.HOW_CAN_I_HELP}"
    assert call_of(app, withheld).state == "answer"


def test_silence_at_the_number_question_asks_it_again(app, withheld):
    _declines(withheld)
    withheld.say(None)
    assert withheld.text() == f"{prompts.DIDNT_CATCH} {prompts.ASK_NUMBER}"
    withheld.say("two one two, five five five, one two three four")
    assert withheld.text() == "I heard 2, 1, 2, 5, 5, 5, 1, 2, 3, 4. Is that correct?"


def test_a_no_to_the_read_back_and_no_email_asks_for_a_number(app, withheld):
    withheld.start()
    withheld.say("Jane")
    withheld.say("jane at example dot com")
    withheld.say("no, I don't have an email")
    assert withheld.text() == f"{prompts.NO_PROBLEM} {prompts.ASK_NUMBER}"


def test_call_me_back_on_a_number_is_the_number_not_a_request_for_a_person(app, withheld):
    """"You can call me back on 415..." was taken for "call me back" (a person): the call was passed on, urgent, and
    the number lost."""
    _declines(withheld)
    withheld.say("you can call me back on four one five, five five five, oh one double oh")
    assert withheld.listening and withheld.text().startswith("I heard 4, 1, 5")
    assert call_of(app, withheld).callback_number == "+14155550100"


NUMBER = "four one five, five five five, oh one double oh"
READ_BACK = prompts.confirm_number("4, 1, 5, 5, 5, 5, 0, 1, 0, 0")


def _gives_number(caller: Caller) -> None:
    _declines(caller)
    caller.say(NUMBER)
    assert caller.listening and caller.text() == READ_BACK


def test_a_number_put_right_at_the_read_back_is_read_back_in_turn(app, withheld):
    """The number was read back with no way to put it right: "no that's wrong, it's ... 0199" at "How can I help you
    today?" was searched as a question and the call passed on, urgent, with the wrong number on the ticket."""
    _gives_number(withheld)
    withheld.say("no that's wrong, it's four one five five five five oh one nine nine")
    assert withheld.text() == prompts.confirm_number("4, 1, 5, 5, 5, 5, 0, 1, 9, 9")
    withheld.say("yes")
    assert withheld.text() == f"{prompts.NUMBER_CONFIRMED} {prompts.HOW_CAN_I_HELP}"
    withheld.say("how do I reset my password")
    withheld.say("yes")
    withheld.say("no thanks")
    assert withheld.hung_up
    withheld.hangup()
    assert ticket(app, withheld)["requester"]["phone"] == "+14155550199"
    call = call_of(app, withheld)
    assert (call.callback_number, call.number_attempts, call.email_confirmed) == ("+14155550199", 1, False)


@pytest.mark.parametrize("no", ["no", "no, that's not my number", "that's wrong"])
def test_a_no_at_the_read_back_asks_for_the_number_again(app, withheld, no):
    """A "no" after the number was read back ended the call ("Thank you for calling ... Goodbye!"), as "no" to "How
    can I help you today?" does."""
    _gives_number(withheld)
    withheld.say(no)
    assert withheld.listening and withheld.text() == prompts.NUMBER_AGAIN
    call = call_of(app, withheld)
    assert (call.state, call.callback_number, call.number_attempts) == ("collect_email", None, 1)
    withheld.say("two one two, five five five, one two three four")
    assert withheld.text() == prompts.confirm_number("2, 1, 2, 5, 5, 5, 1, 2, 3, 4")
    withheld.say("correct")
    assert withheld.text() == f"{prompts.NUMBER_CONFIRMED} {prompts.HOW_CAN_I_HELP}"
    assert call_of(app, withheld).callback_number == "+12125551234"


def test_three_rejected_read_backs_go_on_without_a_number(app, withheld):
    _gives_number(withheld)
    withheld.say("no")
    withheld.say("two one two, five five five, one two three four")
    withheld.say("no, it's two one two five five five one two three five")
    assert withheld.text() == prompts.confirm_number("2, 1, 2, 5, 5, 5, 1, 2, 3, 5")
    withheld.say("no")
    assert withheld.listening and withheld.text() == f"{prompts.NUMBER_NOT_GOT} {prompts.HOW_CAN_I_HELP}"
    call = call_of(app, withheld)
    assert (call.state, call.callback_number, call.number_attempts) == ("answer", None, 3)
    withheld.hangup()
    assert "No way to reach the caller" in ticket(app, withheld)["contents_html"]


def test_rather_not_at_the_read_back_goes_on_without_a_number(app, withheld):
    _gives_number(withheld)
    withheld.say("no, I'd rather not give my number")
    assert withheld.text() == f"{prompts.EMAIL_DECLINED_NO_NUMBER} {prompts.HOW_CAN_I_HELP}"
    assert call_of(app, withheld).callback_number is None


def test_a_question_said_with_the_yes_is_answered_next(app, withheld):
    _gives_number(withheld)
    withheld.say("yes that's right, and how do I reset my password?")
    assert withheld.text().startswith(f"{prompts.NUMBER_CONFIRMED} From our article \"Resetting a forgotten password\"")


def test_the_same_number_with_a_yes_confirms_it(app, withheld):
    _gives_number(withheld)
    withheld.say("yes, " + NUMBER)
    assert withheld.text() == f"{prompts.NUMBER_CONFIRMED} {prompts.HOW_CAN_I_HELP}"
    assert call_of(app, withheld).number_attempts == 0


def test_the_same_number_said_again_confirms_it(app, withheld):
    """The number said again as it was read back was a rejected read-back: read back once more, one try used."""
    _gives_number(withheld)
    withheld.say(NUMBER)
    assert withheld.text() == f"{prompts.NUMBER_CONFIRMED} {prompts.HOW_CAN_I_HELP}"
    call = call_of(app, withheld)
    assert (call.state, call.callback_number, call.number_attempts) == ("answer", "+14155550100", 0)


def test_a_no_with_the_same_number_is_a_rejected_read_back(app, withheld):
    _gives_number(withheld)
    withheld.say("no, " + NUMBER)
    assert withheld.text() == READ_BACK
    assert call_of(app, withheld).number_attempts == 1


def test_the_read_back_is_asked_again_after_silence_or_an_unclear_answer(app, withheld):
    _gives_number(withheld)
    withheld.say(None)
    assert withheld.text() == f"{prompts.DIDNT_CATCH} {READ_BACK}"
    withheld.say("banana")
    assert withheld.listening and withheld.text() == f"{prompts.SAY_YES_OR_NO} {READ_BACK}"
    withheld.say(digits="1")
    assert withheld.text() == f"{prompts.NUMBER_CONFIRMED} {prompts.HOW_CAN_I_HELP}"


def test_a_call_ended_at_the_read_back_keeps_the_number_said(app, withheld):
    """Nothing is lost: the number said is the ticket's phone though it was not confirmed."""
    _gives_number(withheld)
    withheld.hangup()
    p = ticket(app, withheld)
    assert p["requester"]["phone"] == "+14155550100"
    assert "+14155550100 (given on the call to call back on, not confirmed; caller id withheld)" in p["contents_html"]


@pytest.mark.parametrize("said", ["it's the number I'm calling from", "can't you see my number?",
                                  "call me back on this number", "don't you have my number"])
def test_the_number_called_from_is_hidden_and_asked_for_again(app, withheld, said):
    """A withheld caller pointing at the number they call from heard "Sorry, I didn't get that number", and a
    second such answer went on without one; "call me back on this number" was a request for a person (passed on,
    urgent, with nothing to call back on)."""
    _declines(withheld)
    withheld.say(said)
    assert withheld.listening and withheld.text() == f"{prompts.NUMBER_HIDDEN} {prompts.ASK_NUMBER}"
    withheld.say(NUMBER)
    assert withheld.text() == READ_BACK


def test_why_a_number_is_needed_is_answered(app, withheld):
    _declines(withheld)
    withheld.say("why do you need my number?")
    assert withheld.text() == f"{prompts.WHY_WE_ASK} {prompts.ASK_NUMBER}"


def test_a_person_asked_for_at_the_number_question_is_a_person(app, withheld):
    _declines(withheld)
    withheld.say("I want to talk to a person")
    assert withheld.hung_up and withheld.text() == prompts.CALLER_REQUEST


def test_an_address_after_all_is_read_back(app, withheld):
    _declines(withheld)
    withheld.say("oh actually, it's jane at example dot com")
    assert withheld.text().startswith("I heard J, A, N, E, at, example dot com")
    withheld.say("yes")
    assert withheld.text() == f"{prompts.EMAIL_CONFIRMED} {prompts.HOW_CAN_I_HELP}"
    call = call_of(app, withheld)
    assert (call.email, call.email_confirmed, call.number_asked, call.callback_number) == (
        "jane@example.com", True, False, None)


def test_no_address_in_three_tries_asks_for_a_number(app, withheld):
    """After 3 tries at the address a withheld caller heard "I'm sorry, I couldn't get your email address. Let's carry
    on with your question." and nothing to reach them by was kept."""
    withheld.start()
    withheld.say("Jane")
    for said in ("banana", "apple"):
        withheld.say(said)
        assert withheld.text() == prompts.SPELL_EMAIL
    withheld.say("pear")
    assert withheld.listening and withheld.text() == f"{prompts.EMAIL_NOT_GOT} {prompts.ASK_NUMBER}"
    withheld.say("two one two, five five five, one two three four")
    withheld.say("that's right")
    assert withheld.text() == f"{prompts.NUMBER_CONFIRMED} {prompts.HOW_CAN_I_HELP}"
    call = call_of(app, withheld)
    assert (call.state, call.callback_number, call.email_attempts) == ("answer", "+12125551234", 3)


def test_a_third_no_at_the_read_back_asks_for_a_number(app, withheld):
    withheld.start()
    withheld.say("Jane")
    for _ in range(2):
        withheld.say("jane at example dot com")
        withheld.say("no")
        assert withheld.text() == prompts.SPELL_EMAIL_AGAIN
    withheld.say("jane at example dot com")
    withheld.say("no")
    assert withheld.text() == f"{prompts.EMAIL_NOT_GOT} {prompts.ASK_NUMBER}"
    call = call_of(app, withheld)
    assert (call.state, call.email, call.number_asked) == ("collect_email", None, True)


def test_a_caller_with_a_caller_id_is_not_asked(app, caller):
    caller.start()
    caller.say("Jane")
    caller.say("can I give you my phone number instead?")
    assert caller.text() == f"{prompts.EMAIL_DECLINED} {prompts.HOW_CAN_I_HELP}"
    assert call_of(app, caller).number_asked is False


def test_forget_by_phone_finds_a_callback_number(app, withheld):
    _declines(withheld)
    withheld.say("four one five, five five five, oh one double oh")
    withheld.hangup()
    with app.app_context():
        report = forget_caller(phone="+1 415 555 0100")
        assert report.calls == 1
        assert db.session.scalar(select(Call).where(Call.call_sid == withheld.call_sid)) is None


def test_the_admin_sees_the_callback_number(app, withheld, signed_in):  # noqa: F811 (a fixture)
    _declines(withheld)
    withheld.say("four one five, five five five, oh one double oh")
    withheld.hangup()
    html = signed_in.get(f"/admin/calls/{call_of(app, withheld).id}").get_data(as_text=True)
    assert re.search(r'data-testid="callback-number">\+14155550100<', html)


def test_the_migration_adds_the_callback_columns(tmp_path, database_url):
    app = create_app(base_config(tmp_path, database_url))
    with app.app_context():
        add_call_at("e7b4d2a6c915", "CA" + "7" * 32, answer_deferred=False)
        flask_migrate.upgrade()
        with db.engine.connect() as conn:
            call = call_table(conn)
            assert conn.execute(select(call.c.number_asked, call.c.callback_number)).one() == (False, None)
        flask_migrate.downgrade(revision="e7b4d2a6c915")
        with db.engine.connect() as conn:
            columns = call_table(conn).c
            assert "callback_number" not in columns and "number_asked" not in columns


def test_the_migration_adds_number_attempts(tmp_path, database_url):
    app = create_app(base_config(tmp_path, database_url))
    with app.app_context():
        add_call_at("f3c8a5e1b742", "CA" + "8" * 32, answer_deferred=False, number_asked=False)
        flask_migrate.upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(select(call_table(conn).c.number_attempts)).scalar_one() == 0
        flask_migrate.downgrade(revision="f3c8a5e1b742")
        with db.engine.connect() as conn:
            assert "number_attempts" not in call_table(conn).c


def test_the_number_may_be_typed_on_the_keypad(app, withheld):
    """The number question's Gather took one key (numDigits="1", as for "press 1 for yes"), so a caller typing
    their number was cut at its first digit; and it offered the address words ("at", "dot com") as speech hints."""
    _declines(withheld)
    gather = withheld.last.find("Gather")
    assert gather.get("numDigits") is None and gather.get("hints") is None and gather.get("input") == "speech dtmf"
    withheld.say(digits="4155550100")
    assert withheld.text() == READ_BACK
    gather = withheld.last.find("Gather")
    assert gather.get("numDigits") == "1"  # the read-back: 1 yes, 2 no
    withheld.say(digits="1")
    assert withheld.text() == f"{prompts.NUMBER_CONFIRMED} {prompts.HOW_CAN_I_HELP}"
    assert call_of(app, withheld).callback_number == "+14155550100"


def test_other_questions_take_one_key(app, caller):
    caller.start()
    assert caller.last.find("Gather").get("numDigits") == "1"
    caller.say("Jane")
    gather = caller.last.find("Gather")
    assert gather.get("numDigits") == "1" and "dot com" in gather.get("hints")
