"""One caller turn: read what the caller said, move the call's state machine, decide the reply.

:class:`Conversation` wraps a :class:`~callflow.models.Call` row and its
:class:`~callflow.flow.CallFlow`. It never touches HTTP or TwiML; :mod:`callflow.voice`
renders the :class:`Reply` it returns. Caller text is untrusted: it is cleaned and cut to
``MAX_SPEECH_CHARS`` before anything reads it.
"""
from __future__ import annotations

import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping

from . import prompts
from .flow import EMAIL_STATES, MAX_EMAIL_ATTEMPTS, MAX_NUMBER_ATTEMPTS, MAX_QUESTIONS, MAX_RETRIES, CallFlow
from .intents import (GREETING_WORDS, MAX_TEXT_CHARS, WRONG_NUMBER, announces_complaint, announces_question,
                      another_problem_after_yes, answer_fell_short, asks_for_answer_again, asks_for_language,
                      asks_for_reference, asks_if_automated, asks_if_recorded, asks_to_send_answer, asks_to_wait,
                      asks_what_it_can_do, asks_which_address, asks_who_we_are, asks_why_needed, cannot_recall,
                      choice_of, corrects_name, declines_email, defers_answer, extract_name, follow_up_question,
                      follows_up_on_case, hesitates, is_done, leaves_early, looks_like_question, makes_complaint,
                      normalize, opens_with_question, partly_but, points_to_caller_id, praises_answer,
                      question_after_yes, refers_back, reports_outage, reports_security_issue, reports_success,
                      same_problem, says_address_on_file, screen_message, spelled_name, split_questions, thanks_only,
                      unsure_which, wants_human, wants_repeat, without_affiliation, yes_no)
from .control_chars import CONTROL_CHARS
from .drafts import ArticleContext
from .kb_search import STOP_WORDS, KbHit
from .models import ABANDONED, NEEDS_HUMAN, RESOLVED, Call
from .phone import normalize_phone, parse_spoken_phone, spoken_number
from .spoken_email import correct_spoken_email, parse_spoken_email, readback, with_name_parts

log = logging.getLogger(__name__)

MAX_SPEECH_CHARS = 1000
MAX_NAME_CHARS = 120  # the call.name column
MAX_QUESTION_WORDS_FOR_YES = 4
#: Words of a remark about the address asked for ("I have two, which one do you want?", "do you need my work
#: email?"): said at the email question, such a remark is not kept as the caller's question.
_ABOUT_THE_ADDRESS = frozenset({"email", "emails", "mail", "address", "addresses", "phone", "number", "file", "spell",
                                "instead", "which"})
#: The states that ask who the caller is (name, email): "why do you need that?" is answered there.
_IDENTITY_STATES = frozenset({"greet", "collect_email", "confirm_email"})
#: A question of at most this many words (or with one topic word: "I need help with billing", see ``_vague``) that
#: the KB cannot place gets "Could you tell me a little more?" once, not an escalation: "password" alone is under the
#: cutoff (40.9 against 42); "password, I forgot it" is not.
MAX_WORDS_TO_ASK_MORE = 3
#: How much of the earlier question a follow-up carries along (characters, its end kept): the KB search reads
#: 1000 characters and the follow-up must stay inside them.
MAX_EARLIER_CHARS = 400
#: A short question (``_vague``) whose best articles score within this many points of each other (scores 0-100,
#: all at or above the KB cutoff) gets the choice of them read out, once, instead of the first by a hair: "I can't
#: log in" scores 49.1 for single sign-on, 48.8 for a locked account and 47.5 for a forgotten password. None of
#: the 93 labelled questions (tests/data/kb_questions.json) is both that short and that close.
TIE_MARGIN = 3.0


@dataclass
class Reply:
    """What to say next: ``prompts`` in order, then listen (Gather) or hang up."""

    prompts: list[str]
    listen: bool = True
    article_id: str | None = None
    article_score: float | None = None
    #: The caller asked to hear the last prompt again: play the last document again (its audio is cached), with
    #: ``prompts`` (the current question after "Sorry, I didn't catch that.") only where there is none.
    repeat: bool = False
    #: The caller asked for a moment ("hold on, let me check"): Twilio waits ``GATHER_WAIT_TIMEOUT_S`` for speech.
    wait: bool = False
    #: The caller asked for the last answer again at "Is there anything else?": the answer, as it was said, comes
    #: before ``prompts`` (read back from the call's utterances, see :func:`callflow.call_store.last_answer`).
    repeat_answer: bool = False

    @property
    def hangup(self) -> bool:
        """True when the call ends after the prompts (no Gather)."""
        return not self.listen


@dataclass
class Heard:
    """A caller's turn after cleaning: ``text`` (may be empty) and keypad ``digits``."""

    text: str = ""
    digits: str = ""
    confidence: float | None = None

    @property
    def empty(self) -> bool:
        """True when there is no text (after cleaning) and no keypad digit: silence."""
        return not self.text and not self.digits


def clean_speech(value: Any) -> str:
    """Normalize SpeechResult: NFKC, no control characters, single spaces, at most 1000 characters."""
    if not isinstance(value, str):
        return ""
    value = unicodedata.normalize("NFKC", value[: MAX_SPEECH_CHARS * 4])
    value = CONTROL_CHARS.sub(" ", value)
    return " ".join(value.split())[:MAX_SPEECH_CHARS]


def clean_digits(value: Any) -> str:
    """Keep only keypad characters (0-9, *, #) of Digits, at most 20."""
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value if ch in "0123456789*#")[:20]


def parse_confidence(value: Any) -> float | None:
    """Twilio's Confidence (0.0-1.0, may be absent or junk) as a float, or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 0.0 <= number <= 1.0 else None


def _after_address(text: str, email: str) -> str:
    """What the caller said after the address in one utterance: the text after the last mention of the
    address's top-level domain ("... dot com, and I can't log in" -> "I can't log in"), or ``""``."""
    tld = email.rsplit(".", 1)[-1].lower()
    ends = [m.end() for m in re.finditer(rf"\b{re.escape(tld)}\b", text.lower())]
    if not ends:
        return ""
    rest = text[ends[-1]:].lstrip(" ,.;:!-")
    return _LEADING_JOINER.sub("", rest).strip()


def _without_intro(text: str, name: str) -> str:
    """Drop a leading self-introduction ("This is Dave, ...") from a question said at the greeting.

    The name must end within the first 60 characters and at least 3 words must remain, or fewer that still
    state a problem ("This is Jane, password": "password", asked to tell more like any short question);
    otherwise the text is returned unchanged.
    """
    at = text.lower().find(name.lower())
    if at < 0 or at + len(name) > 60:
        return text
    rest = text[at + len(name):].lstrip(" ,.;:!-")
    rest = _LEADING_JOINER.sub("", rest)
    return rest if len(rest.split()) >= 3 or looks_like_question(rest) else text


#: Articles whose title opens with one of these words say how to destroy something ("Deleting a customer's personal
#: data", "Cancelling your subscription"): read out for another question, their steps do harm.
_DESTRUCTIVE_TITLE_WORDS = frozenset({"deleting", "cancelling", "canceling", "closing", "removing", "erasing",
                                      "purging", "wiping"})
#: Words of a question that asks to destroy something, or names what such an article is about ("end my
#: subscription", "a refund for unused months"), and may be answered from it.
_DESTRUCTIVE_WORDS = frozenset({
    "delete", "deleting", "deleted", "deletion", "remove", "removing", "removed", "removal", "erase", "erasing",
    "erased", "cancel", "cancelling", "canceling", "cancellation", "cancelled", "canceled", "close", "closing",
    "closed", "gdpr", "wipe", "purge", "terminate", "unsubscribe", "quit", "leave", "leaving", "stop", "end", "ending",
    "refund", "refunds", "renew", "renewal", "renewing", "deactivate", "discontinue", "rid", "subscription",
    "subscriptions", "privacy", "personal",
})


def _unasked_destruction(question: str, title: str) -> bool:
    """True when the article ``title`` says how to destroy something (:data:`_DESTRUCTIVE_TITLE_WORDS`) and
    ``question`` asks for nothing of the kind (:data:`_DESTRUCTIVE_WORDS`): "how do I get my data out" found "Deleting
    a customer's personal data (GDPR)" and was read its deletion steps, "I need to change the email on my account"
    the steps to cancel the subscription."""
    first = title.split(maxsplit=1)[0].casefold() if title.strip() else ""
    return first in _DESTRUCTIVE_TITLE_WORDS and _DESTRUCTIVE_WORDS.isdisjoint(normalize(question))


#: A name said before the address is looked for in the first this many words ("Jane Smith, jane dot smith at ...").
MAX_NAME_WORDS = 6
_SPOKEN_WORD = re.compile(r"\S+")


def _name_before_address(text: str) -> tuple[str, str] | None:
    """``(name, address)`` for a name and an address said in one breath at the name question, where the whole
    transcript runs the name into the address: "Jane Smith, jane dot smith at acme dot com" was janesmithjane.smith@
    acme.com, "Bob here bob at example dot com" bobherebob@example.com.

    The name part ends at the first comma, or where the name's first word is said again (the address's local part,
    within :data:`MAX_NAME_WORDS` words). It must hold a name of two letters or more
    (:func:`~callflow.intents.extract_name`: "J, A, N, E at ..." spells the address) and no "at" or "dot", and the
    rest must parse as an address (:func:`~callflow.spoken_email.parse_spoken_email`). ``None`` otherwise."""
    words = list(_SPOKEN_WORD.finditer(text[:MAX_TEXT_CHARS]))
    comma = text.find(",", 0, words[min(len(words), MAX_NAME_WORDS) - 1].end() if words else 0)
    cuts = ([comma + 1] if comma > 0 else []) + [w.start() for w in words[1:MAX_NAME_WORDS + 1]]
    for cut in cuts:
        head, rest = text[:cut].rstrip(" ,"), text[cut:]
        head_words = normalize(head)
        if not head_words or "@" in head or {"at", "dot"} & set(head_words):
            continue
        name = extract_name(head)
        if not name or len(name.replace(" ", "")) < 2:
            continue
        if cut != comma + 1 and normalize(rest)[:1] != normalize(name)[:1]:
            continue  # cut at a word: only where the name's first word is said again
        email = parse_spoken_email(rest)
        if email:
            return name, email
    return None


#: Whole answers that confirm a read-back address though they are no yes to other questions ("that's it"
#: at "anything else?" ends the call, see intents.yes_no).
_ADDRESS_CONFIRMATIONS = frozenset(
    tuple(phrase.split())
    for phrase in ("thats it", "that is it", "thats the one", "thats me", "thats mine", "that is me", "you got it",
                   "got it", "spot on", "bingo", "looks good", "all good", "thats good", "that is good")
)

#: A "yes" that goes on to correct the address: "yes, but it's hotmail", "yes except dot net".
_BUT = re.compile(r"\b(?:but|except|only|though|however|apart from)\b", re.IGNORECASE)


def _read_back_answer(heard: Heard) -> str | None:
    """"yes", "no" or ``None`` for the answer to a read-back (an address or a callback number):
    :func:`~callflow.intents.yes_no` (keys 1 and 2 too), and whole answers such as "that's it" are a yes there. A
    yes that goes on to the problem is a yes though the problem has a "no" word in it: "yes, and I can't log in"
    (:func:`~callflow.intents.question_after_yes`; it was a no, and the caller asked to spell the address again)."""
    answer = yes_no(heard.text, heard.digits or None)
    if answer is None and tuple(normalize(heard.text)) in _ADDRESS_CONFIRMATIONS:
        return "yes"
    if answer == "no" and not heard.digits:
        question = question_after_yes(heard.text)
        if question and yes_no(heard.text[:heard.text.rfind(question)]) == "yes":
            return "yes"
    return answer


def _vague(text: str) -> bool:
    """A question too short to place: at most ``MAX_WORDS_TO_ASK_MORE`` words ("password"), or a sentence with a
    single topic word, the rest being :data:`~callflow.kb_search.STOP_WORDS` ("I need help with billing"). "my
    package never arrived" (package, arrived) says what happened."""
    words = normalize(text)
    return len(words) <= MAX_WORDS_TO_ASK_MORE or sum(w not in STOP_WORDS for w in words) <= 1


def _greeting_only(text: str | None) -> bool:
    """Nothing but greeting words ("hi", "yeah hi", "good morning"): no name, no question."""
    words = normalize(text)
    return bool(words) and all(word in GREETING_WORDS for word in words)


#: Greeting words that say hello (of :data:`~callflow.intents.GREETING_WORDS`, which also holds "yes" and "thanks").
_HELLO_WORDS = frozenset({"hi", "hello", "hey", "morning", "afternoon", "evening"})


def _hello_only(text: str | None) -> bool:
    """A hello and nothing more ("hi", "hey there", "good morning"); "yes" or "thank you" alone is none."""
    return _greeting_only(text) and not _HELLO_WORDS.isdisjoint(normalize(text))


def _tail(text: str | None, limit: int) -> str | None:
    """The last ``limit`` characters of ``text``, from a word start (None for no text)."""
    if not text:
        return None
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    return cut[cut.find(" ") + 1:] if " " in cut else cut


_LEADING_JOINER = re.compile(r"^(?:(?:and|so|um+|uh+|well)\b[\s,]*)+", re.IGNORECASE)


class _CallSlot:
    """The model of a thread's cached :class:`CallFlow`: forwards every attribute to a call.

    Building a ``CallFlow`` resolves all its callbacks (~0.4 ms); a machine keeps nothing of
    a call but reads and writes ``model.state`` on every event
    (https://python-statemachine.readthedocs.io/en/latest/models.html), so one machine per
    thread serves every call, pointed at the call of the turn it handles.
    """

    __slots__ = ("_call",)

    def __init__(self, call: Any):
        object.__setattr__(self, "_call", call)

    def point_at(self, call: Any) -> None:
        object.__setattr__(self, "_call", call)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_call"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_call"), name, value)


class _NoCall:
    state = "greet"


_threads = threading.local()


def _machine_for(call: Any) -> CallFlow:
    """This thread's :class:`CallFlow`, its model pointed at ``call`` (built on first use)."""
    cached = getattr(_threads, "machine", None)
    if cached is None:
        slot = _CallSlot(_NoCall())
        cached = _threads.machine = (CallFlow(model=slot), slot)
    machine, slot = cached
    slot.point_at(call)
    return machine


_ESCALATION_PROMPTS = {
    "caller-request": prompts.CALLER_REQUEST,
    "not-resolved": prompts.NOT_RESOLVED,
    "silence": prompts.NOT_UNDERSTOOD,
    "unclear": prompts.NOT_UNDERSTOOD,
    "question-limit": prompts.QUESTION_LIMIT,
    "outage": prompts.OUTAGE,
    "security": prompts.SECURITY,
    "language": prompts.LANGUAGE,
    "complaint": prompts.COMPLAINT,
    "case-follow-up": prompts.CASE_FOLLOW_UP,
}


def _reported(text: str) -> str | None:
    """What no help-center article answers and a person must hear, as the escalation reason: an outage ("the website
    is down"), a break-in ("my account has been hacked"), a complaint, or a call about a case the caller already
    opened; ``None`` for a question."""
    if reports_outage(text):
        return "outage"
    if reports_security_issue(text):
        return "security"
    if makes_complaint(text):
        return "complaint"
    if follows_up_on_case(text):
        return "case-follow-up"
    return None


def _yes_without_question(text: str) -> bool:
    """At "Anything else?": a "yes" that does not ask anything yet. Short ("yes please", at most
    ``MAX_QUESTION_WORDS_FOR_YES`` words) and no question in it ("Yes, cancel my subscription" asks one), or
    announcing one ("yes, I have one more question", up to 8 words)."""
    words = len(text.split())
    if "question" in text.casefold():
        return words <= 8
    return words <= MAX_QUESTION_WORDS_FOR_YES and not looks_like_question(text)


class Conversation:
    """Drives one call; ``services`` is ``app.extensions`` (kb, drafter, fallback_drafter)."""

    def __init__(self, call: Call, services: Mapping[str, Any]):
        self.call = call
        self.services = services
        self._hits: dict[str, list[KbHit]] = {}

    def _search(self, query: str) -> list[KbHit]:
        """The KB's best 3 hits for ``query``, searched once per turn: a turn may check a question before answering
        it (:meth:`_kb_can_answer`), or read a list of articles again after checking the answer to it. When none is
        above the cutoff and the caller reads out a message ("I get an error saying my account is locked":
        :func:`~callflow.intents.screen_message`), the message's hits if it finds an article by itself. An article
        that says how to delete or cancel something is no hit for a question that asks for nothing of the kind
        (:func:`_unasked_destruction`)."""
        hits = self._hits.get(query)
        if hits is None:
            index = self.services["kb"].index()
            hits = [h for h in index.search(query, limit=3) if not _unasked_destruction(query, h.title)]
            message = screen_message(query) if not hits or hits[0].score < index.cutoff else None
            if message:
                found = [h for h in index.search(message, limit=3) if not _unasked_destruction(query, h.title)]
                if found and found[0].score >= index.cutoff:
                    hits = found
            self._hits[query] = hits
        return hits

    def _search_query(self, question: str, follows_up: bool = True) -> tuple[str | None, bool, str]:
        """``(earlier, joint, query)`` for ``question``: after an answered question (``follows_up``) and with a
        drafting model, the earlier question (its last :data:`MAX_EARLIER_CHARS` characters) as the model's context;
        ``joint`` when the question leans on it (:func:`~callflow.intents.refers_back`), and then ``query`` is both
        together, else the question alone."""
        call = self.call
        earlier = _tail(call.last_question, MAX_EARLIER_CHARS) if follows_up and call.questions_asked else None
        if self.services["drafter"] is self.services["fallback_drafter"]:
            earlier = None  # the extractive answer has no use for it
        joint = bool(earlier) and refers_back(question)
        return earlier, joint, f"{earlier} {question}" if joint else question

    @cached_property
    def machine(self) -> CallFlow:
        """The call's state machine: this thread's :class:`CallFlow`, pointed at this call."""
        return _machine_for(self.call)

    # -- entry points -------------------------------------------------------------------
    def start(self) -> Reply:
        """The greeting for a new call."""
        return Reply([prompts.GREETING, prompts.ASK_NAME])

    def hear(self, heard: Heard) -> Reply:
        """Handle one Gather result and return the reply; the caller commits the row."""
        state = self.call.state
        if state in ("escalate", "goodbye"):
            return Reply([prompts.GOODBYE], listen=False)
        if heard.empty:
            return self._retry(prompts.DIDNT_CATCH, "silence")
        if state in EMAIL_STATES and self.call.number_asked:
            # the number first: "you can call me back on 415 555 0100" is no request for a person, and "no, it's 415
            # 555 0199" at its read-back is the number put right
            number = parse_spoken_phone(heard.text or heard.digits, self.call.to_number)
            if number:
                return self._number_given(number, heard)
            if state == "collect_email" and points_to_caller_id(heard.text):
                # "it's the number I'm calling from" (and "call me back on this number", no request for a person):
                # the caller id is withheld, so they hear that, then the question again
                return self._retry(prompts.NUMBER_HIDDEN, "unclear")
        if wants_human(heard.text, heard.digits or None):
            return self._escalate("caller-request")
        if asks_for_language(heard.text):  # "do you speak Spanish?", "español": not a name, nor a question
            return self._escalate("language")
        if state in _IDENTITY_STATES or self._before_any_question():
            early = leaves_early(heard.text)  # "bye", "sorry, wrong number": not a name, an address or a question
            if early:
                return self._leave(early)
        if asks_if_automated(heard.text):  # "are you a robot?": say so, then ask the question again
            return self._retry(prompts.AUTOMATED, "unclear")
        if asks_who_we_are(heard.text):  # "is this Kayako support?": yes, then the question again
            return self._retry(prompts.THIS_IS_US, "unclear")
        if asks_for_reference(heard.text):  # "can I get a ticket number?": the case comes when the call ends
            return self._retry(prompts.REFERENCE, "unclear")
        if asks_if_recorded(heard.text):  # "is this call being recorded?": say what is kept, then ask again
            return self._retry(prompts.RECORDED, "unclear")
        if state in ("answer", "check_resolved") and self.call.article_id and not self.call.pending_question \
                and asks_to_send_answer(heard.text):  # "can you email me that?": where to find it, then ask again
            return self._retry(prompts.find_it_in_help_center(self._article_title(self.call.article_id)), "unclear")
        if asks_what_it_can_do(heard.text):  # "what can you help me with?": say so, then ask the question again
            return self._retry(prompts.CAPABILITIES, "unclear")
        if state in _IDENTITY_STATES and asks_why_needed(heard.text):  # "why do you need my email?": say why, ask again
            return self._retry(prompts.WHY_WE_ASK, "unclear")
        if wants_repeat(heard.text):  # "can you repeat that?": the same prompt again, counted like an unclear answer
            reply = self._retry(prompts.DIDNT_CATCH, "unclear")
            if reply.listen and self._answered_before_anything_else() and asks_for_answer_again(heard.text):
                # "can you repeat the steps?" at "anything else?": the last prompt was "Great. Is there anything
                # else...?", the answer the one before it
                reply.prompts, reply.repeat_answer = [prompts.ANYTHING_ELSE_AGAIN], True
            else:
                reply.repeat = reply.listen
            return reply
        thinking = hesitates(heard.text)
        if thinking or asks_to_wait(heard.text):
            # "hold on, let me check", or only "um" or "hmm": the question again, and a longer wait for the answer.
            # A sound with no words counts as silence: a line of background noise since the greeting ends as a
            # silent one does, and a resolved caller at "anything else?" hears the goodbye.
            reply = self._retry(prompts.TAKE_YOUR_TIME, "silence" if thinking else "unclear")
            reply.wait = reply.listen
            return reply
        if state != "greet" and _hello_only(heard.text):
            # "hi" after the name: hello back and the question again (it was a try at the address, a short question
            # to tell more about, or no yes or no)
            return self._retry(prompts.HI_THERE, "unclear")
        handler = getattr(self, f"_in_{state}")
        return handler(heard)

    def fail(self, reason: str = "error") -> Reply:
        """Escalate after an unexpected error (the row was reloaded by the caller)."""
        self.call.state = "escalate"
        self.call.escalation_reason = reason
        self.call.outcome = NEEDS_HUMAN
        return Reply([prompts.APOLOGY, prompts.ESCALATE], listen=False)

    # -- states -------------------------------------------------------------------------
    def _in_greet(self, heard: Heard) -> Reply:
        text = heard.text
        if (self.call.prompt_seq or 0) <= 1 and _greeting_only(text):
            # "Hi", "yeah hi" to the greeting's "May I have your name?" (prompt 1): asked once more, not counted as
            # unclear; a second greeting goes on without the name, as before
            return Reply([prompts.HI_THERE, prompts.ASK_NAME])
        email = parse_spoken_email(text) if text else None
        spelled = None
        if text and not email:
            text, spelled = spelled_name(text)  # "Jane, J A N E": the letters are not a question
        said_first = _name_before_address(text) if email else None
        if said_first:  # "Jane Smith, jane dot smith at acme dot com": the name, then the address
            name, email = said_first
        else:
            name = extract_name(text) if text else None
        if not name and spelled and 2 <= len(spelled) <= MAX_NAME_CHARS:
            name = spelled.title()  # "J A N E", "my name is J A N E"
        if name:
            name = self.call.name = name[:MAX_NAME_CHARS]
        if text and not email and (looks_like_question(text) or _reported(text)):
            question = _without_intro(text, name) if name else text
            told = without_affiliation(question) if name else question  # "Jane from Acme IT support": no question
            if told == question or looks_like_question(told) or _reported(told):
                self.call.pending_question = told
        elif email:
            self._keep_question_after(text, email)
        self.machine.send("introduce")
        lead = [prompts.thanks_name(name)] if name else []
        if email:
            return self._email_candidate(email, lead)
        if self.call.pending_question:
            return Reply(lead + [prompts.ASK_EMAIL_AFTER_QUESTION])
        return Reply(lead + [prompts.ASK_EMAIL])

    def _in_collect_email(self, heard: Heard) -> Reply:
        if self.call.number_asked:  # the answer to "What's the best phone number to reach you on?"
            return self._after_number_asked(heard)
        said = with_name_parts(heard.text, self.call.name) if heard.text else heard.text  # "first name dot last name"
        email = parse_spoken_email(said) if said else None
        if email:
            self._keep_question_after(said, email)
            return self._email_candidate(email)
        if declines_email(heard.text) or cannot_recall(heard.text):
            # "I don't have an email", "I don't remember": no spelling, no two more tries
            if self._no_caller_id():  # and no caller id to call back on: a number, then on
                return self._ask_number()
            self.machine.send("no_email")
            return self._enter_answer([self._email_give_up(declined=True)])
        if asks_which_address(heard.text):  # "I have two, which one do you want?": any, then the question again
            return self._retry(prompts.ANY_ADDRESS, "unclear")
        if says_address_on_file(heard.text):  # "you should have it already": it cannot be looked up from here
            return self._retry(prompts.CANT_LOOK_UP, "unclear")
        renamed = corrects_name(heard.text, self.call.name)
        if renamed:  # "sorry, it's Jane, not Jean": the name put right, then the question again (no try used)
            self.call.name = renamed[:MAX_NAME_CHARS]
            self.call.retry_count = 0  # the caller spoke to the point: the question's re-prompts start again
            return Reply([prompts.thanks_name(self.call.name), self.current_question()])
        if heard.text and not self.call.pending_question and looks_like_question(heard.text) \
                and not _ABOUT_THE_ADDRESS.intersection(normalize(heard.text)):
            self.call.pending_question = heard.text  # "I just want to reset my password": kept for after the address
        self.call.email_attempts += 1
        if self.call.email_attempts >= MAX_EMAIL_ATTEMPTS and self._no_caller_id():
            return self._ask_number([prompts.EMAIL_NOT_GOT])  # no address and no caller id: a number, then on
        self.machine.send("email_unclear")
        if self.call.state == "answer":
            return self._enter_answer([self._email_give_up()])
        return Reply([prompts.SPELL_EMAIL])

    def _in_confirm_email(self, heard: Heard) -> Reply:
        """The answer to the read-back: yes confirms; a correction ("no, it's at hotmail dot com", "yes,
        but it's hotmail") is read back in turn; a plain no asks for the address again."""
        if self.call.number_asked:  # the read-back of a number to call back on
            return self._in_confirm_number(heard)
        answer = _read_back_answer(heard)
        corrected = correct_spoken_email(with_name_parts(heard.text, self.call.name), self.call.email) \
            if heard.text else None
        if corrected == self.call.email:
            corrected = None
            if answer is None:  # the address said again as it was read back: "jane at example dot com"
                answer = "yes"
        if answer == "yes" and not (corrected and _BUT.search(heard.text)):
            self.machine.send("confirm")
            self._keep_question_after_yes(heard.text)
            return self._enter_answer([prompts.EMAIL_CONFIRMED])
        if not corrected and declines_email(heard.text):  # "no, I don't have an email": the read-back was a mishearing
            self.machine.send("reject")
            if self.call.state == "collect_email":
                if self._no_caller_id():
                    return self._ask_number()
                self.machine.send("no_email")
            return self._enter_answer([self._email_give_up(declined=True)])
        if answer == "no" or corrected:
            self.call.email_attempts += 1
            if corrected and self.call.email_attempts < MAX_EMAIL_ATTEMPTS:
                return self._email_candidate(corrected)
            if self.call.email_attempts >= MAX_EMAIL_ATTEMPTS and self._no_caller_id():
                self.machine.send("ask_number")  # no address and no caller id: back to collect_email, for a number
                self.call.email = None
                return self._ask_number([prompts.EMAIL_NOT_GOT])
            self.machine.send("reject")
            if self.call.state == "answer":
                return self._enter_answer([self._email_give_up()])
            return Reply([prompts.SPELL_EMAIL_AGAIN])
        return self._retry(prompts.SAY_YES_OR_NO, "unclear")

    def _in_answer(self, heard: Heard) -> Reply:
        if self.call.pending_question and makes_complaint(self.call.pending_question):
            return self._after_complaint(heard)
        if self.call.pending_question:
            close = self._close_articles(self.call.pending_question)
            if len(close) > 1:  # their titles were read out (which_article)
                return self._after_article_choice(heard, close)
        if is_done(heard.text, heard.digits or None):
            return self._goodbye()
        thanked = thanks_only(heard.text)
        if thanked and self.call.anything_else_asked and not self.call.pending_question:
            return self._goodbye()  # "thank you" to "Is there anything else I can help you with?"
        said_yes = yes_no(heard.text, heard.digits or None) == "yes"
        if not heard.text or (said_yes and _yes_without_question(heard.text)) or announces_question(heard.text) \
                or thanked:
            # "Yes" (or a key), "I have another question" or "thank you", but no question yet: an unclear answer,
            # counted like one.
            self.call.retry_count += 1
            if self.call.retry_count > MAX_RETRIES:
                return self._escalate("unclear")
            self.machine.send("ask_again")
            return Reply([prompts.WHAT_IS_YOUR_QUESTION])
        if self.call.pending_question:  # telling more about a short question: search both together, once
            earlier, self.call.pending_question = self.call.pending_question, None
            return self._answer_question(f"{earlier} {heard.text}", may_ask_more=False, follows_up=False)
        question = heard.text
        if self.call.anything_else_asked and said_yes:
            # "yes, how do I export my cases?" at "anything else?": the question without the "yes" (the ticket's
            # subject, the admin's unanswered-question groups and the KB search all read it)
            question = follow_up_question(heard.text) or question
        return self._answer_in_turn(question)

    def _after_article_choice(self, heard: Heard, close: list[KbHit]) -> Reply:
        """The answer to :func:`~callflow.prompts.which_article`: a position ("the second one", or its key) answers
        from that article; more words are searched together with the question; "none of those", "no" or another
        key pass the call to a person (the problem is still there); a bare "yes" hears the list again; "I'm not sure"
        is asked to tell more, which is then searched with the question (after ``MAX_RETRIES`` of them, passed on)."""
        choice = choice_of(heard.text or (heard.digits or "")[:1])
        if choice is not None and -len(close) <= choice < len(close):
            earlier, self.call.pending_question = self.call.pending_question, None
            return self._answer_question(earlier, may_ask_more=False, follows_up=False, picked=close[choice])
        if heard.text and yes_no(heard.text) == "yes" and _yes_without_question(heard.text):
            return self._retry(prompts.DIDNT_CATCH, "unclear")
        unsure = unsure_which(heard.text)
        if unsure:  # "I'm not sure": more words about the problem, searched with the question
            self.call.retry_count += 1
            if self.call.retry_count <= MAX_RETRIES:
                return Reply([prompts.NOT_SURE_WHICH])
        earlier, self.call.pending_question = self.call.pending_question, None
        if unsure or not heard.text or is_done(heard.text):  # still not sure after MAX_RETRIES: nothing to answer from
            return self._escalate("no-kb-match")
        return self._answer_question(f"{earlier} {heard.text}", may_ask_more=False, follows_up=False)

    def _after_complaint(self, heard: Heard) -> Reply:
        """The answer to "Please tell me what happened" after "I'd like to make a complaint": passed on to a person
        with what happened as the ticket's subject ("Complaint: ..."), without a KB search; "never mind" ends the
        call as any "no more questions" does."""
        earlier, self.call.pending_question = self.call.pending_question, None
        if is_done(heard.text, heard.digits or None):
            return self._goodbye()
        told = heard.text and not (yes_no(heard.text) == "yes" and _yes_without_question(heard.text))
        self.call.last_question = heard.text if told else earlier  # "yes" tells nothing: the subject stays the same
        self.call.questions_asked += 1
        return self._escalate("complaint")

    def _in_check_resolved(self, heard: Heard) -> Reply:
        if defers_answer(heard.text):  # "I'll try that later": neither a yes nor a no
            self.machine.send("deferred")
            if self.call.next_question:  # the other question said with this one comes next
                return self._answer_next([prompts.TRY_LATER, prompts.OTHER_QUESTION])
            return Reply([prompts.TRY_LATER, prompts.ANYTHING_ELSE_AGAIN])
        another = None if heard.digits else another_problem_after_yes(heard.text)  # "yes, also my account is locked"
        partly = None if heard.digits else partly_but(heard.text)  # "sort of, but how do I share it?"
        if another:
            answer = "yes"
        elif partly:
            if self._answers_in_passing(partly, messages_only=True):
                # a question the KB answers, or a message another article answers: answered (the first answer is
                # not counted as solved)
                self.machine.send("asked_more")
                return self._answer_question(partly)
            answer = "no"  # "partially, but I still can't log in": not solved
        elif not heard.digits and (answer_fell_short(heard.text) or same_problem(heard.text)):
            answer = "no"  # "sort of", "partly", "ok, thanks anyway"; "same problem", "still the same"
        else:
            answer = yes_no(heard.text, heard.digits or None)
            if answer == "yes" and not heard.digits and len(normalize(heard.text)) >= 3 \
                    and opens_with_question(heard.text):
                answer = None  # "how do I do that for my whole team?" or "can I do that on my phone?": "I do" is no yes
        if answer is None and (praises_answer(heard.text) or reports_success(heard.text)):
            answer = "yes"  # "thank you", "brilliant", "got it, thanks"; "it's working now", "I can log in now"
        if answer == "yes":
            self.machine.send("resolved")
            question = another or follow_up_question(heard.text)  # "yes, thanks. And how do I ...?"
            if question:
                reply = self._answer_question(question)
                if reply.listen:  # answered; an escalation speaks for itself
                    reply.prompts.insert(0, prompts.GREAT)
                return reply
            if self.call.next_question:  # the other question said with this one comes next
                return self._answer_next([prompts.GREAT, prompts.OTHER_QUESTION])
            return Reply([prompts.ANYTHING_ELSE])
        if answer == "no":
            if not heard.digits and self._answers_in_passing(heard.text, messages_only=True):
                # "no, it says my account is locked": what trying the answer led to, which another article answers
                self.machine.send("asked_more")
                return self._answer_question(heard.text)
            return self._escalate("not-resolved")
        if answer is None and self._answers_in_passing(heard.text):
            # "what if I have more than one time zone?": a follow-up question instead of a yes or a no; "it says my
            # account is locked": what trying the answer led to, which another article answers ("it keeps crashing",
            # which no other article answers, says how the answer went, and is asked for a yes or a no again)
            self.machine.send("asked_more")
            return self._answer_question(heard.text)
        return self._retry(prompts.SAY_YES_OR_NO, "unclear")

    # -- helpers ------------------------------------------------------------------------
    def _keep_question_after(self, text: str, email: str) -> None:
        """Keep a question said after the address in the same breath ("..., my email is jane at example dot com,
        and I can't log in") as the pending question, unless one is pending already."""
        rest = _after_address(text, email)
        if rest and not self.call.pending_question and looks_like_question(rest):
            self.call.pending_question = rest

    def _kb_can_answer(self, question: str) -> bool:
        """Does the KB have an article for ``question`` (searched as :meth:`_answer_question` would search it, with
        the earlier question for a follow-up that leans on it) above the cutoff? A question said in passing, where
        a yes or a no was asked for, is taken only then: "is that all you need?" or "what do you mean?" would
        otherwise be passed to a person as a question without an answer."""
        cutoff = self.services["kb"].index().cutoff
        _, _, query = self._search_query(question)
        return any(hits and hits[0].score >= cutoff for hits in map(self._search, {question, query}))

    def _answers_in_passing(self, text: str | None, messages_only: bool = False) -> bool:
        """At "Did that solve your issue?": is ``text`` a follow-up question the KB answers (it opens with a question
        word), or what trying the answer led to that another article answers (:meth:`_another_article_answers`)?
        With ``messages_only`` (after a "no" or a "partly, but"), what it led to counts only as a message read out
        from the screen ("it says my account is locked", :func:`~callflow.intents.screen_message`): "I still can't
        log in" says the answer failed."""
        if not text or not looks_like_question(text):
            return False
        if opens_with_question(text) and self._kb_can_answer(text):
            return True
        return (not messages_only or screen_message(text) is not None) and self._another_article_answers(text)

    def _another_article_answers(self, text: str) -> bool:
        """Does an article other than the one just read answer ``text`` by itself, above the cutoff? ("it says my
        account is locked" after the password answer: the locked-account article)."""
        hits = self._search(text)
        return bool(hits) and hits[0].score >= self.services["kb"].index().cutoff and hits[0].id != self.call.article_id

    def _email_candidate(self, email: str, lead: list[str] | None = None) -> Reply:
        self.call.email = email
        self.call.email_confirmed = False
        self.machine.send("email_heard")
        return Reply((lead or []) + [prompts.confirm_email(readback(email))])

    def _enter_answer(self, lead: list[str]) -> Reply:
        if self.call.pending_question and announces_question(self.call.pending_question):
            self.call.pending_question = None  # "Hi, I have a question" at the greeting: no question yet
        if self.call.pending_question:
            question, self.call.pending_question = self.call.pending_question, None
            reply = self._answer_in_turn(question)
            reply.prompts[:0] = lead
            return reply
        return Reply(lead + [prompts.HOW_CAN_I_HELP])

    def _answer_in_turn(self, question: str, announce: bool = True) -> Reply:
        """Answer ``question``; when it asks two things that two articles answer ("how do I reset my password, and
        how do I export my cases?", :meth:`_first_of_two`), answer the first (after "Let's take your questions one
        at a time." if ``announce``) and keep the rest for after the caller says whether it helped."""
        first = self._first_of_two(question)
        reply = self._answer_question(first or question)
        if first and announce and reply.listen:
            reply.prompts.insert(0, prompts.ONE_AT_A_TIME)
        return reply

    def _first_of_two(self, question: str) -> str | None:
        """The first of two questions said together (:func:`~callflow.intents.split_questions`) whose best articles
        are different and both above the cutoff; the rest is kept as ``next_question``. ``None`` for one question
        (both halves find the same article, or one finds none) and while another question is kept."""
        if self.call.next_question:
            return None
        cutoff = self.services["kb"].index().cutoff
        for first, rest in split_questions(question):
            hits, more = self._search(first), self._search(rest)
            if hits and more and min(hits[0].score, more[0].score) >= cutoff and hits[0].id != more[0].id:
                self.call.next_question = rest
                return first
        return None

    def _answer_next(self, lead: list[str]) -> Reply:
        """Answer the question kept by :meth:`_first_of_two` after ``lead``; an escalation speaks for itself."""
        question, self.call.next_question = self.call.next_question, None
        reply = self._answer_in_turn(question, announce=False)
        if reply.listen:
            reply.prompts[:0] = lead
        return reply

    def _close_articles(self, question: str, hits: list[KbHit] | None = None) -> list[KbHit]:
        """The KB hits for a short question (``_vague``) that score at or above the cutoff and within
        :data:`TIE_MARGIN` of the best one, best first; at most 3 (the same list for the same question and KB).
        ``hits``: the question's search (``limit=3``) if the caller already ran it."""
        if not _vague(question):
            return []
        cutoff = self.services["kb"].index().cutoff
        hits = self._search(question) if hits is None else hits
        return [h for h in hits if h.score >= cutoff and hits[0].score - h.score < TIE_MARGIN]

    def _answer_question(self, question: str, may_ask_more: bool = True, follows_up: bool = True,
                         picked: KbHit | None = None) -> Reply:
        """Answer ``question`` from the KB, or escalate; a vague question (``_vague``)
        the KB cannot place is first kept (``pending_question``) and the caller asked to tell more, once.
        One that two or three articles match about equally (:meth:`_close_articles`) is kept the same way, and
        their titles read out; ``picked`` (one of them, the caller's pick) is answered from, without a search.

        After an answered question (``follows_up``) a drafting model gets the earlier one as context, and a
        follow-up that leans on it (:func:`~callflow.intents.refers_back`: "how do I do that on the mobile app?")
        is also searched together with it and kept so (``last_question``: the ticket's subject, the context of the
        next follow-up). The articles the follow-up finds by itself (above the cutoff) come first, then those of
        the joint search ("what about macros?" after a password question: the macros article, then the password
        one). The extractive answer only reads an article the question found by itself: it cannot tell which
        question an article answers, and would read the earlier answer again."""
        call = self.call
        earlier, joint, query = self._search_query(question, follows_up)
        call.last_question = query
        if call.questions_asked >= MAX_QUESTIONS:  # a long call: a person takes the rest
            return self._escalate("question-limit")
        reported = _reported(question)
        if reported == "complaint" and may_ask_more and announces_complaint(question):
            call.pending_question = question  # "I'd like to make a complaint": asked what happened, once
            self.machine.send("ask_again")
            call.retry_count = 0
            return Reply([prompts.SORRY_TO_HEAR, prompts.WHAT_HAPPENED])
        if reported:
            call.questions_asked += 1
            return self._escalate(reported)
        index = self.services["kb"].index()
        if picked is not None:
            hits = [picked]  # the caller chose it: the answer reads that article alone
        else:
            hits = self._search(question)
            close = self._close_articles(question, hits) if may_ask_more and not joint else []
            if len(close) > 1:
                call.pending_question = query
                self.machine.send("ask_again")
                call.retry_count = 0
                return Reply([prompts.which_article([h.title for h in close])])
        own = {h.id for h in hits if h.score >= index.cutoff}
        if joint:
            merged: dict[str, Any] = {}
            for hit in [h for h in hits if h.id in own] + self._search(query) + hits:
                merged.setdefault(hit.id, hit)
            hits = list(merged.values())[:3]
        top = hits[0] if hits else None
        missed = top is None or top.score < index.cutoff
        if missed and may_ask_more and _vague(query):
            call.pending_question = query
            self.machine.send("ask_again")
            call.retry_count = 0  # the caller spoke: "tell me more" gets its own re-prompts after silence
            return Reply([prompts.TELL_ME_MORE])
        call.questions_asked += 1
        call.article_id = top.id if top else None
        call.article_score = round(top.score, 1) if top else None
        if missed:
            return self._escalate("no-kb-match")
        contexts = [ArticleContext(id=h.id, title=h.title, text=index.doc(h.id).text) for h in hits]
        draft = self._draft(question, contexts, earlier, [c for c in contexts if c.id in own][:1])
        if draft is None or not draft.grounded or not draft.answer.strip():
            return self._escalate("not-grounded")
        used = next((h for h in hits if h.id == draft.article_id), top)
        call.article_id, call.article_score = used.id, round(used.score, 1)
        self.machine.send("kb_hit")
        return Reply([draft.answer, prompts.CHECK_RESOLVED], article_id=used.id, article_score=call.article_score)

    def _draft(self, question: str, contexts: list[ArticleContext], earlier: str | None,
               own: list[ArticleContext]):
        """The drafter's answer from ``contexts`` (with ``earlier`` as context); on its failure, or without a
        drafting model, the extractive answer from ``own`` (the article the question found by itself; None
        without one)."""
        drafter = self.services["drafter"]
        fallback = self.services["fallback_drafter"]
        if drafter is not fallback:
            try:
                return drafter.draft(question, contexts, earlier_question=earlier)
            except Exception as exc:  # any drafting failure falls back to the extractive answer
                log.warning("drafting failed, using the extractive answer: %s", type(exc).__name__)
        return fallback.draft(question, own) if own else None

    def _retry(self, apology: str, reason: str) -> Reply:
        """Ask the current question again after ``apology``; after ``MAX_RETRIES`` re-prompts, escalate for
        ``reason`` ("silence" or "unclear"), except a resolved caller silent at "anything else?": goodbye,
        and a line silent since the greeting (a pocket dial): "please call us again", an ``abandoned`` call
        whose ticket is not urgent (nobody spoke, so nobody was promised a follow-up)."""
        self.call.retry_count += 1
        if self.call.retry_count > MAX_RETRIES:
            # a line silent since the greeting: every prompt after it was a re-prompt for silence (a caller who said
            # "hi" heard one more prompt, and is escalated for silence like a caller silent at the email question)
            silent_since_greeting = (self.call.prompt_seq or 0) <= self.call.retry_count
            if reason == "silence" and self.call.state == "greet" and silent_since_greeting:
                self.machine.send("no_input")
                self.call.outcome = ABANDONED
                return Reply([prompts.NO_INPUT], listen=False)
            if reason == "silence" and self._nothing_left_to_answer():
                return self._goodbye()  # as after "that's all"
            return self._escalate(reason)
        return Reply([apology, self.current_question()])

    def _answered_before_anything_else(self) -> bool:
        """True at "Is there anything else?" right after an answer from an article (confirmed or to be tried later),
        with no question of the caller's pending."""
        call = self.call
        return call.state == "answer" and call.anything_else_asked and bool(call.article_id) \
            and not call.pending_question

    def _nothing_left_to_answer(self) -> bool:
        """True at "Is there anything else?" after a confirmed answer, with no question of the caller's pending:
        silence there means "no", not a caller we cannot understand (an urgent ticket for a solved call)."""
        call = self.call
        answered = bool(call.resolved_count or call.answer_deferred)  # confirmed, or to be tried later
        return call.state == "answer" and answered and not call.pending_question

    def _ask_number(self, lead: list[str] | None = None) -> Reply:
        """A caller with no email to give, or none we could get in 3 tries, and no caller id (withheld, a SIP or app
        caller): asked for a number to call back on after ``lead`` ("No problem."), in the collect_email state
        (``number_asked``)."""
        self.call.number_asked = True
        self.call.retry_count = 0
        return Reply([*(lead or [prompts.NO_PROBLEM]), prompts.ASK_NUMBER])

    def _keep_question_after_yes(self, text: str | None) -> None:
        """A question said with the yes to a read-back ("yes that's right, and how do I reset my password?") is kept
        to be answered next, when the KB can answer it and no question of the caller's is pending already."""
        question = question_after_yes(text)
        if question and not self.call.pending_question and self._kb_can_answer(question):
            self.call.pending_question = question

    def _number_given(self, number: str, heard: Heard) -> Reply:
        """A valid number (E.164, read in the line's region by :func:`~callflow.phone.parse_spoken_phone`, in
        :meth:`hear`) said at "What's the best phone number to reach you on?", or at its read-back: kept and read back
        to be confirmed, as an address is. At the read-back, "yes, 415 555 0100" with the number read confirms it;
        any other number there ("no, it's ...") is a rejected read-back (:meth:`_number_rejected`)."""
        call = self.call
        if call.state == "confirm_email":
            if number == call.callback_number and _read_back_answer(heard) != "no":  # said again as read back
                return self._number_confirmed(heard.text)
            given_up = self._number_rejected()
            if given_up:
                return given_up
        call.callback_number = number
        self.machine.send("number_heard")
        return Reply([prompts.confirm_number(spoken_number(number))])

    def _in_confirm_number(self, heard: Heard) -> Reply:
        """The answer to the read-back of a callback number (a number said there is :meth:`_number_given`): yes keeps
        it and goes on to the question; no asks for it again (after ``MAX_NUMBER_ATTEMPTS`` noes, or "no, I'd rather
        not", the call goes on without one); anything else is asked for a yes or a no."""
        answer = _read_back_answer(heard)
        if answer == "yes":
            return self._number_confirmed(heard.text)
        if declines_email(heard.text):
            return self._without_number(prompts.EMAIL_DECLINED_NO_NUMBER)
        if answer == "no":
            given_up = self._number_rejected()
            if given_up:
                return given_up
            self.call.callback_number = None
            self.machine.send("ask_number")
            return Reply([prompts.NUMBER_AGAIN])
        return self._retry(prompts.SAY_YES_OR_NO, "unclear")

    def _number_rejected(self) -> Reply | None:
        """Count a rejected read-back of the callback number; after ``MAX_NUMBER_ATTEMPTS`` of them the call goes on
        without a number (the reply that says so), else ``None``."""
        self.call.number_attempts += 1
        if self.call.number_attempts >= MAX_NUMBER_ATTEMPTS:
            return self._without_number(prompts.NUMBER_NOT_GOT)
        return None

    def _number_confirmed(self, text: str | None) -> Reply:
        """Yes to the callback number read back: it is the ticket's and the Kayako requester's phone; on to the
        question (one said with the yes is kept, as after an address)."""
        self.machine.send("number_confirmed")
        self._keep_question_after_yes(text)
        return self._enter_answer([prompts.NUMBER_CONFIRMED])

    def _without_number(self, prompt: str) -> Reply:
        """Leave the number read-back with none kept (the caller rejected it ``MAX_NUMBER_ATTEMPTS`` times, or would
        rather not give one): ``prompt`` says so, and the call goes on to the question."""
        self.call.callback_number = None
        self.machine.send("ask_number")
        self.machine.send("no_email")
        return self._enter_answer([prompt])

    def _after_number_asked(self, heard: Heard) -> Reply:
        """Any other answer to "What's the best phone number to reach you on?" (:meth:`_number_given` took a number):
        an email address after all is read back to confirm; "I'd rather not" or a second answer that is neither goes
        on without one, to the question."""
        email = parse_spoken_email(with_name_parts(heard.text, self.call.name)) if heard.text else None
        if email:  # "oh, actually it's jane at example dot com": an address after all, read back as any
            self.call.number_asked = False
            return self._email_candidate(email)
        if self.call.retry_count >= 1 or declines_email(heard.text) or cannot_recall(heard.text) \
                or yes_no(heard.text) == "no":
            self.machine.send("no_email")
            return self._enter_answer([prompts.EMAIL_DECLINED_NO_NUMBER])
        self.call.retry_count += 1
        return Reply([prompts.SAY_NUMBER_AGAIN])

    def _no_caller_id(self) -> bool:
        """True when Twilio's ``From`` is no number to call back: "anonymous", a withheld-number placeholder, a
        ``sip:`` or ``client:`` identity (:func:`~callflow.phone.normalize_phone`)."""
        return normalize_phone(self.call.from_number) is None

    def _email_give_up(self, declined: bool = False) -> str:
        """No email after 3 tries (or ``declined``: the caller has none to give): a call back is promised at the
        caller id. A caller without one is asked for a number instead (:meth:`_ask_number`); the one who gets here
        (declining at a read-back after that) hears no promise."""
        if self._no_caller_id():
            return prompts.EMAIL_DECLINED_NO_NUMBER
        return prompts.EMAIL_DECLINED if declined else prompts.EMAIL_GIVE_UP

    def _goodbye(self) -> Reply:
        """End the call in the answer state with nothing more to ask: ``ai-resolved`` if the caller confirmed an
        answer, else ``abandoned`` (an answer put off, or no question asked: nobody was promised a follow-up)."""
        self.machine.send("done")
        self.call.outcome = RESOLVED if self.call.resolved_count else ABANDONED
        return Reply([prompts.GOODBYE], listen=False)

    def _before_any_question(self) -> bool:
        """True at "How can I help you today?" before the caller asked or stated anything."""
        call = self.call
        return call.state == "answer" and not call.questions_asked and not call.pending_question

    def _leave(self, why: str) -> Reply:
        """End the call before any question (``why`` from :func:`~callflow.intents.leaves_early`): a goodbye ("bye",
        "I'll call back later") hears the goodbye, a wrong number hears which line this is. The call is ``abandoned``:
        nobody was promised a follow-up, and its ticket keeps a question said with the name."""
        self.machine.send("done" if self.call.state == "answer" else "leave")
        self.call.outcome = ABANDONED
        return Reply([prompts.WRONG_NUMBER if why == WRONG_NUMBER else prompts.GOODBYE], listen=False)

    def _escalate(self, reason: str) -> Reply:
        """Hand the call to a person: what the caller hears depends on why (only a question the KB could not
        answer is "I don't have that information")."""
        prompt = _ESCALATION_PROMPTS.get(reason, prompts.ESCALATE)
        self.call.escalation_reason = reason
        self.machine.send("escalate_call")
        self.call.outcome = NEEDS_HUMAN
        return Reply([prompt], listen=False)

    def _article_title(self, article_id: str) -> str | None:
        """The title of KB article ``article_id``, or ``None`` when the KB no longer has it (a sync removed it)."""
        try:
            return self.services["kb"].index().doc(article_id).title
        except KeyError:
            return None

    def current_question(self) -> str:
        """The question the caller is being asked in the current state (for re-prompts)."""
        state = self.call.state
        if state == "greet":
            return prompts.ASK_NAME
        if state == "collect_email" and self.call.number_asked:
            return prompts.ASK_NUMBER
        if state == "confirm_email" and self.call.number_asked and self.call.callback_number:
            return prompts.confirm_number(spoken_number(self.call.callback_number))
        if state == "collect_email":
            return prompts.ASK_EMAIL if not self.call.email_attempts else prompts.SPELL_EMAIL_AGAIN
        if state == "confirm_email" and self.call.email:
            return prompts.confirm_email(readback(self.call.email))
        if state == "check_resolved":
            return prompts.CHECK_RESOLVED
        if self.call.pending_question and makes_complaint(self.call.pending_question):
            return prompts.WHAT_HAPPENED  # "I'd like to make a complaint": asked what happened
        if self.call.pending_question:  # asked to pick an article, or to tell more about a short question
            close = self._close_articles(self.call.pending_question)
            return prompts.which_article([h.title for h in close]) if len(close) > 1 else prompts.TELL_ME_MORE
        if self.call.anything_else_asked:
            return prompts.ANYTHING_ELSE_AGAIN
        return prompts.HOW_CAN_I_HELP
