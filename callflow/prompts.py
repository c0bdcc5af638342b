"""Every fixed sentence callflow speaks. ``tts warm`` synthesizes these ahead of time."""

GREETING = "Thank you for calling Kayako Support."
ASK_NAME = "May I have your name, please?"
HI_THERE = "Hi there."  # before the name is asked again, after a caller's "hi"
ASK_EMAIL = "What's the email address on your account?"
ASK_EMAIL_AFTER_QUESTION = "I can help with that. First, what's the email address on your account?"
SPELL_EMAIL = "Sorry, I couldn't get that email address. Please spell it for me, letter by letter."
SPELL_EMAIL_AGAIN = "Let's try again. Please spell your email address, letter by letter."
EMAIL_GIVE_UP = "I'm sorry, I couldn't get your email address. Let's carry on, and our team will reach you at this phone number."
# A caller who has no email address to give ("I don't have an email").
EMAIL_DECLINED = "No problem. Let's carry on, and our team will reach you at this phone number."
# The same for a caller with no number to call back on (no caller id, and none given on the call).
EMAIL_DECLINED_NO_NUMBER = "No problem. Let's carry on with your question."
# The same caller with no caller id: a number to call back on, once or twice, then on without one.
NO_PROBLEM = "No problem."
EMAIL_NOT_GOT = "I'm sorry, I couldn't get your email address."
ASK_NUMBER = "What's the best phone number to reach you on?"
# "It's the number I'm calling from" from a caller whose caller id is withheld.
NUMBER_HIDDEN = "Your number is hidden on this call, so I can't see it."
SAY_NUMBER_AGAIN = ("Sorry, I didn't get that number. Please say it digit by digit, with the area code, or type it on "
                    "your keypad and press pound.")
NUMBER_CONFIRMED = "Thank you. Our team will call you back on that number."
NUMBER_AGAIN = "Sorry about that. Please say the number again, digit by digit, with the area code."
NUMBER_NOT_GOT = "I'm sorry, I couldn't get your number. Let's carry on with your question."
EMAIL_CONFIRMED = "Thank you."
HOW_CAN_I_HELP = "How can I help you today?"
# Two questions in one breath that two articles answer: the first is answered, then the other.
ONE_AT_A_TIME = "Let's take your questions one at a time."
OTHER_QUESTION = "Now, your other question."
WHAT_IS_YOUR_QUESTION = "Sure. What's your question?"
CHECK_RESOLVED = "Did that solve your issue?"
# A question of a word or three the knowledge base cannot place ("password"): asked once before escalating.
TELL_ME_MORE = "Could you tell me a little more about that?"
# Before the answer to a next question said with the "yes" ("yes, and how do I ...?").
GREAT = "Great."
# Asked again after silence: "Sorry, I didn't catch that." comes first, not "Great.".
ANYTHING_ELSE_AGAIN = "Is there anything else I can help you with?"
ANYTHING_ELSE = f"{GREAT} {ANYTHING_ELSE_AGAIN}"
ESCALATE = (
    "I'm sorry, I don't have that information right now, but I'll pass this on to our expert team. "
    "They will follow up shortly."
)
CALLER_REQUEST = "Of course. I'll pass this on to our expert team, and they will follow up shortly."
NOT_RESOLVED = "I'm sorry that didn't help. I'll pass this on to our expert team, and they will follow up shortly."
NOT_UNDERSTOOD = (
    "I'm sorry, I'm having trouble understanding. I'll pass this on to our expert team, "
    "and they will follow up shortly."
)
QUESTION_LIMIT = (
    "We've covered a lot on this call, so I'll pass your question on to our expert team. "
    "They will follow up shortly."
)
# A caller reporting the service down ("the website is down"): no article answers that.
OUTAGE = ("I'm sorry for the disruption. I'll pass this on to our expert team right away, and they will follow up "
          "shortly.")
# Another language asked for ("do you speak Spanish?"): the line speaks English only.
LANGUAGE = ("I'm sorry, I can only help in English on this line. I'll pass this on to our expert team, and they "
            "will follow up shortly.")
# A break-in reported ("my account has been hacked"): passed on at once.
SECURITY = ("Thank you for telling me. I'll pass this on to our expert team right away, and they will follow up "
            "shortly.")
# A complaint ("I'd like to make a complaint"): asked what happened once if the caller did not say, then passed on.
SORRY_TO_HEAR = "I'm sorry to hear that."
WHAT_HAPPENED = "Please tell me what happened, and I'll pass it on to our team."
COMPLAINT = ("Thank you for telling me, and I'm sorry. I'll pass this on to our expert team right away, and they "
             "will follow up shortly.")
# A call about a case the caller already opened ("what's the status of my ticket?").
CASE_FOLLOW_UP = "I'll pass this on to our expert team, who can look up your case, and they will follow up shortly."
# "Hold on, let me check": then the question again, with a longer wait for the answer (GATHER_WAIT_TIMEOUT_S).
TAKE_YOUR_TIME = "Sure, take your time."
# "I'll try that later" at "Did that solve your issue?": then "Is there anything else I can help you with?".
TRY_LATER = "No problem. If it doesn't solve your issue, just call us back and we'll take it from there."
# "Is this Kayako support?": yes, then the question again.
THIS_IS_US = "Yes, this is Kayako Support."
# "Are you a robot?": an honest answer, then the question again.
AUTOMATED = ("I'm the automated assistant of Kayako Support. I answer from our help articles, and I can pass you to a "
             "person on our team at any time: just ask.")
# "What can you help me with?": what the line does, then the question again.
CAPABILITIES = ("I can answer your questions from our help articles, and I can pass you to a person on our team at "
                "any time.")
# "Is this call being recorded?": what is kept (callflow's TwiML has no <Record> and starts no recording), then the
# question again.
RECORDED = ("I don't record the audio of this call. I keep a written transcript of what we say, so that our support team "
            "can follow up.")
# "Can I get a ticket number?": the case is created when the call ends.
REFERENCE = ("A case is opened in our helpdesk for this call when it ends, with a record of what we said, so our team "
             "can find it.")
# "I have two emails, which one?" at the email question: which, then the question again.
ANY_ADDRESS = "Any address you use with us is fine. The one you sign in with is best."
# "You should have it already" at the email question: the line cannot look the caller up, then the question again.
CANT_LOOK_UP = "I'm sorry, I can't look it up from this call."
# "Why do you need my email?" at the name or email question: why, then the question again.
WHY_WE_ASK = "So that our support team can find your account and get back to you."
GOODBYE = "Thank you for calling Kayako Support. Have a great day. Goodbye!"
DIDNT_CATCH = "Sorry, I didn't catch that."
# "Sorry, wrong number" before any question: which line this is, then the call ends.
WRONG_NUMBER = "No problem. This is Kayako Support. Goodbye!"
# "I'm not sure" at the list of articles (which_article): more words about the problem, searched with the question.
NOT_SURE_WHICH = "That's all right. Could you tell me a little more about the problem?"
# A silent line (a pocket dial, a broken microphone): nothing heard after the greeting and two re-prompts.
NO_INPUT = "I'm sorry, I can't hear anything on this line. Please call us again. Goodbye."
SAY_YES_OR_NO = "Sorry, please say yes or no. You can also press 1 for yes or 2 for no."
APOLOGY = "I'm sorry, something went wrong on our side."
ONE_MOMENT = "I'm sorry, one moment please."

FIXED_PROMPTS = (
    GREETING, ASK_NAME, HI_THERE, ASK_EMAIL, ASK_EMAIL_AFTER_QUESTION, SPELL_EMAIL, SPELL_EMAIL_AGAIN,
    EMAIL_GIVE_UP, EMAIL_DECLINED, EMAIL_DECLINED_NO_NUMBER, NO_PROBLEM, ASK_NUMBER,
    SAY_NUMBER_AGAIN, NUMBER_HIDDEN, NUMBER_CONFIRMED, NUMBER_AGAIN, NUMBER_NOT_GOT, EMAIL_NOT_GOT, EMAIL_CONFIRMED,
    HOW_CAN_I_HELP, ONE_AT_A_TIME, OTHER_QUESTION, WHAT_IS_YOUR_QUESTION, CHECK_RESOLVED, TELL_ME_MORE, ANYTHING_ELSE,
    ANYTHING_ELSE_AGAIN, GREAT,
    ESCALATE, CALLER_REQUEST, NOT_RESOLVED, NOT_UNDERSTOOD, QUESTION_LIMIT, OUTAGE, SECURITY, LANGUAGE, SORRY_TO_HEAR,
    WHAT_HAPPENED, COMPLAINT, CASE_FOLLOW_UP, TAKE_YOUR_TIME,
    NOT_SURE_WHICH, TRY_LATER, THIS_IS_US, AUTOMATED, CAPABILITIES, WHY_WE_ASK, RECORDED, REFERENCE, ANY_ADDRESS, CANT_LOOK_UP,
    GOODBYE, WRONG_NUMBER, DIDNT_CATCH, NO_INPUT, SAY_YES_OR_NO, APOLOGY, ONE_MOMENT,
)


def answer_in(said: str) -> str:
    """The answer in the agent's recorded utterance ``said`` (the prompts of one reply joined by spaces): without
    the fixed prompts before it ("Great.", "Thank you.") and "Did that solve your issue?" after it; ``""`` when
    nothing else is left."""
    text = said.strip()
    if text.endswith(CHECK_RESOLVED):
        text = text[: -len(CHECK_RESOLVED)].rstrip()
    lead = True
    while lead:
        lead = next((p for p in _LEADS_LONGEST_FIRST if text.startswith(p + " ")), None)
        if lead:
            text = text[len(lead):].lstrip()
    return "" if text in _FIXED_SET else text


_LEADS_LONGEST_FIRST = sorted(FIXED_PROMPTS, key=len, reverse=True)
_FIXED_SET = frozenset(FIXED_PROMPTS)


def thanks_name(name: str) -> str:
    """Thank the caller by name (``name`` is already cleaned by :func:`intents.extract_name`)."""
    return f"Thanks, {name}."


def confirm_number(digits: str) -> str:
    """Read a callback number back for checking (``digits`` from :func:`callflow.phone.spoken_number`), as an
    address is (:func:`confirm_email`)."""
    return confirm_email(digits)


def confirm_email(readback: str) -> str:
    """Read an address back for checking; ``readback`` comes from :func:`spoken_email.readback`."""
    return f"I heard {readback}. Is that correct?"


#: Longest article title read out in :func:`which_article` (characters; a longer one is cut at a word).
MAX_SPOKEN_TITLE_CHARS = 90
_POSITIONS = ("first", "second", "third")


def which_article(titles: list[str]) -> str:
    """Offer two or three help-center articles by title and ask which one fits: a short question ("I can't log
    in") that several articles match about equally well. The caller answers with a position ("the second one",
    see :func:`callflow.intents.choice_of`) or with more words about the problem."""
    items = [f"The {position} is: {_spoken_title(title)}." for position, title in zip(_POSITIONS, titles)]
    return "I found a few articles that might help. " + " ".join(items) + " Which one sounds closest to your problem?"


def _spoken_title(title: str) -> str:
    """``title`` on one line, cut at a word to at most :data:`MAX_SPOKEN_TITLE_CHARS` characters, without a final
    period, question or exclamation mark."""
    title = " ".join(title.split())
    if len(title) > MAX_SPOKEN_TITLE_CHARS:
        title = title[:MAX_SPOKEN_TITLE_CHARS].rsplit(" ", 1)[0]
    return title.rstrip(".?!")


#: How :func:`find_it_in_help_center` begins.
CANT_SEND = "I can't send emails or texts from this call"


def find_it_in_help_center(title: str | None) -> str:
    """The answer to "can you email me that?" after an answer: this line sends nothing in writing, so the caller is
    told where to find it (``title``: the article answered from; ``None`` or empty when it is not known)."""
    where = f', in the article "{_spoken_title(title)}"' if title and title.strip() else ""
    return f"{CANT_SEND}, but you'll find this in our help center{where}."
