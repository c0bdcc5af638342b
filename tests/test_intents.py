"""Table tests for callflow.intents (yes/no, agent request, done, name, problem)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callflow import intents
from callflow.intents import (
    follow_up_question,
    extract_name,
    is_done,
    looks_like_question,
    normalize,
    refers_back,
    wants_human,
    yes_no,
)

# --------------------------------------------------------------------------
# yes_no
# --------------------------------------------------------------------------

YES = [
    "Yes.", "yes", "YES!", "yeah", "Yep.", "yup", "sure", "Correct.", "That's right.",
    "that's correct", "right", "exactly", "affirmative", "it did", "It does.",
    "absolutely", "of course", "uh huh", "Uh-huh.", "please do", "ok", "Okay.",
    "that worked", "that helped", "perfect", "yes please", "yes it is", "mm hmm",
    "sounds good", "go ahead", "no problem", "why not", "not a problem",
    "Yes, thank you.", "all right",
    # a tentative yes (was None: "Sorry, please say yes or no")
    "I think so", "I guess so", "yes I think so", "looks like it",
]
NO = [
    "No.", "no", "No, thank you.", "nope", "nah", "not really", "incorrect", "wrong",
    "that's wrong", "That didn't help.", "it didn't", "still not working", "negative",
    "not quite", "no it's not", "Yes, but it didn't help.", "No, that's all, thanks.",
    "of course not", "nothing", "nothing else", "it is not", "that's not right",
    "it still doesn't work", "never", "uh uh", "I don't think so", "I do not think so",
]
UNCLEAR = [
    "", None, "   ", "hmm", "I know", "I don't know", "not sure", "maybe", "what",
    "that's it", "I'm good", "all set", "banana", "I know it's fine",
    "can you repeat that", "\u00bf\u00bf", "\U0001f600",
]


@pytest.mark.parametrize("text", YES)
def test_yes(text):
    assert yes_no(text) == "yes"


@pytest.mark.parametrize("text", NO)
def test_no(text):
    assert yes_no(text) == "no"


@pytest.mark.parametrize("text", UNCLEAR)
def test_unclear(text):
    assert yes_no(text) is None


@pytest.mark.parametrize(
    ("text", "digits", "expected"),
    [
        (None, "1", "yes"),
        ("", "2", "no"),
        ("no", "1", "yes"),  # keypress wins
        ("yes", "2", "no"),
        (None, "0", None),
        ("yes", "0", "yes"),  # other keys fall back to speech
        (None, " 1 ", "yes"),
        (None, "", None),
        ("yes", None, "yes"),
    ],
)
def test_yes_no_digits(text, digits, expected):
    assert yes_no(text, digits) == expected


@pytest.mark.parametrize("text", ["know", "nothing", "I know", "nobody knows"])
def test_no_is_word_bounded(text):
    assert "no" not in normalize(text)


# --------------------------------------------------------------------------
# wants_human
# --------------------------------------------------------------------------

HUMAN_YES = [
    "agent", "Agent.", "Representative.", "representative please", "operator", "human",
    "a human", "a real person", "a live person", "Let me talk to someone.",
    "customer service rep", "customer service", "transfer me", "Transfer me, please.",
    "put me through", "speak to a manager", "I want to speak with a representative",
    "can I talk to a live person please", "get me a human", "put me through to an agent",
    "I need to talk to somebody", "can I have an agent", "I want an agent",
    "is there a person I can talk to", "talk to someone about my agent dashboard",
    "I'd like to speak to a real human being", "connect me with customer support",
    "Can I just talk to a person?", "um agent please",
    # a call back, or a talk through, is a request for a person too
    "can someone call me back", "could you call me back please", "have someone call me",
    "I'd like an agent to contact me", "can a person from your team reach out to me",
    "just give me a call back", "can somebody get back to me", "I'd rather talk this through with somebody",
    "can I discuss this with a person", "I'd prefer to go over it with someone",
    # a team by name (were escalated as "I don't have that information")
    "I need to speak with billing", "can I talk to someone in billing", "transfer me to sales",
    "put me through to accounts", "I want to talk to billing about my invoice", "speak to support",
    "can you connect me with the billing department",
]
HUMAN_NO = [
    "", None, "hello", "my agent app crashes", "The agent portal won't load.",
    "I'm a manager and I can't log in", "I don't want to talk to a person",
    "I don't need a person", "no agent", "I need help with the agent dashboard",
    "I want to reset my password", "someone changed my password",
    "I need to transfer the agent license to my colleague",
    "I want to know why the agent app crashes", "transfer my tickets to another agent",
    "is there an agent dashboard", "yes", "my email is john at gmail dot com",
    "call me Jim", "you can call me Jimmy", "someone keeps calling me", "no need to call me back",
    "I don't want anyone to call me back", "how do I give it to another agent",
    "how do agents call customers back", "my customer wants me to call them back",
    "how do I discuss a ticket with my team", "how do I set up callbacks for my agents",
    "I need billing help", "I don't want to speak with billing", "how do I connect to support email",
    "how do I connect to the billing api", "connect with it",
]


@pytest.mark.parametrize("text", HUMAN_YES)
def test_wants_human(text):
    assert wants_human(text) is True


@pytest.mark.parametrize("text", HUMAN_NO)
def test_not_wants_human(text):
    assert wants_human(text) is False


@pytest.mark.parametrize(
    ("text", "digits", "expected"),
    [(None, "0", True), ("", " 0 ", True), ("yes", "0", True), (None, "1", False), (None, "10", False)],
)
def test_wants_human_digits(text, digits, expected):
    assert wants_human(text, digits) is expected


# --------------------------------------------------------------------------
# is_done
# --------------------------------------------------------------------------

DONE = [
    "no", "No.", "no thanks", "No, thank you.", "that's all", "That's it.", "nothing else",
    "I'm good", "I'm good, thanks.", "all set", "goodbye", "bye", "Thanks, bye!",
    "no that's everything", "No, that's all, thanks for your help.", "that's all I need",
    "not right now", "I don't think so", "nope, have a nice day", "No. Thank you. Bye.",
    "nothing", "we're done", "no more questions", "no that was it", "nah I'm not", "no never mind",
    # leaving
    "I'll call back later", "I have to go", "sorry I gotta go", "I'll call you back tomorrow",
]
NOT_DONE = [
    "", None, "yes", "yeah", "Yes, I have another question.", "No, it's still not working.",
    "no wait, I have another question", "actually I also need help with billing",
    "how do I reset my password", "one more thing", "I need to update my billing details",
    "bye the way my invoice is wrong",
    # a negative word inside a problem statement is not a "no"
    "my colleague never got the invitation email", "my package never arrived",
    "no, I still have not received the invitation", "nothing shows up in my inbox",
    "I'll call back to cancel my subscription", "I need to go reset my password",
]


@pytest.mark.parametrize("text", DONE)
def test_is_done(text):
    assert is_done(text) is True


@pytest.mark.parametrize("text", NOT_DONE)
def test_not_done(text):
    assert is_done(text) is False


@pytest.mark.parametrize(
    ("text", "digits", "expected"),
    [(None, "2", True), ("yes", "2", True), ("no", "1", False), ("no", "5", True), (None, "0", False)],
)
def test_is_done_digits(text, digits, expected):
    assert is_done(text, digits) is expected


# --------------------------------------------------------------------------
# extract_name
# --------------------------------------------------------------------------

NAMES = [
    ("my name is John Smith", "John Smith"),
    ("My name is john smith.", "John Smith"),
    ("This is Jane.", "Jane"),
    ("this is jane", "Jane"),
    ("It's Bob", "Bob"),
    ("I'm Maria Lopez", "Maria Lopez"),
    ("I am Maria Lopez", "Maria Lopez"),
    ("John", "John"),
    ("john", "John"),
    ("call me Al", "Al"),
    ("you can call me Al", "Al"),
    ("Hi, I'm Maria Lopez and I need help", "Maria Lopez"),
    ("Hello, John Smith here.", "John Smith"),
    ("My name is Mary-Jane O'Brien.", "Mary-Jane O'Brien"),
    ("my name is Bill", "Bill"),
    ("Um, it's Sarah from Acme.", "Sarah"),
    ("Hi this is John, I can't log in", "John"),
    ("Yeah, Bob.", "Bob"),
    ("name's Dave", "Dave"),
    ("my name is José García", "José García"),
    ("my name is john jacob jingleheimer schmidt smith", "John Jacob Jingleheimer Schmidt"),
    # the name first, then the reason for the call, without "my name is" (gave None: the ticket had no name and
    # the question searched was "Bob Smith and I need help with my password", escalated as no-kb-match)
    ("Bob Smith and I need help with my password", "Bob Smith"),
    ("Bob Smith, I need help with my password", "Bob Smith"),
    ("Bob, I can't log in", "Bob"),
    ("Hi, Jane Doe, and I forgot my password", "Jane Doe"),
    ("bob smith and I need help with my password", None),  # no capitals to tell a name from other words
    ("Password and login problem", None),
    ("Billing, I have a question about my invoice", None),
    ("Good morning, and I need help with my password", None),
    ("I can't log in to my account", None),
    ("hi I need help resetting my password", None),
    ("This is ridiculous", None),
    ("I'm having trouble logging in", None),
    ("I'm calling about my bill", None),
    ("this is about my invoice", None),
    ("It's me", None),
    ("I'm fine thanks", None),
    ("Yes", None),
    ("hello?", None),
    ("Billing", None),
    ("agent", None),
    ("12345", None),
    ("", None),
    (None, None),
    ("my name is 42", None),
]


@pytest.mark.parametrize(("text", "expected"), NAMES)
def test_extract_name(text, expected):
    assert extract_name(text) == expected


# --------------------------------------------------------------------------
# looks_like_question
# --------------------------------------------------------------------------

QUESTIONS = [
    "I can't log in to my account", "hi I need help resetting my password",
    "how do I export reports", "my invoice is wrong", "the dashboard shows an error",
    "the thing on the screen went blue after I clicked the big button", "is this Kayako?",
    "Hi, I'm Maria and I was double charged", "the widget is not working",
    "I have a billing question", "why was I charged twice",
    # short questions that open with "can I" / "does your" were dropped at the greeting
    "can i save a canned response", "does your product integrate with salesforce", "can we use it offline",
    "do you have a mobile app", "is it possible to merge two cases",
]
NOT_QUESTIONS = [
    "", None, "John", "my name is John Smith", "Hello", "Yes",
    "Hi my name is John Smith and I'm calling from Acme Corporation",
    "This is Jane.", "thanks for your help", "hello?",
]


@pytest.mark.parametrize("text", QUESTIONS)
def test_looks_like_question(text):
    assert looks_like_question(text) is True


@pytest.mark.parametrize("text", NOT_QUESTIONS)
def test_not_question(text):
    assert looks_like_question(text) is False


# --------------------------------------------------------------------------
# robustness
# --------------------------------------------------------------------------

_TEXT = st.one_of(
    st.none(),
    st.text(max_size=400),
    st.lists(
        st.sampled_from(
            "no not yes agent talk to a person my name is I'm it's this transfer me bye "
            "that's all help can't ' - . , ? 0 1 2 \u00e9 \u0130 \u00df \ufdfd".split()
        ),
        max_size=40,
    ).map(" ".join),
)
_DIGITS = st.one_of(st.none(), st.text(max_size=5))


@settings(max_examples=300, deadline=None)
@given(_TEXT, _DIGITS)
def test_helpers_never_raise(text, digits):
    assert yes_no(text, digits) in ("yes", "no", None)
    assert isinstance(wants_human(text, digits), bool)
    assert isinstance(is_done(text, digits), bool)
    assert isinstance(looks_like_question(text), bool)
    question = follow_up_question(text)
    assert question is None or (isinstance(question, str) and question in text)
    name = extract_name(text)
    assert name is None or (isinstance(name, str) and 1 <= len(name.split()) <= 4)


_PUBLIC_HELPERS = [getattr(intents, name) for name in intents.__all__ if callable(getattr(intents, name))]


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_every_public_helper_takes_any_transcript(text):
    """Every helper in ``intents.__all__`` answers any transcript (unicode, punctuation, None) without raising."""
    for helper in _PUBLIC_HELPERS:
        assert isinstance(helper(text), (bool, str, int, tuple, list, type(None))), helper.__name__


@pytest.mark.parametrize("helper", _PUBLIC_HELPERS, ids=lambda h: h.__name__)
def test_every_public_helper_takes_a_huge_transcript(helper):
    """A transcript far over any real answer (Twilio's are a few hundred characters): no regular expression of the
    helpers backtracks on it for long (this test would hang), and none raises."""
    for huge in ("um " * 50_000, "u" * 150_000, "yes also " * 20_000 + "my account is locked", "sort of " * 30_000):
        helper(huge)


def test_huge_input_is_fine():
    huge = "please transfer me to an agent " * 20000
    assert wants_human(huge) is True
    assert yes_no(huge) is None
    assert isinstance(extract_name(huge), (str, type(None)))
    assert looks_like_question(huge) in (True, False)
    assert is_done(huge) in (True, False)
    assert follow_up_question("yes thanks, and how do I " + huge) is not None


@pytest.mark.parametrize("text, question", [
    ("yes thanks, and how do I change my email address?", "how do I change my email address?"),
    ("Yes, that is great. What about exporting my data", "What about exporting my data"),
    ("yes thanks is there a way to export my tickets", "is there a way to export my tickets"),
    ("yes I also want to change my email", "I also want to change my email"),
    ("yes. and what about the invoice?", "what about the invoice?"),
    ("yes", None), ("yes please", None), ("yeah it worked", None), ("yes it is", None),
    ("yes, now I can log in", None), ("yes I can log in now", None), ("yes that is how I fixed it", None),
    ("yes, it says error 500 when I log in", None), ("how do I reset my password", None),
    ("yes the password reset worked, thanks so much for the help", None), (None, None), ("", None),
])
def test_follow_up_question(text, question):
    assert follow_up_question(text) == question


@pytest.mark.parametrize("text", [
    "how do I do that on the mobile app?", "can I turn it off", "what about for admins?", "and on Android?",
    "How about the invoices for those?", "is it the same for agents", "where do I find this setting",
])
def test_a_follow_up_that_leans_on_the_earlier_question(text):
    assert refers_back(text) is True


@pytest.mark.parametrize("text", [
    None, "", "how do I cancel my subscription", "Can I also connect Slack", "is there a limit on agents",
    "where do I find my invoices", "I was told that my invoice is wrong and I need a corrected copy for my accountant",
])
def test_a_question_that_names_its_own_subject(text):
    assert refers_back(text) is False
