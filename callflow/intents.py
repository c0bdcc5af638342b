"""Small intent helpers for phone speech (Twilio ``SpeechResult`` / ``Digits``).

Every helper takes the recogniser's transcript, which may be ``None``, empty,
very long or arbitrary Unicode, and never raises.  Where it makes sense an
optional ``digits`` string (Twilio ``Digits`` from ``<Gather input="dtmf
speech">``) is accepted too, using this keypad convention for the call flow:
``1`` = yes, ``2`` = no, ``0`` = agent.  A key that the helper understands wins over the
speech.

Text is normalised the same way everywhere (:func:`normalize`): Unicode NFKC,
casefold, apostrophes removed (``that's`` -> ``thats``, ``didn't`` -> ``didnt``),
any other punctuation turned into a space, so matching is on whole words and
word sequences only: ``no`` never matches inside ``know`` or ``nothing``.

The phrase lists are hand-written from how callers answer IVR prompts; they are
heuristics, not a language model, so the state machine should treat ``None`` /
``False`` as "ask again" rather than as a firm answer.

Split of responsibilities:

* :func:`yes_no` answers yes/no questions ("Did that help?", "Is that
  right?").  Negation wins over a yes word.  Closing phrases such as "that's
  all", "that's it", "I'm good" or "all set" are *not* a yes or a no here
  ("that's it" can confirm an address); at "Anything else?" use
  :func:`is_done` instead, which understands them.  "nothing" counts as no.
* :func:`wants_human` detects a request for a person.
* :func:`is_done` detects "no more questions".
* :func:`extract_name` / :func:`looks_like_question` split a greeting answer
  into a caller name and/or a problem statement.
* :func:`follow_up_question` finds a next question said in the same breath as
  the "yes" to "Did that solve your issue?"; :func:`question_after_yes` also a
  problem stated after a "yes" to the email read-back.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from .phrases import by_first_word, phrase_at, remove_phrases

__all__ = [
    "normalize",
    "yes_no",
    "wants_human",
    "is_done",
    "extract_name",
    "looks_like_question",
    "follow_up_question",
    "question_after_yes",
    "another_problem_after_yes",
    "opens_with_question",
    "choice_of",
    "reports_outage",
    "reports_security_issue",
    "asks_for_language",
    "declines_email",
    "asks_which_address",
    "says_address_on_file",
    "wants_repeat",
    "announces_question",
    "asks_if_automated",
    "asks_if_recorded",
    "asks_to_send_answer",
    "asks_what_it_can_do",
    "asks_why_needed",
    "spelled_name",
    "without_affiliation",
    "makes_complaint",
    "announces_complaint",
    "follows_up_on_case",
    "case_number",
    "asks_to_wait",
    "hesitates",
    "defers_answer",
    "answer_fell_short",
    "thanks_only",
    "praises_answer",
    "leaves_early",
    "asks_who_we_are",
    "corrects_name",
    "unsure_which",
    "split_questions",
    "screen_message",
    "asks_for_reference",
    "partly_but",
    "reports_success",
    "asks_for_answer_again",
    "same_problem",
    "points_to_caller_id",
    "cannot_recall",
    "MAX_TEXT_CHARS",
    "WRONG_NUMBER",
    "LEAVING",
]

#: Only this many characters of a transcript are looked at; a real answer to a
#: phone prompt is far shorter, and the cap bounds the work done on garbage.
MAX_TEXT_CHARS = 2000

_APOSTROPHES_RE = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_NON_WORD_RE = re.compile(r"[^\w\s]|_")


def normalize(text: str | None) -> list[str]:
    """Split a transcript into normalised words.

    Args:
        text: transcript or ``None``; only the first :data:`MAX_TEXT_CHARS`
            characters are used.  Non-``str`` values count as empty.

    Returns:
        List of casefolded words with apostrophes removed and other
        punctuation treated as spaces, e.g. ``"No, that's all."`` ->
        ``["no", "thats", "all"]``.

    Raises:
        Nothing.
    """
    if not isinstance(text, str) or not text:
        return []
    return list(_words(text[:MAX_TEXT_CHARS]))


@lru_cache(maxsize=64)
def _words(text: str) -> tuple[str, ...]:
    """:func:`normalize`'s words, cached: one caller turn reads the same transcript with a dozen intent checks
    (about 2 µs each time on a sentence of 14 words)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _APOSTROPHES_RE.sub("", text)
    return tuple(_NON_WORD_RE.sub(" ", text).split())


def _ngrams(tokens: list[str], max_n: int = 5) -> set[tuple[str, ...]]:
    grams: set[tuple[str, ...]] = set()
    for n in range(1, max_n + 1):
        for i in range(len(tokens) - n + 1):
            grams.add(tuple(tokens[i : i + n]))
    return grams


def _phrases(*items: str) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(item.split()) for item in items)


def _has_any(grams: set[tuple[str, ...]], phrases: frozenset[tuple[str, ...]]) -> bool:
    return not grams.isdisjoint(phrases)


def _first_key(digits: str | None) -> str | None:
    if not isinstance(digits, str):
        return None
    digits = digits.strip()
    return digits[0] if digits else None


# --------------------------------------------------------------------------
# yes / no
# --------------------------------------------------------------------------

_UNCLEAR = _phrases(
    "not sure", "dont know", "do not know", "dunno", "no idea", "maybe", "perhaps",
    "unsure", "not certain", "kind of", "sort of", "hard to say", "i cant tell",
    "cant remember", "dont remember",
)

# Affirmative phrases containing a negative word; removed before negation is checked.
_YES_WITH_NEGATION = _phrases(
    "no problem", "no problems", "not a problem", "no worries", "why not", "no doubt",
    "no issues", "no issue", "cant complain", "not bad",
)

_NO_PHRASES = _phrases(
    "no", "nope", "nah", "naw", "not", "incorrect", "wrong", "negative", "never",
    "didnt", "doesnt", "isnt", "wasnt", "dont", "cant", "cannot", "wont", "havent",
    "hasnt", "arent", "werent", "nothing", "none", "uh uh", "nuh uh", "no way",
)

_YES_PHRASES = _phrases(
    "yes", "yeah", "yea", "ya", "yep", "yup", "yes please", "yessir", "sure", "surely",
    "correct", "right", "exactly", "affirmative", "absolutely", "definitely",
    "certainly", "indeed", "ok", "okay", "alright", "all right", "perfect", "great",
    "awesome", "cool", "it did", "it does", "it is", "i did", "i do", "of course",
    "uh huh", "mhm", "mm hmm", "mmhmm", "please do", "go ahead", "that worked",
    "it worked", "worked", "that helped", "it helped", "helped", "thats right",
    "thats correct", "that is correct", "that is right", "sounds good",
    "sounds right", "you bet", "true", "yes it is", "that works",
    # a tentative yes is a yes ("I think so" was "please say yes or no"); "I don't think so" is a no (negation first)
    "i think so", "i believe so", "i guess so", "think so", "believe so", "seems so", "looks like it",
    "seems like it",
)


def yes_no(text: str | None, digits: str | None = None) -> str | None:
    """Classify an answer to a yes/no question.

    Args:
        text: speech transcript (any case/punctuation, may be ``None``).
        digits: keypad input; the first key decides: ``"1"`` -> ``"yes"``,
            ``"2"`` -> ``"no"`` (call-flow keypad convention).  Other keys fall
            back to the speech.

    Returns:
        ``"yes"``, ``"no"`` or ``None`` (unclear / not a yes-no answer).
        Rules, in order: a hedge ("not sure", "I don't know", "maybe") ->
        ``None``; affirmatives that contain a negative word ("no problem",
        "why not") count as yes; any negative word or phrase ("no", "not",
        "didn't", "wrong", "nothing", ...) -> ``"no"`` even if a yes word is
        present ("yes, but it didn't help" -> ``"no"``); any yes word or
        phrase -> ``"yes"``.  Closing phrases ("that's all", "I'm good") give
        ``None``; use :func:`is_done` for those.

    Raises:
        Nothing.
    """
    key = _first_key(digits)
    if key == "1":
        return "yes"
    if key == "2":
        return "no"
    tokens = normalize(text)
    if not tokens:
        return None
    grams = _ngrams(tokens)
    if _has_any(grams, _UNCLEAR):
        return None
    positive = _has_any(grams, _YES_WITH_NEGATION)
    rest = remove_phrases(tokens, _YES_WITH_NEGATION)
    rest_grams = _ngrams(rest)
    if _has_any(rest_grams, _NO_PHRASES):
        return "no"
    if positive or _has_any(rest_grams, _YES_PHRASES):
        return "yes"
    return None


# --------------------------------------------------------------------------
# human agent
# --------------------------------------------------------------------------

_HUMAN_NOUNS = frozenset(
    {
        "agent", "agents", "human", "humans", "person", "people", "representative",
        "representatives", "rep", "reps", "operator", "someone", "somebody", "anyone",
        "anybody", "manager", "supervisor", "staff", "associate", "technician",
        "receptionist", "employee", "specialist", "advisor", "adviser", "consultant",
        "department", "team", "sales",
    }
)

_HUMAN_NOUN_PHRASES = _phrases(
    "customer service", "customer services", "customer support", "customer care",
    "tech support", "technical support", "help desk", "helpdesk", "service desk",
    "support team", "support staff", "real person", "live person", "actual person",
    "human being",
)

# A team asked for by name after a verb of conversation (not after "need" or "want": "I need billing help"; and
# "connect" only as "connect me to": "how do I connect to Salesforce" is a question about an integration).
_DEPARTMENT_RE = re.compile(
    r"\b(?:(?:talk|speak|speaking|talking)\s+(?:to|with)|(?:transfer|connect|put)\s+me\s+(?:through\s+)?(?:to|with))\s+"
    r"(?:someone\s+(?:in|from|at)\s+|somebody\s+(?:in|from|at)\s+)?(?:the\s+|your\s+)?"
    r"(?:billing|accounts|accounting|finance|sales|support)(?:\s+(?:department|team|people))?"
    r"(?=$|\s+(?:about|regarding|for|because|please|now|thanks|thank|so|since|as|i|my|right)\b)"
)

# Words after which an "agent"-like noun is a modifier, not a person ("the agent app").
_COMPOUND_BLOCKERS = frozenset(
    {
        "app", "apps", "application", "portal", "dashboard", "console", "login", "log",
        "account", "accounts", "license", "licenses", "licence", "seat", "seats",
        "software", "view", "page", "site", "website", "role", "roles", "permission",
        "permissions", "settings", "password", "interface", "tool", "tools", "mode",
        "status", "profile", "panel", "version", "extension", "plugin", "desktop",
        "mobile", "client", "inbox", "queue", "ticket", "tickets", "report", "reports",
        "field", "fields", "name", "list", "group", "groups", "signature", "id",
        "email", "number", "rating", "ratings", "performance", "screen", "feature",
        "features", "collision", "availability", "capacity",
        # "give someone access", "get an agent admin rights": a question about people, not a request for one
        "access", "admin", "administrator", "rights", "privileges",
    }
)

# Request verbs (as word sequences) that may govern a human noun.
_REQUEST_VERBS = _phrases(
    "talk", "speak", "speaking", "talking", "transfer", "transferred", "connect",
    "connected", "reach", "chat", "get", "give", "want", "wanna", "need", "put",
    "contact", "request", "requesting", "escalate", "can i have", "could i have",
    "may i have", "ask for", "asking for", "help from", "send me to", "is there",
    "are there", "is anybody", "is anyone",
)

# Words allowed between a request verb and the human noun.
_BRIDGE_WORDS = frozenset(
    {
        "to", "with", "me", "a", "an", "the", "some", "real", "live", "actual", "human",
        "your", "one", "of", "any", "another", "different", "from", "through", "over",
        "directly", "right", "now", "please", "just", "in", "customer", "service",
        "support", "tech", "technical", "billing", "senior", "qualified", "be",
        "transferred", "connected", "talk", "speak", "get", "put", "someone", "actually",
        "living", "breathing", "like", "maybe", "else", "possibly", "kind",
    }
)

# Verbs of a conversation: these may take an object before the person ("talk this through
# with somebody", "go over it with someone"), which a verb like "give" may not ("give it to another agent").
_CONVERSATION_VERBS = _phrases("talk", "speak", "chat", "discuss", "go over", "talking", "speaking", "discussing")
_CONVERSATION_BRIDGE_WORDS = frozenset({"this", "it", "that", "things", "through", "over", "everything", "rather"})
_ANY_VERB = _REQUEST_VERBS | _CONVERSATION_VERBS
_CONVERSATION_BRIDGE = _BRIDGE_WORDS | _CONVERSATION_BRIDGE_WORDS

# A request to be called back, said without a person noun ("can you call me back").
_CALLBACK_PHRASES = _phrases(
    "call me back", "ring me back", "phone me back", "give me a call", "give me a ring",
    "get back to me",
)
# What a person noun may ask to do to the caller ("can someone call me", "have an agent contact me").
_CONTACT_ME = _phrases(
    "call me", "ring me", "phone me", "contact me", "reach me", "reach out to me", "get in touch",
    "get back to me", "give me a call", "give me a ring",
)
# Words allowed between the person and the contact verb ("someone from your team to call me").
_CONTACT_BRIDGE_WORDS = frozenset(
    {"to", "please", "can", "could", "will", "would", "just", "from", "your", "the", "support", "team",
     "there", "here", "then", "maybe", "possibly", "actually", "quickly", "today", "soon", "asap"}
)

_NEGATORS = frozenset({"dont", "not", "never", "no", "without", "doesnt", "didnt", "wont", "stop"})

_STANDALONE_TRANSFER = _phrases(
    "transfer me", "connect me", "put me through", "escalate", "escalate this",
    "transfer", "transfer please", "i want a transfer",
)

_JUST_NOUN_FILLERS = frozenset(
    {
        "um", "uh", "er", "hmm", "a", "an", "the", "please", "just", "yes", "yeah", "ok",
        "okay", "now", "thanks", "thank", "you", "hi", "hello", "real", "live",
        "actual", "right", "away", "immediately", "oh", "well", "so", "some", "any",
        "pls", "asap",
    }
)


def _human_noun_len(tokens: list[str], j: int) -> int:
    """Length of the human noun phrase starting at j (0 if none)."""
    for n in (2, 1):
        if tuple(tokens[j : j + n]) in _HUMAN_NOUN_PHRASES:
            return n
    if tokens[j] in _HUMAN_NOUNS:
        return 1
    return 0


def _negated(tokens: list[str], i: int, span: int = 3) -> bool:
    return any(t in _NEGATORS for t in tokens[max(0, i - span) : i])


def _starts_with(tokens: list[str], i: int, phrases: frozenset[tuple[str, ...]]) -> bool:
    return phrase_at(tokens, i, phrases) is not None


def _wants_call_back(tokens: list[str]) -> bool:
    """A request to be called or contacted back, not negated ("no need to call me back")."""
    for i in range(len(tokens)):
        if _starts_with(tokens, i, _CALLBACK_PHRASES) and not _negated(tokens, i, span=5):
            return True
        n = _human_noun_len(tokens, i)
        if not n or _negated(tokens, i, span=5):
            continue
        j = i + n
        while j < len(tokens) and j - (i + n) <= 4:
            if _starts_with(tokens, j, _CONTACT_ME):
                return True
            if tokens[j] not in _CONTACT_BRIDGE_WORDS:
                break
            j += 1
    return False


def wants_human(text: str | None, digits: str | None = None) -> bool:
    """Does the caller ask to talk to a person?

    Args:
        text: speech transcript (may be ``None``).
        digits: keypad input; a press of only ``0`` keys (``"0"``) means
            "agent" (call-flow keypad convention) and returns ``True``.

    Returns:
        ``True`` when either

        * the utterance is nothing but a person noun phrase, ignoring filler
          ("agent", "representative please", "a real person", "customer
          service rep", "operator"), or
        * a request verb (talk/speak/transfer/connect/get/want/need/give/put
          me through/can I have/...) is followed, through only bridge words
          ("to", "with", "a", "real", "live", ...), by a person noun
          (agent/human/person/representative/operator/someone/manager/...);
          "is there a person I can talk to" counts too
          that is not itself a modifier ("agent app", "agent portal"), and
          the verb is not negated ("I don't need an agent"); a verb of
          conversation may take an object first ("I'd rather talk this
          through with somebody"), or
        * a request to be called back ("can you call me back", "have
          someone call me", "I'd like an agent to contact me"), not
          negated ("no need to call me back"), or
        * a bare transfer request ("transfer me", "put me through").

        ``False`` otherwise, including "my agent app crashes".

    Raises:
        Nothing.
    """
    if isinstance(digits, str) and digits.strip() and set(digits.strip()) == {"0"}:
        return True
    tokens = normalize(text)
    if not tokens:
        return False

    # 1. the whole utterance is just a person noun phrase
    core = [t for t in tokens if t not in _JUST_NOUN_FILLERS]
    if core:
        j = 0
        while j < len(core):
            n = _human_noun_len(core, j)
            if n == 0:
                break
            j += n
        else:
            return True

    # 2. request verb ... person noun
    n_tok = len(tokens)
    verbs = by_first_word(_ANY_VERB)
    for i in range(n_tok):
        for verb in verbs.get(tokens[i], ()):
            if tuple(tokens[i : i + len(verb)]) != verb:
                continue
            if _negated(tokens, i):
                continue
            bridge = _CONVERSATION_BRIDGE if verb in _CONVERSATION_VERBS else _BRIDGE_WORDS
            j = i + len(verb)
            bridged = 0
            while j < n_tok and bridged <= 6:
                n = _human_noun_len(tokens, j)
                if n:
                    after = tokens[j + n] if j + n < n_tok else ""
                    if after not in _COMPOUND_BLOCKERS:
                        return True
                    break
                if tokens[j] not in bridge:
                    break
                j += 1
                bridged += 1

    # 3. a call back: "can you call me back", "have someone call me", "an agent to contact me"
    if _wants_call_back(tokens):
        return True

    # 3b. a department by name after a verb of conversation: "I need to speak with billing", "transfer me to sales"
    words = " ".join(tokens)
    for match in _DEPARTMENT_RE.finditer(words):
        if not _negated(tokens, len(words[: match.start()].split())):
            return True

    # 4. bare transfer request
    for phrase in _STANDALONE_TRANSFER:
        for i in range(n_tok - len(phrase) + 1):
            if tuple(tokens[i : i + len(phrase)]) == phrase and not _negated(tokens, i):
                if len(phrase) > 1 or len(core) <= 2:
                    return True
    return False


# --------------------------------------------------------------------------
# done / no more questions
# --------------------------------------------------------------------------

#: Leaving the call: "I have to go", "I'll call back later". They close the call at "anything else?" (with
#: :data:`_DONE_PHRASES`) and before any question (:func:`leaves_early`).
_LEAVING_PHRASES = _phrases(
    "i have to go", "i got to go", "ive got to go", "i gotta go", "gotta go", "got to go", "i need to go",
    "i must go", "i have to run", "ill call back", "ill call you back", "i will call back", "i will call you back",
    "ill ring back", "ill call again", "ill try again later", "ill call back later", "call back later",
)

_DONE_PHRASES = _phrases(
    "no", "nope", "nah", "no thanks", "no thank you", "not really", "thats all",
    "thats it", "thats everything", "that is all", "that is it", "that will be all",
    "thatll be all", "thatll do", "thats all i need", "thats all i needed", "nothing",
    "nothing else", "nothing more", "no more", "im good", "i am good", "im fine",
    "im ok", "im okay", "im all good", "all set", "all good", "im all set",
    "were good", "were done", "were all set", "im done", "i am done", "done",
    "bye", "goodbye", "bye bye", "good bye", "have a good day", "have a nice day",
    "have a good one", "take care", "speak soon", "talk soon", "see ya", "see you", "see you later",
    "catch you later", "sorted", "im sorted", "all sorted", "youve answered everything",
    "you answered everything", "youve answered my question", "you answered my question",
    "that answers my question", "that answered my question", "that answers everything",
    "have a great day", "no further questions", "no other questions",
    "no more questions", "no questions", "not today", "not right now", "not now",
    "not at the moment", "hang up", "end call", "end the call", "thats enough",
    "finished", "thatll be it", "i think thats it", "i think thats all",
    "nothing at all", "no thats everything", "no thats it", "no thats all",
) | _LEAVING_PHRASES

#: Closing phrases that are more than a bare negative word: they end the call whatever else is said
#: (unless it continues or states a problem).
_CLOSING_PHRASES = _DONE_PHRASES - _phrases("no", "nope", "nah", "nothing")

#: Words that carry no topic in a short answer ("no I don't think so", "nah that was it").
_DONE_FILLER = frozenset(
    "i im ive id me my we were our us you youve youre it its that thats this there theres is was be been am are "
    "do did does have has had so just really very think the a an all for to of on at now then today right "
    "will would need everything".split()
)

_CONTINUE_PHRASES = _phrases(
    "another", "one more", "also", "actually", "wait", "hold on", "but", "something else",
    "a question", "another question", "one thing", "however", "additionally",
    "second question", "i do", "yes i do", "there is", "theres",
)

_POLITE = _phrases(
    "thanks", "thank you", "thanks a lot", "thank you very much", "thank you so much",
    "thanks so much", "for your help", "for the help", "for helping", "for helping me",
    "appreciate it", "i appreciate it", "very much", "so much", "again", "cheers",
    "you too", "and", "so", "ok", "okay", "alright", "um", "uh", "well", "then",
    "yeah", "yes", "i think", "great", "perfect",
)


def is_done(text: str | None, digits: str | None = None) -> bool:
    """Does the caller signal they have no more questions?

    Meant for the answer to "Is there anything else I can help with?".

    Args:
        text: speech transcript (may be ``None``).
        digits: keypad input; first key ``"2"`` (= no) -> ``True``, ``"1"``
            (= yes) -> ``False`` (call-flow keypad convention).

    Returns:
        ``True`` when the utterance contains a closing phrase ("no", "no
        thanks", "that's all", "that's it", "nothing else", "I'm good", "all
        set", "goodbye", "bye", "no that's everything", "take care", "see you",
        "all sorted", "you've answered my question", ...) or is a plain no
        (per :func:`yes_no`), *and* what is left after removing closing and
        polite words ("thanks for your help"), thanks and praise ("you've been
        very helpful", "brilliant") neither continues the
        conversation ("another", "also", "but", "actually", ...) nor states a
        problem (:func:`looks_like_question`).  So "no, it's still not
        working" and "no wait, I have another question" are ``False``.  A
        bare negative word ("no", "nope", "nothing", "never", "not") is a
        plain no only when at most one topic word is left besides it: "no I
        don't think so" is ``True``, "my colleague never got the invitation"
        and "no, my package never arrived" are ``False``.

    Raises:
        Nothing.
    """
    key = _first_key(digits)
    if key == "2":
        return True
    if key == "1":
        return False
    tokens = normalize(text)
    if not tokens:
        return False
    grams = _ngrams(tokens)
    if _has_any(grams, _CONTINUE_PHRASES):
        return False
    rest = remove_phrases(remove_phrases(tokens, _DONE_PHRASES), _POLITE)
    rest = remove_phrases(remove_phrases(rest, _THANKS), _PRAISE)  # "no, you've been very helpful"
    if rest and _looks_like_problem(rest):
        return False
    if _has_any(grams, _CLOSING_PHRASES):
        return True
    if not (_has_any(grams, _DONE_PHRASES) or yes_no(text) == "no"):
        return False
    # Only a negative word ("no", "never", "not", "nothing"): a plain no, unless more than one
    # topic word is left ("my colleague never got the invitation" states a problem).
    topic = [t for t in remove_phrases(rest, _NO_PHRASES) if t not in _DONE_FILLER]
    return len(topic) <= 1


#: Goodbyes that end a call before any question ("bye", "have a good day"), besides :data:`_LEAVING_PHRASES`.
_EARLY_GOODBYES = _phrases(
    "bye", "goodbye", "good bye", "bye bye", "bye now", "have a good day", "have a nice day", "have a great day",
    "have a good one", "take care", "hang up", "end call", "end the call", "ill try later", "ill call later",
) | _LEAVING_PHRASES
#: "Sorry, wrong number", "I think I dialled the wrong number", "I called you by mistake".
_WRONG_NUMBER_PHRASES = _phrases(
    "wrong number", "wrong line", "wrong company", "wrong place", "by mistake", "by accident", "misdialed",
    "misdialled", "pocket dial", "pocket dialed", "pocket dialled", "butt dial", "butt dialed",
)
#: Words said around a goodbye or a wrong number that ask for nothing ("oh sorry, never mind, bye").
_EARLY_GOODBYE_FILLER = frozenset(
    "um uh er ah oh oops hmm well so sorry apologies ok okay alright right actually no nope thanks thank you never "
    "mind nevermind forget it my mistake bad then anyway anyways dont worry about fine just now for i im ive id "
    "think must have has got the a an this that its is number dialed dialled called rang phoned reached hit "
    "pressed".split()
)
#: A wrong number asked about ("is this the wrong number?", "have I got the wrong number?"), not said.
_ASKING_OPENERS = frozenset({"is", "am", "are", "do", "did", "have", "was"})
WRONG_NUMBER = "wrong-number"
LEAVING = "leaving"


def leaves_early(text: str | None) -> str | None:
    """Before any question: does the caller end the call ("bye", "I'll call back later", "sorry, wrong number")?

    Meant for the name and email questions, where a goodbye was taken for a name or an address and the caller was
    asked to spell it, and "I dialled the wrong number" for a question the KB could not answer.

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        :data:`WRONG_NUMBER` for a wrong number said, not asked ("sorry, wrong number", "I think I dialled the
        wrong number", "I called this number by mistake"; not "is this the wrong number?"); :data:`LEAVING` for a
        goodbye or leaving ("bye", "oh never mind, I'll call back later", "sorry, I have to go", "have a good
        day"); ``None`` when anything else is said besides fillers ("sorry", "never mind", "thanks"): a name, an
        address, a problem ("I can't log in, I'll call back later"), "call me back", or nothing.

    Raises:
        Nothing.
    """
    tokens = normalize(text)
    if not tokens:
        return None
    rest = remove_phrases(tokens, _WRONG_NUMBER_PHRASES)
    wrong = len(rest) < len(tokens)
    left = remove_phrases(rest, _EARLY_GOODBYES)
    if not (wrong or len(left) < len(rest)) or not _EARLY_GOODBYE_FILLER.issuperset(left):
        return None
    if wrong:
        return None if tokens[0] in _ASKING_OPENERS else WRONG_NUMBER
    return LEAVING


#: Gratitude: "thanks", "thank you", "cheers" (British), "ta".
_THANKS = _phrases(
    "thanks", "thank you", "thankyou", "cheers", "ta", "appreciate it", "i appreciate it", "appreciate that",
    "much appreciated", "many thanks",
)
#: Praise of an answer, or that it was understood: "brilliant", "that's helpful", "got it", "that makes sense".
_PRAISE = _phrases(
    "lovely", "brilliant", "excellent", "fantastic", "wonderful", "awesome", "amazing", "nice", "good", "great",
    "perfect", "super", "cool", "got it", "gotcha", "understood", "i understand", "makes sense", "that helps",
    "it helps", "helps", "helpful", "very helpful", "really helpful", "super helpful", "thats what i needed",
    "just what i needed", "exactly what i needed",
)
#: Words that may come with thanks or praise without saying anything more ("oh lovely, thank you so much").
_THANKS_FILLER = frozenset(
    "oh ok okay alright well so very much really you mate that thats this was is it for your the help helping "
    "again all right just".split()
)


def _thanks_and_praise(text: str | None) -> tuple[bool, bool]:
    """``(a thanks phrase is said, nothing but thanks, praise and fillers is said)``."""
    tokens = normalize(text)
    if not tokens:
        return False, False
    grams = _ngrams(tokens)
    thanked = _has_any(grams, _THANKS)
    if not (thanked or _has_any(grams, _PRAISE)):
        return False, False
    rest = remove_phrases(remove_phrases(remove_phrases(tokens, _THANKS), _PRAISE), _POLITE)
    return thanked, all(t in _THANKS_FILLER for t in rest)


def thanks_only(text: str | None) -> bool:
    """Does the caller only say thank you ("thank you", "cheers", "lovely, thanks so much")?

    At "Is there anything else I can help you with?" that closes the call, as "no thanks" does
    (:func:`is_done` leaves it out: said to "How can I help you today?" it is no answer yet).

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when a thanks phrase (:data:`_THANKS`) is said and every other word is praise
        ("brilliant", "that's helpful") or a filler ("oh", "so much", "mate"). ``False`` for empty text,
        praise without thanks ("great"), and thanks that go on ("thanks, how do I export my cases?",
        "thanks but it didn't work").

    Raises:
        Nothing.
    """
    thanked, only = _thanks_and_praise(text)
    return thanked and only


def praises_answer(text: str | None) -> bool:
    """Does the caller only thank or praise ("thank you", "brilliant", "got it, thanks", "that makes sense")?

    At "Did that solve your issue?" that is a yes: :func:`yes_no` has no yes word in it and would ask again.

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when thanks or praise (:data:`_THANKS`, :data:`_PRAISE`) is said and every other word is one of
        them or a filler. ``False`` for empty text, a negated one ("not helpful", "thanks but it didn't work":
        "not" and "didnt" are no filler) and one that goes on ("great, and how do I export my cases?").

    Raises:
        Nothing.
    """
    return _thanks_and_praise(text)[1]


# --------------------------------------------------------------------------
# problem statement
# --------------------------------------------------------------------------

_PROBLEM_WORDS = frozenset(
    {
        "help", "cant", "cannot", "unable", "how", "what", "why", "where", "when",
        "which", "reset", "error", "errors", "issue", "issues", "problem", "problems",
        "trouble", "billing", "bill", "billed", "invoice", "invoices", "refund",
        "refunds", "charge", "charged", "charges", "payment", "payments", "pay",
        "password", "passwords", "login", "logon", "locked", "lockout", "account",
        "cancel", "cancellation", "subscription", "upgrade", "downgrade", "question",
        "questions", "wondering", "crash", "crashes", "crashed", "crashing", "bug",
        "bugs", "broken", "slow", "outage", "ticket", "tickets", "order", "orders",
        "access", "install", "installing", "update", "updating", "setup", "configure",
        "delete", "deleted", "change", "fix", "support", "wont", "doesnt", "didnt",
        "isnt", "failed", "fails", "failing", "failure", "stuck", "missing", "lost",
        "forgot", "forgotten", "hacked", "verify", "verification", "export",
        "import", "integration", "recover", "unlock", "renew", "renewal", "plan",
        "pricing", "price", "license", "licence", "sync", "syncing", "down",
        "report", "disabled", "expired", "blocked", "spam", "receiving", "sending",
    }
)

_PROBLEM_PHRASES = _phrases(
    "sign in", "signing in", "log in", "logging in", "log on", "not working",
    "doesnt work", "dont work", "does not work", "stopped working", "nothing works",
    "nothing is working", "nothings working", "need to", "i want to", "trying to",
    "is there a way", "can you", "could you", "would you", "do you", "calling about",
    "calling because", "calling regarding", "having issues", "having problems", "can i", "can we",
    "does your", "does it", "do you have", "is it possible",
)

_GREETING_WORDS = frozenset(
    {
        "hi", "hello", "hey", "yes", "yeah", "yep", "sure", "ok", "okay", "um", "uh",
        "er", "oh", "well", "good", "morning", "afternoon", "evening", "there", "so",
        "thanks", "thank", "you",
    }
)
#: Words of a greeting and its fillers ("yeah hi", "good morning"), none of them a name or a question.
GREETING_WORDS = _GREETING_WORDS

_GRATITUDE = _phrases(
    "thanks for your help", "thank you for your help", "thanks for the help",
    "thank you for the help", "for your help", "for the help", "for helping",
    "for helping me", "helpful", "you helped", "you have been helpful",
    "youve been helpful", "you were helpful",
)


def _looks_like_problem(tokens: list[str]) -> bool:
    tokens = remove_phrases(tokens, _GRATITUDE)
    if not tokens:
        return False
    if any(t in _PROBLEM_WORDS for t in tokens):
        return True
    return _has_any(_ngrams(tokens), _PROBLEM_PHRASES)


#: Something that does not work, said without a problem word: "my emails are not arriving", "the widget isn't
#: showing", "notifications stopped", "the app keeps freezing", "I get a blank screen".
_SYMPTOM_RE = re.compile(
    r"\b(?:not|isnt|arent|wasnt|werent|never|no\s+longer|keeps?|kept)\s+(?:\w+\s+){0,2}?"
    r"(?:arriv\w*|show\w*|load\w*|work\w*|com(?:e|es|ing)\s+(?:in|through)|get(?:ting)?|send\w*|receiv\w*|"
    r"sync\w*|updat\w*|appear\w*|open\w*|sav\w*|connect\w*|freez\w*|crash\w*|load\w*|logging\s+me\s+out)\b"
    r"|\bstopped\b|\bblank\s+(?:screen|page)\b|\b(?:is|are|went|goes)\s+offline\b"
    # "the reports are wrong", "my cases disappeared", "half the tickets went missing"
    r"|\b(?:is|are|was|were|looks?|seems?|came\s+out)\s+(?:all\s+|completely\s+|totally\s+|still\s+)?"
    r"(?:wrong|incorrect|missing|broken|empty|corrupted|duplicated)\b"
    r"|\b(?:disappeared|vanished|(?:went|gone|go|going)\s+missing)\b"
)


def looks_like_question(text: str | None) -> bool:
    """Does the utterance state a problem or question?

    Used at the greeting to keep what the caller said as the pending question.

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when, after ignoring thanks ("thanks for your help"), the
        utterance contains a problem word or phrase (help, can't, how, what,
        reset, error, not working, billing, password, log in, account, ...)
        or a symptom ("my emails are not arriving", "notifications stopped",
        "the app keeps freezing", "a blank screen", :data:`_SYMPTOM_RE`),
        or ends with "?" and has at least three words, or has more than six
        words once greetings and a self-introduction ("my name is John Smith")
        are removed.  ``False`` for empty text, a bare name or a greeting.

    Raises:
        Nothing.
    """
    tokens = normalize(text)
    if not tokens:
        return False
    if _looks_like_problem(tokens) or _SYMPTOM_RE.search(" ".join(tokens)):
        return True
    if isinstance(text, str) and text.rstrip().endswith("?") and len(tokens) >= 3:
        return True
    span = _name_span(text)
    if span is not None:
        words = _clause_words(text)
        intro_start, _, end = span
        kept = [w for w in words[:intro_start] + words[end:] if w != "|"]
        tokens = normalize(" ".join(kept))
    rest = [t for t in tokens if t not in _GREETING_WORDS]
    return len(rest) > 6


#: Words that point back to something said before ("how do I do *that* on the app?", "can I turn *it* off?").
_BACK_REFERENCES = frozenset({"it", "its", "that", "thats", "this", "these", "those", "them", "same"})
#: Openings that only make sense after an earlier question ("what about for admins?", "and on Android?").
_BACK_OPENINGS = _phrases("what about", "how about", "and what about", "what if", "and for", "and on", "and in",
                          "and with", "and if", "same for", "same with")
#: A follow-up longer than this is taken to say what it is about by itself.
MAX_FOLLOW_UP_WORDS = 12


def refers_back(text: str | None) -> bool:
    """Does a question lean on the one asked before it in the call?

    "How do I do that on the mobile app?", "can I turn it off", "what about for admins?" and "and on Android?"
    only make sense with the earlier question; the call flow then searches both together and gives the model the
    earlier one. True for at most :data:`MAX_FOLLOW_UP_WORDS` words with a pointing word (it, that, this, these,
    those, them, same) or a follow-up opening ("what about", "how about", "and for", "and on", ...).

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` or ``False``; ``False`` for empty text or more than 12 words ("I was told that my invoice is
        wrong and I need a corrected copy for my accountant" names its own subject).

    Raises:
        Nothing.
    """
    tokens = normalize(text)
    if not tokens or len(tokens) > MAX_FOLLOW_UP_WORDS:
        return False
    if any(t in _BACK_REFERENCES for t in tokens):
        return True
    return _starts_with(tokens, 0, _BACK_OPENINGS)


# Words a "yes, that worked" is made of, skipped before a follow-up question.
_YES_LEAD_WORDS = frozenset(
    {
        "yes", "yeah", "yea", "ya", "yep", "yup", "sure", "ok", "okay", "alright", "great",
        "perfect", "awesome", "cool", "thanks", "thank", "you", "very", "much", "so", "it",
        "that", "thats", "did", "does", "worked", "works", "helped", "and", "also", "but",
        "well", "um", "uh", "oh", "right", "correct", "absolutely", "definitely", "indeed",
    }
)
# A question word at the start of a clause: "..., how do I", "... and can I", "Thanks. What".
_QUESTION_START_RE = re.compile(
    r"(?:^|[.?!;,]\s*|\b(?:and|also|so|but|then|now)\s+)"
    r"((?:how|what|why|where|when|which|who|can|could|would|will|is|are|should|may)\b)",
    re.IGNORECASE,
)
# Phrases that announce one more question.
_FOLLOW_UP_CUES = _phrases(
    "also", "another question", "one more question", "one more thing", "another thing",
    "other question", "next question", "second question", "i have a question",
)
_WORD_RE = re.compile(r"\S+")


def _after_yes(text: str | None) -> tuple[str, str] | None:
    """``(the confirmation, the rest)`` of a "yes, ..." answer, as said: the rest starts at the first word that is
    not a confirmation word (:data:`_YES_LEAD_WORDS`). ``None`` without a confirmation before it or without a rest.
    Only the first :data:`MAX_TEXT_CHARS` characters are looked at."""
    if not isinstance(text, str):
        return None
    text = text[:MAX_TEXT_CHARS]
    words = list(_WORD_RE.finditer(text))
    for i, word in enumerate(words):
        tokens = normalize(word.group())
        if tokens and not all(t in _YES_LEAD_WORDS for t in tokens):
            break
    else:
        return None
    if i == 0:  # no confirmation before it: not a "yes, and ..." answer
        return None
    return text[:words[i].start()], text[words[i].start():]


#: Where a second question may start: after a sentence's end, or after "and", "also", "plus" or a comma followed by a
#: question word ("how do I reset my password, and how do I export my cases?").
_SECOND_QUESTION_RE = re.compile(
    r"(?:(?<=[?.!])\s+"
    r"|,?\s+(?:and\s+also|and|also|plus|then)\s+(?=(?:how|what|where|why|when|which|who)\s|"
    r"(?:can|could|is|are|do|does|will|would|should)\s+(?:i|you|we|it|there|they|my|the|a|an|someone|anyone)\b)"
    r"|,\s+(?=(?:how|what|where|why|when|which|who)\s|(?:can|could)\s+(?:i|you|we|someone|anyone)\b))",
    re.IGNORECASE,
)
#: Words that open the second question and belong to neither ("And also, how ...", "Oh, and one more thing: ...").
_SECOND_QUESTION_CUE_RE = re.compile(
    r"^(?:(?:and|also|plus|then|oh|so|secondly|second|second\s+question|my\s+second\s+question\s+is|"
    r"(?:and\s+)?(?:one\s+more\s+thing|another\s+(?:thing|question)))\b[\s,:;-]*)+",
    re.IGNORECASE,
)
MAX_SPLITS = 4
MIN_QUESTION_WORDS = 3


def split_questions(text: str | None) -> list[tuple[str, str]]:
    """Ways to read one utterance as two questions ("how do I reset my password, and how do I export my cases?").

    Args:
        text: speech transcript (may be ``None``); only the first :data:`MAX_TEXT_CHARS` characters are read.

    Returns:
        Up to :data:`MAX_SPLITS` pairs ``(first, rest)`` in the order the split points come: the text before a
        sentence's end, or before "and", "also", "plus" or a comma followed by a question word ("how", "what",
        "can", ...), and the text after it without its cue ("and also", "one more thing:"). Each side has at least
        :data:`MIN_QUESTION_WORDS` words and states a problem or question (:func:`looks_like_question`), and
        ``rest`` does not lean on ``first`` (:func:`refers_back`: "I forgot my password, how do I reset it?" is one
        question); a second question opens with a question word, or "can", "is", "do"... before "I", "you", "it",
        "there"... ("can't log in" opens none). ``rest`` may hold a third question. Empty for one question ("how do I export cases and reports?"), and for empty
        text. Which pair asks two things is for the KB to tell (two different articles).

    Raises:
        Nothing.
    """
    if not isinstance(text, str):
        return []
    text = text[:MAX_TEXT_CHARS]
    pairs: list[tuple[str, str]] = []
    for match in _SECOND_QUESTION_RE.finditer(text):
        first = text[: match.start()].strip(" ,;:-")
        rest = _SECOND_QUESTION_CUE_RE.sub("", text[match.end():].strip(" ,;:-")).strip(" ,;:-")
        if len(first.split()) < MIN_QUESTION_WORDS or len(rest.split()) < MIN_QUESTION_WORDS:
            continue
        if looks_like_question(first) and looks_like_question(rest) and not refers_back(rest):
            pairs.append((first, rest))
            if len(pairs) == MAX_SPLITS:
                break
    return pairs


def follow_up_question(text: str | None) -> str | None:
    """The next question in a "yes" to "Did that solve your issue?", if there is one.

    Callers often confirm and go straight on: "yes thanks, and how do I change
    my email address?". This returns the part after the confirmation
    ("how do I change my email address?") when it is announced as a new
    question: a clause opens with a question word ("how", "what", "can", ...)
    and has at least three words, or it ends with "?" or comes with a cue
    ("also", "another question", "one more thing") and states a problem
    (:func:`looks_like_question`). A longer thank-you ("yes that worked
    perfectly, thank you so much for your help") or a report of what worked
    ("yes, now I can log in") is not a question.

    Args:
        text: speech transcript (may be ``None``); only the first
            :data:`MAX_TEXT_CHARS` characters are looked at.

    Returns:
        The question as the caller said it (original case and punctuation,
        leading and trailing spaces and commas removed), or ``None``.

    Raises:
        Nothing.
    """
    split = _after_yes(text)
    if split is None:
        return None
    lead, rest = split
    # "yes, that is ..." is not a question "is ...?"; a later clause still can be.
    statement = normalize(lead)[-1:] in (["it"], ["that"], ["thats"])
    start = next((m.start(1) for m in _QUESTION_START_RE.finditer(rest) if m.start(1) or not statement), None)
    if start is not None:  # "..., can I also connect Slack": a question word opens it
        question = rest[start:].strip(" \t,;:-")
        return question if len(normalize(question)) >= 3 or looks_like_question(question) else None
    if rest.rstrip().endswith("?") or _has_any(_ngrams(normalize(rest)), _FOLLOW_UP_CUES):
        question = rest.strip(" \t,;:-")
        return question if looks_like_question(question) else None
    return None


#: A question word opening an answer, after fillers ("ok, and what if ...?", "how long does the link last?").
_QUESTION_OPENING_RE = re.compile(
    r"^\W*(?:(?:ok|okay|and|so|but|um+|uh+|well|also|oh|right)\W+)*"
    r"(?:how|what|whats|what's|why|where|when|which|who|can|could|would|will|is|are|should|may|does|do)\b",
    re.IGNORECASE,
)


def opens_with_question(text: str | None) -> bool:
    """Does the answer open with a question word ("what if I have more than one time zone?", "ok, and how long does
    the link last?"), fillers aside?

    At "Did that solve your issue?" such an answer is a follow-up question; a statement ("it keeps crashing") says
    how the answer went instead.

    Args:
        text: speech transcript (may be ``None``); only the first :data:`MAX_TEXT_CHARS` characters are looked at.

    Returns:
        ``True`` when, after fillers ("ok", "and", "so", "um", "well", ...), the first word is a question word
        ("how", "what", "why", "can", "is", "does", ...); ``False`` otherwise and for empty text.

    Raises:
        Nothing.
    """
    return isinstance(text, str) and _QUESTION_OPENING_RE.match(text[:MAX_TEXT_CHARS]) is not None


#: Words that end a confirmation and start the next clause ("yes and I can't log in").
_CLAUSE_JOINERS = frozenset({"and", "but", "so", "also"})


def question_after_yes(text: str | None) -> str | None:
    """The question or problem said in the same breath as a "yes" that confirms something else (the email
    address read back): "yes that's right, how do I reset my password?", "Yes. My account is locked.",
    "yes, and I can't log in".

    Args:
        text: speech transcript (may be ``None``); only the first :data:`MAX_TEXT_CHARS` characters are looked at.

    Returns:
        :func:`follow_up_question`'s question; else the words after the confirmation when a clause break
        separates them from it (punctuation, or "and", "but", "so", "also") and they state a problem
        (:func:`looks_like_question`), as the caller said them. ``None`` for a plain confirmation or one that
        goes on about what it confirms ("yes that's the email on my account": no break).

    Raises:
        Nothing.
    """
    question = follow_up_question(text)
    if question:
        return question
    split = _after_yes(text)
    if split is None:
        return None
    lead, rest = split
    broken = lead.rstrip()[-1:] in tuple(".,;:!?-") or normalize(lead)[-1:] in ([w] for w in _CLAUSE_JOINERS)
    rest = rest.strip(" \t,;:-")
    return rest if broken and looks_like_question(rest) else None


#: Words after a yes that say the answer did not work after all: "yes, also it didn't work", "yes but it still fails".
_ANSWER_FAILED = _phrases(
    "still", "didnt work", "didnt help", "doesnt work", "does not work", "did not work", "did not help", "not work",
    "not working", "no luck", "same problem", "same issue", "again",
)
#: An announced next question at the start of the words after a yes, dropped from the question searched.
_CUE_OPENING_RE = re.compile(
    r"^(?:(?:and|but|so|also|though|actually)\W+)*(?:(?:i\s+have\s+)?(?:another|one\s+more|a\s+second|one\s+other|"
    r"the\s+other|my\s+next)\s+(?:question|thing|issue|problem)|i\s+have\s+a\s+question)\b"
    # kept when it says what about: "one more question about my invoice" is the question
    r"(?!\s+(?:about|regarding|on|with|for|re)\b)\W*",
    re.IGNORECASE,
)


def another_problem_after_yes(text: str | None) -> str | None:
    """A new problem announced after a yes to "Did that solve your issue?": "yes, also my account is locked",
    "yes, one more thing, my emails are not arriving", "yes. Another question: I can't find my invoices", "yes, but
    I also can't log in".

    :func:`yes_no` reads a negative word anywhere as a no ("can't", "not"), and :func:`follow_up_question` wants a
    question word or a "?" once "also" has been read as part of the yes. A cue says the caller moved on: the answer
    did solve it, and this is the next question.

    Args:
        text: speech transcript (may be ``None``); only the first :data:`MAX_TEXT_CHARS` characters are looked at.

    Returns:
        The words after the yes with the cue that opens them removed ("my emails are not arriving"; kept when it
        says what the question is about: "one more question about my invoice"), as the caller said them, when the
        words before them are a yes (:func:`yes_no`), a cue announces another question ("also", "another
        question", "one more thing", "I have a question", :data:`_FOLLOW_UP_CUES`), the words do not say the
        answer failed ("still", "didn't work", "again", ...: "yes, also it didn't work" is a no) and they state a
        problem (:func:`looks_like_question`). ``None`` otherwise: "yes but I still can't log in", "yes, and I
        can't log in" (no cue: after a password answer that may be the answer failing), a plain yes.

    Raises:
        Nothing.
    """
    split = _after_yes(text)
    if split is None:
        return None
    lead, rest = split
    rest_grams = _ngrams(normalize(rest))
    if not ("also" in normalize(lead) or _has_any(rest_grams, _FOLLOW_UP_CUES)) or _has_any(rest_grams, _ANSWER_FAILED):
        return None
    if yes_no(lead) != "yes":
        return None
    question = _CUE_OPENING_RE.sub("", rest.strip(" \t,;:-.")).strip(" \t,;:-")
    return question if looks_like_question(question) else None


# --------------------------------------------------------------------------
# names
# --------------------------------------------------------------------------

_NAME_TOKEN_RE = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
# A period ends a clause, except after an initial ("J. Smith") or a title ("Dr. Jane Smith", "Mrs. Brown").
_CLAUSE_SPLIT_RE = re.compile(
    r"[,;:!?]|(?<!\b[^\W\d_])(?<!\b[DMdm]r)(?<!\b[Mm]s)(?<!\b[Mm]rs)(?<!\b[Pp]rof)\.(?=\s|$)")

# (phrase, strong): after a strong intro any name-shaped word is accepted;
# after a weak one ("this is", "it's", "I'm") common words are rejected and, if
# the transcript carries case, the word must be capitalised.
_INTROS: list[tuple[tuple[str, ...], bool]] = sorted(
    [
        (("my", "name", "is"), True),
        (("my", "names"), True),
        (("the", "name", "is"), True),
        (("the", "names"), True),
        (("name", "is"), True),
        (("names",), True),
        (("call", "me"), True),
        (("you", "can", "call", "me"), True),
        (("they", "call", "me"), True),
        (("i", "go", "by"), True),
        (("youre", "speaking", "with"), True),
        (("you", "are", "speaking", "with"), True),
        (("youre", "talking", "to"), True),
        (("this", "is"), False),
        (("it", "is"), False),
        (("its",), False),
        (("im",), False),
        (("i", "am"), False),
    ],
    key=lambda item: len(item[0]),
    reverse=True,
)

_INTROS_BY_FIRST_WORD: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
for _intro in _INTROS:  # longest first, as in _INTROS
    _INTROS_BY_FIRST_WORD.setdefault(_intro[0][0], []).append(_intro)

# Words that end a name after a strong intro.
_NAME_STOPPERS = frozenset(
    {
        "and", "but", "so", "from", "with", "calling", "i", "im", "my", "is", "the", "a",
        "an", "at", "of", "to", "for", "please", "thanks", "thank", "you", "here",
        "speaking", "um", "uh", "er", "again", "by", "just", "call", "phone", "number",
        "email", "account", "id", "ive", "have", "had", "need", "want", "who", "that",
        "or", "also", "actually", "well", "yes", "yeah", "no", "ok", "okay",
        "hi", "hello", "hey", "it", "its", "was", "am", "are", "we", "our", "your",
        "on", "in", "about", "regarding", "because", "cause", "can", "could",
    }
)

# Words that are not names after a weak intro or as a bare answer.
_NOT_NAMES = _NAME_STOPPERS | _PROBLEM_WORDS | _GREETING_WORDS | frozenset(
    {
        "having", "trying", "looking", "getting", "going", "wondering", "hoping",
        "not", "unable", "locked", "stuck", "fine", "good", "great", "sorry", "sure",
        "here", "there", "this", "that", "these", "those", "me", "him", "her", "them",
        "us", "he", "she", "they", "what", "about", "urgent", "important", "ridiculous",
        "frustrating", "frustrated", "annoying", "annoyed", "confused", "worried",
        "interested", "new", "still", "really", "very", "the", "customer", "client",
        "user", "admin", "administrator", "owner", "agent", "human", "person",
        "representative", "operator", "someone", "somebody", "manager", "supervisor",
        "team", "company", "department", "office", "support", "sales", "billing",
        "calling", "call", "phoning", "ringing", "regarding", "back", "again",
        "bye", "goodbye", "nothing", "everything", "all", "done", "set",
        "ready", "okay", "alright", "right", "wrong", "correct", "incorrect",
        "nope", "nah", "yep", "yup", "maybe", "please", "thanks", "email", "phone",
        "number", "address", "password", "name", "mine", "myself", "told", "said",
        "asking", "needing", "wanting", "unsure", "happy", "unhappy", "upset",
        "angry", "mad", "tired", "busy", "available", "able", "following", "up", "out", "over", "off", "on", "in", "an",
        "one", "two", "three", "first", "second", "last", "another", "other",
        "trouble", "just", "only", "also", "too", "so", "such", "some", "any",
        "speaking", "talking", "hard", "difficult", "impossible", "weird", "strange",
        "crazy", "terrible", "awful", "serious", "taking", "forever", "long", "slow",
        "broken", "down", "closed", "open", "free", "paid", "late", "early", "emergency", "test", "testing", "hold", "waiting", "logged",
        "signed", "attempting", "concerned", "never", "mind", "nevermind", "forget", "whatever", "oops", "anyway",
        "anyways", "mistake", "kayako", "look", "listen", "honestly", "basically", "seriously", "frankly",
    }
)

_BARE_TRAILERS = frozenset({"here", "speaking", "thanks", "thank", "you", "please", "calling"})


def _clause_words(text: str | None) -> list[str]:
    """Raw words of the transcript, with a "|" marker between clauses."""
    if not isinstance(text, str) or not text:
        return []
    text = unicodedata.normalize("NFKC", text[:MAX_TEXT_CHARS])
    text = re.sub(r"[\u2018\u2019\u02bc`\u00b4]", "'", text)
    words: list[str] = []
    for clause in _CLAUSE_SPLIT_RE.split(text):
        for raw in clause.split():
            word = raw.strip("\"'()[]{}<>.-*/\\&#@")
            if word:
                words.append(word)
        words.append("|")
    return words


def _key(word: str) -> str:
    return word.casefold().replace("'", "")


def _name_like(word: str) -> bool:
    return bool(_NAME_TOKEN_RE.fullmatch(word)) and not word.casefold().endswith("'s")


#: Sounds of a caller thinking between an introduction and the name ("my name is uh Jane").
_NAME_FILLER_SOUNDS = frozenset({"um", "umm", "uh", "uhh", "er", "erm", "ah", "|"})


def _take_name(words: list[str], start: int, strong: bool, has_case: bool) -> int:
    """Number of name words starting at ``start`` (at most 4)."""
    count = 0
    j = start
    while j < len(words) and count < 4:
        word = words[j]
        key = _key(word)
        if word == "|" or not _name_like(word):
            break
        if strong:
            if key in _NAME_STOPPERS:
                break
        else:
            if key in _NOT_NAMES:
                break
            if len(key) > 5 and key.endswith("ing"):
                break
            if has_case and not word[0].isupper():
                break
        count += 1
        j += 1
    return count


def _name_span(text: str | None) -> tuple[int, int, int] | None:
    """(intro_start, start, end) indexes into :func:`_clause_words` of the name.

    ``words[start:end]`` is the name (may contain "|" clause markers, which
    callers drop); ``words[intro_start:start]`` is the introduction, if any.
    A name said again in full in the next clause ("O'Brien, Sean O'Brien",
    "the name's Bond, James Bond", "Jane, Jane Smith") is the name said in full.
    """
    span = _first_name_span(text)
    if span is None:
        return None
    intro_start, start, end = span
    words = _clause_words(text)
    if "|" in words[start:end]:  # two clauses of names ("O'Brien | Sean O'Brien"): the first, or the one in full
        cut = words.index("|", start)
        again = cut
        while again < end and words[again] == "|":
            again += 1
        first, second = (start, cut), (again, end)
    else:
        again = end
        while again < len(words) and words[again] == "|":
            again += 1
        first, second = (start, end), (again, again + _take_name(words, again, False, False))
    said = [_key(w) for w in words[first[0]:first[1]] if w != "|"]
    full = [_key(w) for w in words[second[0]:second[1]] if w != "|"]
    if said and len(said) < len(full) and (full[-len(said):] == said or full[:len(said)] == said):
        return intro_start, second[0], second[1]  # said again in full
    if full and len(full) <= len(said) and (said[-len(full):] == full or said[:len(full)] == full):
        return intro_start, first[0], first[1]  # "Jane Smith, Smith": a part said again
    return span


def _first_name_span(text: str | None) -> tuple[int, int, int] | None:
    """:func:`_name_span` of the first name said."""
    words = _clause_words(text)
    if not words:
        return None
    keys = [_key(w) for w in words]
    has_case = isinstance(text, str) and any(c.isupper() for c in text)

    # 1. introduction phrase followed by a name
    for i in range(len(words)):
        for phrase, strong in _INTROS_BY_FIRST_WORD.get(keys[i], ()):
            if tuple(keys[i : i + len(phrase)]) != phrase:
                continue
            start = i + len(phrase)
            while start < len(words) and keys[start] in _NAME_FILLER_SOUNDS:
                start += 1  # "my name is, uh, Jane"
            count = _take_name(words, start, strong, has_case)
            if count:
                return i, start, start + count
            break

    # 2. the whole answer is a name ("John", "Hi, John Smith here.")
    idx = [k for k, w in enumerate(words) if w != "|"]
    while idx and keys[idx[0]] in _GREETING_WORDS:
        idx.pop(0)
    while idx and keys[idx[-1]] in _BARE_TRAILERS:
        idx.pop()
    if 1 <= len(idx) <= 4:
        if all(
            _name_like(words[k])
            and keys[k] not in _NOT_NAMES
            and not (len(keys[k]) > 5 and keys[k].endswith("ing"))
            for k in idx
        ):
            return idx[0], idx[0], idx[-1] + 1

    # 3. the name first, then what the call is about ("Bob Smith, and I need help with my password"): capitalised
    # words that are no common word, then a comma or "and", then a problem (_looks_like_problem)
    if has_case and idx:
        start = idx[0]
        count = _take_name(words, start, False, has_case)
        after = start + count
        joint = after
        while joint < len(words) and (words[joint] == "|" or keys[joint] == "and"):
            joint += 1
        rest = normalize(" ".join(w for w in words[joint:] if w != "|"))
        if count and joint > after and (_looks_like_problem(rest) or (
                "and" in keys[after:joint] and rest[:1] and rest[0] in _FIRST_PERSON)):
            # a problem, or "and" and something of the caller's own ("Jane, and I'm in a hurry")
            return start, start, after
        # 4. the name, then the caller's company ("Jane from Acme", "Tom Smith at Initech"; see _affiliation_len)
        if count and _affiliation_len(words, after):
            return start, start, after
    return None


#: Words that open something the caller says of themselves after their name and "and" ("Jane, and I'm in a hurry").
_FIRST_PERSON = frozenset({"i", "im", "ive", "id", "ill", "my", "we", "were", "weve", "our"})

_AFFILIATION_WORDS = frozenset({"from", "at", "with"})
#: Lower-case words a company's name may have ("Acme IT support", "the billing team at Globex").
_COMPANY_WORDS = frozenset(
    "the of and at it support team department company inc ltd llc corp co group plc gmbh services solutions "
    "billing sales office accounts accounting finance payroll hr marketing engineering operations legal "
    "purchasing procurement admin helpdesk".split()
)
#: Words that end the company and start what the caller says next ("Jane from Acme calling about billing").
_AFTER_COMPANY = frozenset("and but so because calling phoning ringing about regarding i im we were my our".split())


def _affiliation_len(words: list[str], at: int) -> int:
    """Number of words of "from <company>" (or "at", "with") starting at ``words[at]``, 0 if there is none: 1 to 5
    company words that are capitalised (when the transcript has capitals; "Acme's" counts as "Acme") or company words
    (:data:`_COMPANY_WORDS`, departments among them: "from accounts"),
    ending the clause or followed by a word that starts what comes next (:data:`_AFTER_COMPANY`). "Emails from
    customers are not arriving" has none: "customers" is neither."""
    if at >= len(words) or _key(words[at]) not in _AFFILIATION_WORDS:
        return 0
    has_case = any(c.isupper() for w in words for c in w)
    j = at + 1
    while j < len(words) and words[j] != "|" and _key(words[j]) not in _AFTER_COMPANY and j - at <= 5:
        word = words[j][:-2] if words[j].casefold().endswith("'s") else words[j]  # "Acme's IT team"
        if not (_name_like(word) and ((has_case and word[0].isupper()) or _key(word) in _COMPANY_WORDS)):
            return 0
        j += 1
    company = j - at - 1
    ends = j == len(words) or words[j] == "|" or _key(words[j]) in _AFTER_COMPANY
    return j - at if 1 <= company <= 5 and ends else 0


def without_affiliation(text: str | None) -> str:
    """``text`` without a leading "from <company>" ("from Acme IT support, I can't log in" -> "I can't log in";
    "from Acme" -> ""), for what a caller says after their name. Text without one is returned as it is.

    Args:
        text: the words after the caller's name (may be ``None``: ``""``).

    Returns:
        The rest, stripped of leading spaces and punctuation; only the first :data:`MAX_TEXT_CHARS` characters
        are looked at.

    Raises:
        Nothing.
    """
    if not isinstance(text, str):
        return ""
    text = text[:MAX_TEXT_CHARS]
    words = _clause_words(text)
    count = _affiliation_len(words, 0)
    if not count:
        return text.strip()
    cased = unicodedata.normalize("NFKC", text)
    end = 0
    for word in words[:count]:  # the words of "from <company>", found in order in the text
        at = cased.find(word, end)
        if at < 0:
            return text.strip()
        end = at + len(word)
    return cased[end:].lstrip(" \t,;:.!?-\"')")


#: A word spelled out letter by letter ("J A N E", "S-I-O-B-H-A-N").
_LETTER_RUN_RE = re.compile(r"(?<![\w'])(?:[^\W\d_][.,]?[\s-]+){1,29}[^\W\d_](?![\w'])[.,]?")


def corrects_name(text: str | None, name: str | None = None) -> str | None:
    """At the email question: does the caller correct the name heard ("sorry, it's Jane, not Jean", "no, my name is
    Jane")?

    Args:
        text: speech transcript (may be ``None``).
        name: the name heard before (``call.name``), or ``None`` (none heard).

    Returns:
        The new name (as :func:`extract_name` gives it) when the answer speaks of the name ("my name is Jane", "the
        name's Jane") or says which one it is not ("it's Jane, not Jean"), and the name differs from ``name``;
        ``None`` otherwise: an address, a question, the same name, or a name alone ("Jane" may start a spelling).

    Raises:
        Nothing.
    """
    tokens = normalize(text)
    if not tokens:
        return None
    old = normalize(name)
    said = f" {' '.join(tokens)} "
    wrong = bool(old) and f" not {' '.join(old)} " in said
    if not (wrong or {"name", "names"} & set(tokens)):
        return None
    if wrong:  # "it's Jane, not Jean": the name without the one it is not
        not_old = r"[\s,]*\bnot\s+" + r"[\s,]+".join(map(re.escape, str(name).split())) + r"\b"
        text = re.sub(not_old, " ", text[:MAX_TEXT_CHARS], flags=re.IGNORECASE)
    new = extract_name(text)
    if not new or normalize(new) == old:
        return None
    return new


def spelled_name(text: str | None) -> tuple[str, str | None]:
    """A name spelled out letter by letter at the name question: ``(the text without the spelling, the spelled
    word)``.

    "Jane, J A N E" -> ``("Jane,", "jane")``: the letters spell a word said before, and are dropped. "J A N E" or
    "my name is J A N E" -> ``("", "jane")`` / ``("my name is", "jane")``: nothing else names the caller, so the
    spelled word is the name. Letters that spell something else ("I need help with S S O") are left as they are:
    ``(text, None)``.

    Args:
        text: speech transcript (may be ``None``); only the first :data:`MAX_TEXT_CHARS` characters are looked at.

    Returns:
        ``(text, None)`` when no run of two or more single letters is dropped; else the text without the first
        such run, and the letters joined in lower case.

    Raises:
        Nothing.
    """
    if not isinstance(text, str):
        return "", None
    text = text[:MAX_TEXT_CHARS]
    for match in _LETTER_RUN_RE.finditer(text):
        letters = "".join(c for c in match.group() if c.isalpha()).lower()
        rest = (text[: match.start()] + text[match.end():]).strip()
        said = {w for w in normalize(rest)}
        if letters in said or not (extract_name(rest) or looks_like_question(rest)):
            return rest, letters
    return text, None


def extract_name(text: str | None) -> str | None:
    """Extract the caller's name from an answer to "Who am I speaking with?".

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        The name, title-cased, 1 to 4 words of letters with inner hyphens or
        apostrophes (``"Mary-Jane O'Brien"``), or ``None``.  Found either after
        an introduction ("my name is", "name's", "call me", "this is", "it's",
        "I'm", "I am") - stopping at the first word that is not a name ("and",
        "from", "calling", ...) - or when the whole answer (greetings and
        "here"/"speaking" aside) is a name ("John", "Hi, John Smith here"), or
        when capitalised words that are no common word open the answer and,
        after a comma or "and", a problem follows ("Bob Smith, and I need help
        with my password").
        After the weak introductions "this is"/"it's"/"I'm", common words are
        rejected ("I'm having trouble") and, when the transcript has any
        capital letters, the name must be capitalised, as recognisers
        capitalise proper names.  A problem statement without an introduction
        ("I can't log in to my account") gives ``None``.

    Raises:
        Nothing.
    """
    span = _name_span(text)
    if span is None:
        return None
    words = [w for w in _clause_words(text)[span[1] : span[2]] if w != "|"]
    if not words:
        return None
    return " ".join(w.title() for w in words)


# "the second one", "number two", "option 3", "the last one": a pick from a short list read to the caller.
_CHOICE_WORDS = {
    "first": 0, "1st": 0, "one": 0, "1": 0,
    "second": 1, "2nd": 1, "two": 1, "2": 1,
    "third": 2, "3rd": 2, "three": 2, "3": 2,
    "last": -1,
}
_ORDINALS = frozenset({"first", "1st", "second", "2nd", "third", "3rd", "last"})
_CHOICE_FILLER = frozenset(
    {"the", "number", "option", "article", "please", "its", "it", "is", "i", "think", "guess", "um", "uh", "er",
     "erm", "yeah", "yes", "ok", "okay", "maybe", "probably", "sounds", "like", "right", "id", "say"}
)


def choice_of(text: str | None) -> int | None:
    """Which item of a list read to the caller their answer picks.

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        The item's index: ``0`` for "the first one", "number one", "option 1"; ``1`` and ``2`` for the second
        and third; ``-1`` for "the last one". ``None`` when the answer says anything else besides the pick
        and filler words ("yes", "please", "I think it's ..."): "the one about passwords", "two-factor login"
        and "I forgot my password" name a topic, not a position. "that one" is no pick.

    Raises:
        Nothing.
    """
    words = [w for w in normalize(text) if w not in _CHOICE_FILLER]
    if len(words) == 2 and words[0] in _ORDINALS and words[1] == "one":
        words = words[:1]  # "the second one"
    if len(words) != 1 or words[0] not in _CHOICE_WORDS:
        return None
    return _CHOICE_WORDS[words[0]]


#: "I'm not sure", "I don't know which one", "no idea", "hard to say": no pick, and no more words about the problem.
_UNSURE_WHICH_RE = re.compile(
    r"(?:(?:um+|uh+|er+|hmm+|well|sorry|oh|honestly|to\s+be\s+honest|i\s+mean)\s+)*"
    r"(?:(?:im|i\s+am)\s+(?:not\s+(?:really\s+|quite\s+|totally\s+|too\s+)?(?:sure|certain)|unsure)"
    r"|not\s+(?:really\s+)?sure|(?:i\s+)?(?:dont|do\s+not)\s+(?:really\s+)?know|dunno|(?:i\s+have\s+)?no\s+idea"
    r"|(?:its\s+)?hard\s+to\s+say|i\s+(?:cant|cannot|can\s+not)\s+(?:tell|say|decide))"
    r"(?:\s+(?:which|what)(?:\s+(?:one|ones|of\s+(?:them|those|these)))?(?:\s+(?:it\s+is|to\s+(?:pick|choose)))?)?"
    r"(?:\s+(?:really|honestly|sorry|to\s+be\s+honest))*"
)


def unsure_which(text: str | None) -> bool:
    """At "Which one sounds closest to your problem?" (:func:`callflow.prompts.which_article`): does the caller say
    they cannot tell ("I'm not sure", "I don't know which one", "no idea", "hard to say")?

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer says so (fillers such as "um", "honestly" aside); ``False`` for a pick ("the
        second one"), for more words about the problem ("I'm not sure, it just says my password is wrong"), and
        for empty text.

    Raises:
        Nothing.
    """
    return _says_only(_UNSURE_WHICH_RE, text)


# --------------------------------------------------------------------------
# outage reports
# --------------------------------------------------------------------------

# What a caller calls the service when it is down for them (normalised words, see normalize()).
_SYSTEM_NOUNS = (r"(?:(?:web\s?)?site|service|services|system|systems|servers?|help\s?desk|app|application|platform|"
                 r"portal|dashboard|api|kayako|help\s?cent(?:er|re)|login\s+page|everything)")
# Who is shut out when many are ("my whole team", "all our agents"), and what they cannot do ("log in").
_EVERYONE = (r"(?:everyone|everybody|all\s+of\s+us|we\s+all|(?:my|our|the)\s+(?:whole|entire)\s+(?:team|company|office|"
             r"organi[sz]ation|department|staff)|all\s+(?:of\s+)?(?:my|our|the)\s+(?:agents|users|staff|team|"
             r"colleagues|people|employees))")
_NOBODY = (r"(?:nobody|no\s+one|noone|none\s+of\s+(?:us|them|(?:my|our|the)\s+(?:agents|users|staff|team|colleagues|"
           r"people)))")
#: "nobody on my team", "everyone at the office"
_ON_THE_TEAM = r"(?:\s+(?:on|in|at|from)\s+(?:my|our|the)\s+(?:team|company|office|department))?"
_GET_IN = r"(?:(?:log|sign)\s*(?:in|on)(?:to)?|login|signin|access\s+(?:it|the|our|kayako|the\s+helpdesk)|get\s+in)"
_OUTAGE_RE = re.compile(
    r"\boutages?\b"
    rf"|\b{_SYSTEM_NOUNS}\s+(?:is|are|seems|seem|looks|look|went|has\s+gone|have\s+gone|keeps\s+going)\s+"
    r"(?:to\s+be\s+)?down\b"
    rf"|\b(?:is|are)\s+(?:your|the|you)\s+(?:{_SYSTEM_NOUNS}\s+)?down\b"
    rf"|\b(?:is|are)\s+{_SYSTEM_NOUNS}\s+down\b"
    r"|\bnothing\s+(?:is\s+)?(?:working|works|loads|loading)\b"
    r"|\beverything\s+is\s+(?:broken|down)\b"
    # the whole team shut out: "my whole team can't log in", "nobody can sign in", "everyone is locked out"
    rf"|\b{_EVERYONE}{_ON_THE_TEAM}\s+(?:(?:cant|cannot|can\s+not)\s+{_GET_IN}"
    r"|(?:is|are|got|get|were|was)\s+(?:locked|logged)\s+out)\b"
    rf"|\b{_NOBODY}{_ON_THE_TEAM}\s+(?:can|could|is\s+able\s+to|are\s+able\s+to)\s+{_GET_IN}\b"
)
# "how do I post an outage notice", "where can I announce an outage": a how-to question, not a report.
_HOW_TO_RE = re.compile(r"^(?:\w+\s+){0,3}?(?:how|where)\s+(?:do|can|should|would)\s+(?:i|we|you)\b")


def reports_outage(text: str | None) -> bool:
    """Does the caller report the service down, rather than ask how to do something?

    A help-center article cannot answer "your website is down" (the lexical search read the word "website" and
    found the live-chat widget article), and a person must hear of it at once.

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` for "outage" and for a service word ("site", "website", "service", "system", "server", "app",
        "helpdesk", "help center", "dashboard", "API", "Kayako", "everything", ...) said to be down ("the website
        is down", "is your service down?", "your servers seem to be down"), or "nothing is working" /
        "everything is broken", and a whole team shut out ("my whole team can't log in", "nobody can sign in",
        "everyone is locked out"); ``False`` for a how-to question ("how do I post an outage notice on my help
        center") and for other uses of "down" ("I want to downgrade", "the price went down").

    Raises:
        Nothing.
    """
    words = " ".join(normalize(text))
    return bool(words) and not _HOW_TO_RE.match(words) and _OUTAGE_RE.search(words) is not None


_ACCOUNT = (r"(?:my|our|the|a|an|one\s+of\s+(?:my|our))\s+(?:\w+\s+)?"
            r"(?:account|accounts|login|profile|helpdesk|inbox|mailbox)")
_SECURITY_RE = re.compile(
    rf"\b{_ACCOUNT}\s+(?:has\s+been|have\s+been|was|were|got|is|are|s|may\s+have\s+been|might\s+have\s+been)\s+"
    r"(?:hacked|compromised|breached|taken\s+over|stolen|hijacked)\b"
    r"|\b(?:i|we|ive|weve|i\s+have|we\s+have)\s+(?:been|got|get)\s+hacked\b|\b(?:i|we)\s+(?:was|were)\s+hacked\b"
    r"|\b(?:someone|somebody|a\s+stranger|an\s+attacker|a\s+hacker|hackers?)\s+(?:has\s+|have\s+)?(?:else\s+)?"
    r"(?:logged|signed|got|broke|is\s+logging|keeps\s+logging)\s+(?:in(?:to)?|on(?:to)?)\s+(?:to\s+)?(?:my|our)\b"
    r"|\b(?:someone|somebody|a\s+stranger|a\s+hacker|hackers?)\s+(?:has\s+|have\s+)?(?:else\s+)?"
    r"(?:accessed|is\s+using|has\s+access\s+to|hacked|compromised|took\s+over|stole)\s+(?:my|our)\b"
    r"|\b(?:suspicious|unauthori[sz]ed|strange|unknown|unrecogni[sz]ed)\s+(?:log\s*ins?|sign\s*ins?|logins?|"
    r"signins?|activity|access|devices?)\b"
    r"|\b(?:data|security)\s+breach\b"
)


def reports_security_issue(text: str | None) -> bool:
    """Does the caller report their account or helpdesk broken into ("my account has been hacked", "someone logged
    into my account", "there's suspicious activity on our helpdesk")?

    A help-center article cannot deal with a break-in, and the team must hear of it at once (an urgent ticket).

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` for an account, login or helpdesk said to be hacked, compromised or taken over, someone else
        logged in or using it, suspicious or unauthorised logins or activity, and a data or security breach;
        ``False`` for a how-to question ("how do I see suspicious logins?", "how do I stop my account being hacked?")
        and for empty text.

    Raises:
        Nothing.
    """
    words = " ".join(normalize(text))
    return bool(words) and not _HOW_TO_RE.match(words) and _SECURITY_RE.search(words) is not None


#: Languages callers ask for, in English and in their own words (normalised: accents kept, see normalize()).
_LANGUAGES = (r"(?:spanish|espa[nñ]ol|castellano|french|fran[cç]ais|german|deutsch|portuguese|portugu[eê]s|italian|"
              r"italiano|chinese|mandarin|cantonese|japanese|korean|arabic|hindi|russian|vietnamese|tagalog|polish|"
              r"polski|dutch|nederlands|turkish|t[uü]rk[cç]e|ukrainian|farsi|persian|urdu|bengali|punjabi)")
_LANGUAGE_RE = re.compile(
    r"(?:(?:hi|hello|hola|bonjour|sorry|um+|uh+|excuse\s+me|please|yes|si|oui)\s+)*(?:"
    r"(?:do|does|can|could)\s+(?:you|anyone|someone|somebody|anybody)(?:\s+there)?\s+"
    rf"(?:speak|talk|help\s+(?:me\s+)?in)\s+{_LANGUAGES}"
    rf"|(?:is\s+(?:this|there)\s+)?(?:(?:a|an)\s+)?{_LANGUAGES}(?:\s+(?:speaker|line|option|speaking))?"
    rf"|(?:in\s+)?{_LANGUAGES}(?:\s+(?:please|por\s+favor|s\s+il\s+vous\s+pla[iî]t|bitte))?"
    rf"|(?:en|auf|in)\s+{_LANGUAGES}"
    rf"|(?:hablas?|habla\s+usted|parlez\s+vous|parles\s+tu|sprechen\s+sie|sprichst\s+du|fala|falas|parla|parli)"
    rf"\s+{_LANGUAGES}"
    rf"|(?:i\s+(?:only\s+)?(?:speak|need|want|would\s+like|d\s+like|prefer))\s+(?:to\s+speak\s+)?"
    rf"(?:in\s+)?{_LANGUAGES}(?:\s+only)?"
    rf"|(?:my\s+)?english\s+(?:is\s+)?(?:not\s+(?:very\s+)?good|(?:is\s+)?bad|no\s+good|is\s+not\s+good)"
    rf"|no\s+(?:hablo|speak)\s+(?:ingl[eé]s|english)"
    r")(?:\s+(?:please|por\s+favor|thanks|thank\s+you|gracias|merci|danke))*"
)


def asks_for_language(text: str | None) -> bool:
    """Does the caller ask for another language than English ("do you speak Spanish?", "español", "¿hablas
    español?", "parlez-vous français ?", "my English is not good")?

    The line speaks English only: "español" was taken for the caller's name, "do you speak Spanish?" for a question.

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer asks for a language (:data:`_LANGUAGES`) or says the caller's English is
        poor (fillers and greetings aside); ``False`` for anything more ("how do I translate my help center into
        Spanish?") and for empty text.

    Raises:
        Nothing.
    """
    return _says_only(_LANGUAGE_RE, text)


# --------------------------------------------------------------------------
# no email address to give
# --------------------------------------------------------------------------

_EMAIL_WORD = r"(?:e\s?mail|email\s+address|e\s?mail\s+address|e\s?mail\s+account)"
_DECLINES_EMAIL_RE = re.compile(
    rf"\b(?:i\s+)?(?:dont|do\s+not|didnt|never)\s+(?:have|had|use|got)\s+(?:an?\s+|any\s+)?{_EMAIL_WORD}\b"
    rf"|\b(?:i\s+)?(?:dont|do\s+not)\s+(?:know|remember)\s+(?:my|the|our)\s+{_EMAIL_WORD}\b"
    # forgotten: "I forgot my email address", "I can't remember my email"
    rf"|\b(?:i\s+)?(?:forgot|forgotten|(?:cant|can\s+not|cannot)\s+(?:remember|recall))\s+(?:my|the|our|what)\s+"
    rf"{_EMAIL_WORD}\b"
    rf"|\b(?:i\s+have\s+)?no\s+{_EMAIL_WORD}\b"
    rf"|\bwithout\s+(?:an?\s+)?{_EMAIL_WORD}\b"
    r"|\b(?:id|i\s+would|id\s+prefer|i\s+prefer|prefer)\s+(?:rather\s+)?not\s+(?:to\s+)?(?:say|give|share)\b"
    r"|^(?:please\s+|can\s+we\s+|lets\s+)?skip(?:\s+(?:it|that|this))?(?:\s+please)?$"
    r"|^(?:no\s+|sorry\s+)*(?:i\s+)?(?:dont|do\s+not|havent|have\s+not)\s+(?:have|got)\s+(?:one|any)(?:\s+sorry)?$"
    # the phone number offered instead: "can I give you my phone number instead", "just use my number"
    r"|\b(?:phone|mobile|cell)(?:\s+number)?\s+instead\b|\bnumber\s+instead\b"
    r"|\b(?:give\s+you|use|take|have)\s+my\s+(?:phone\s+|mobile\s+|cell\s+)?number\b"
)


_ADDR = r"(?:e\s*mails?|e\s*mail\s+address(?:es)?|address(?:es)?|accounts?|ones?)"
#: Kinds of address a caller may have more than one of ("my work email or my personal one").
_KIND = r"(?:work|personal|business|company|private|home|old|new|main|other)"
_ADDRESS_FILLER = r"(?:(?:um+|uh+|er+|oh|well|so|sorry|ok|okay|hmm+|actually|i\s+mean|but)\s+)*"
#: "I have two emails", "which one?", "my work one or my personal one?", "I'm not sure which one".
_WHICH_ADDRESS = (
    r"(?:(?:"
    r"(?:i\s+(?:have|got|use)|ive\s+got|there\s+are)\s+"
    r"(?:two|2|three|3|a\s+few|several|a\s+couple(?:\s+of)?|many|more\s+than\s+one)"
    rf"(?:\s+(?:different\s+)?{_ADDR})?"
    rf"|(?:(?:im|i\s+am)\s+not\s+sure\s+|i\s+(?:dont|do\s+not)\s+know\s+)?which\s+(?:one|{_ADDR})"
    r"(?:\s+(?:do\s+you\s+(?:want|need)|should\s+i\s+(?:give|use)|you\s+(?:want|need)|i\s+used|is\s+it))?"
    r"|(?:(?:do|would)\s+you\s+(?:need|want|prefer)\s+)?"
    rf"(?:my|the)\s+{_KIND}\s+{_ADDR}(?:\s+or\s+(?:my|the)\s+{_KIND}(?:\s+{_ADDR})?)?"
    rf"|(?:(?:do|would)\s+you\s+(?:need|want|prefer)\s+)?(?:my|the)\s+{_KIND}\s+or\s+(?:my\s+|the\s+)?{_KIND}"
    rf"(?:\s+{_ADDR})?"  # "do you need my work or personal email?"
    r")(?:\s+(?:then|please|or\s+what|though))*)"
)
_WHICH_ADDRESS_RE = re.compile(rf"{_ADDRESS_FILLER}{_WHICH_ADDRESS}(?:\s+(?:and\s+|so\s+)?{_WHICH_ADDRESS})*")
#: "It's on file", "you should have it already", "same as last time", "you've got it".
_ON_FILE_RE = re.compile(
    rf"{_ADDRESS_FILLER}(?:"
    r"(?:its|it\s+is|it\s+should\s+be|thats)\s+(?:already\s+)?(?:on\s+file|in\s+(?:your|the)\s+(?:system|records?|file))"
    r"|(?:you|youve|you\s+have|you\s+should|you\s+must|dont\s+you|do\s+you\s+not)\s+"
    r"(?:already\s+)?(?:should\s+)?(?:have|got|have\s+got)\s+(?:it|that|my\s+(?:email|address|details))(?:\s+already)?"
    r"(?:\s+on\s+file)?"
    r"|(?:its\s+|it\s+is\s+)?(?:the\s+)?same\s+as\s+(?:before|last\s+time|always|usual|on\s+my\s+account"
    r"|my\s+(?:login|log\s+in|sign\s+in|username|user\s+name|account))"
    # "the one I sign in with": which address, not the address
    r"|(?:its\s+|it\s+is\s+)?(?:just\s+)?the\s+(?:one|email|address)\s+i\s+(?:use\s+to\s+)?(?:sign|log)\s+"
    r"(?:in|on|into)(?:\s+with)?"
    r"|can\s+you\s+(?:not\s+)?(?:look\s+(?:it|me)\s+up|find\s+(?:it|me))(?:\s+(?:by|from|with)\s+my\s+(?:phone\s+)?number)?"
    r")(?:\s+(?:then|please|surely|already|right))*"
)


def asks_which_address(text: str | None) -> bool:
    """At "What's the email address on your account?": is the caller unsure which address to give ("I have two
    emails", "which one?", "my work one or my personal one?")?

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer says so (fillers such as "um", "well" aside); ``False`` for anything more (an
        address: "my work one is jane at acme dot com"), and for empty text.

    Raises:
        Nothing.
    """
    return _says_only(_WHICH_ADDRESS_RE, text)


def says_address_on_file(text: str | None) -> bool:
    """At "What's the email address on your account?": does the caller say we have it already ("it's on file", "you
    should have it already", "same as last time", "can you look me up by my number?")?

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer says so (fillers aside); ``False`` for anything more and for empty text.

    Raises:
        Nothing.
    """
    return _says_only(_ON_FILE_RE, text)


def declines_email(text: str | None) -> bool:
    """Does the caller say they have no email address to give (at "What's the email address on your account?")?

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` for "I don't have an email", "no email address", "I don't use email", "I don't know my email
        address", "I forgot my email", "I'd rather not say", "skip it", the whole answer "I don't have one", and
        the phone number
        offered instead ("can I give you my phone number instead?", "just use my number"); ``False``
        otherwise, an address included ("no email, it's jane at example dot com" is parsed as the address first
        by the caller of this function) and a problem with an email ("I don't have access to my email").

    Raises:
        Nothing.
    """
    words = " ".join(normalize(text))
    return bool(words) and _DECLINES_EMAIL_RE.search(words) is not None


_CANNOT_RECALL_RE = re.compile(
    r"(?:(?:sorry|um+|uh+|oh|well|honestly|no)\s+)*(?:i\s+)?(?:forgot|(?:cant|can\s+not|cannot|dont|do\s+not)\s+"
    r"(?:remember|recall|know))(?:\s+(?:it|that|what\s+it\s+is|off\s+hand|offhand|right\s+now))*(?:\s+sorry)?"
)


def cannot_recall(text: str | None) -> bool:
    """Is the whole answer that the caller does not remember or know what was asked ("I don't remember", "I can't
    remember it", "I forgot", "I don't know what it is")? Said at the email question, the caller has no address to
    give: spelling it letter by letter would not help.

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` for that answer alone (fillers such as "sorry", "honestly" aside); ``False`` for more ("I don't
        remember my password", "I don't know which one") and for empty text.

    Raises:
        Nothing.
    """
    return _says_only(_CANNOT_RECALL_RE, text)


def _says_only(pattern: re.Pattern[str], text: str | None) -> bool:
    """True if the whole transcript, as normalised words joined by single spaces (:func:`normalize`), matches
    ``pattern``: the caller said that and nothing more."""
    words = " ".join(normalize(text))
    return bool(words) and pattern.fullmatch(words) is not None


# --------------------------------------------------------------------------
# "can you repeat that?"
# --------------------------------------------------------------------------

_REPEAT_FILLER = (r"(?:(?:sorry|um+|uh+|er+|oh|ok|okay|yes|yeah|hello|hi|excuse\s+me|pardon\s+me|please|again|"
                  r"i\s+mean|wait|hang\s+on|hold\s+on|actually|so|and|just|before\s+you\s+go|one\s+more\s+thing)\s+)*")
#: The answer's parts asked for again: "the steps", "the second step", "that last part".
_ANSWER_PART = (r"(?:the|those|that|these)\s+(?:(?:first|second|third|fourth|fifth|last|next|other)\s+)?"
                r"(?:steps?|instructions|part|bit|answer)")
#: What was listed, asked for again: "repeat them", "say the options again", "read the list again".
_REPEATED_LIST = r"(?:them|those|the\s+(?:options|choices|articles|list|titles|names))"
_REPEAT_RE = re.compile(
    rf"{_REPEAT_FILLER}(?:"
    r"(?:can|could|would|will)\s+you\s+(?:please\s+)?(?:repeat|say)"
    rf"(?:\s+(?:that|it|this|the\s+last\s+part|what\s+you\s+said|{_REPEATED_LIST}))?"
    r"(?:\s+(?:one\s+more\s+time|again))?"
    rf"|(?:please\s+)?repeat(?:\s+(?:that|it|this|the\s+last\s+part|{_REPEATED_LIST}))?"
    rf"|(?:(?:can|could|would|will)\s+you\s+)?(?:please\s+)?(?:say|read)\s+(?:that|it|{_REPEATED_LIST})\s+again"
    r"|what\s+(?:were|are)\s+(?:the\s+(?:options|choices|articles)|they|those|them)(?:\s+again)?"
    r"|(?:one\s+more|1\s+more)\s+time"
    # the answer, again or slower: "can you repeat the steps?", "what was the second step?", "slow down please"
    rf"|(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?)?(?:repeat|say|read|go\s+(?:over|through))\s+{_ANSWER_PART}"
    r"(?:\s+again)?"
    rf"|what\s+(?:was|were|is|are)\s+{_ANSWER_PART}(?:\s+again)?"
    r"|slow\s+down|(?:can|could|would)\s+you\s+(?:please\s+)?(?:go|speak|talk|say\s+(?:it|that)|read\s+(?:it|that))\s+"
    r"(?:a\s+(?:bit|little)\s+)?(?:slower|more\s+slowly)(?:\s+this\s+time)?|(?:a\s+(?:bit|little)\s+)?slower"
    r"|(?:youre|you\s+are|that\s+was|thats|it\s+was)\s+(?:going\s+|talking\s+|speaking\s+)?(?:way\s+)?too\s+fast"
    r"|come\s+again|pardon|what\s+was\s+that|what\s+did\s+you\s+say|sorry\s+what|what"
    r"|hello|(?:is\s+)?(?:anyone|anybody|someone|somebody)\s+there|are\s+you\s+(?:still\s+)?there|can\s+you\s+hear\s+me"
    r"|i\s+(?:didnt|did\s+not|couldnt|could\s+not)\s+(?:catch|hear|get|understand)\s+"
    r"(?:that|it|you|what\s+you\s+said|all\s+of\s+that)"
    r")(?:\s+(?:please|again|sorry|one\s+more\s+time))*"
)


def wants_repeat(text: str | None) -> bool:
    """Does the caller ask to hear the last prompt again ("can you repeat that?", "say that again", "sorry,
    what?", "I didn't catch that"), or check the line ("hello?", "is anyone there?", "can you hear me?")?

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer is such a request (fillers such as "sorry", "um", "please", "again"
        aside); ``False`` for anything more ("I didn't get that email", "can you repeat the steps for SSO",
        "what is SSO"), which is a question in its own right.

    Raises:
        Nothing.
    """
    return _says_only(_REPEAT_RE, text)


_ANSWER_PART_RE = re.compile(rf"\b{_ANSWER_PART}\b")


def asks_for_answer_again(text: str | None) -> bool:
    """Does the caller ask for the answer's steps again ("can you repeat the steps?", "what was the first step
    again?", "actually, can you go over the instructions again?")? At "Is there anything else?" the last prompt was
    that question, and the answer the one before it.

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` for a request to repeat (:func:`wants_repeat`) that names the answer or a part of it ("the steps",
        "the second step", "the answer", "the instructions"); ``False`` for "can you repeat that?" and anything that
        is no such request.

    Raises:
        Nothing.
    """
    return wants_repeat(text) and _ANSWER_PART_RE.search(" ".join(normalize(text))) is not None


# --------------------------------------------------------------------------
# "I have another question" (and no question yet)
# --------------------------------------------------------------------------

_ANNOUNCE_FILLER = (r"(?:(?:yes|yeah|yep|yup|actually|um+|uh+|so|well|and|oh|also|sorry|ok|okay|sure|hi|hello|just|"
                    r"then|now|but|please|thanks|thank\s+you)\s+)*")
_SOME_QUESTION = (r"(?:a|another|one\s+more|one|a\s+quick|just\s+one|one\s+other|a\s+couple\s+of|a\s+few|some|"
                  r"more|two|a\s+second|a\s+different|one\s+last)\s+(?:more\s+)?(?:quick\s+)?(?:questions?|things?)")
_ANNOUNCE_RE = re.compile(
    rf"{_ANNOUNCE_FILLER}(?:"
    rf"i\s+(?:have|got|ve\s+got|have\s+got|do\s+have)\s+{_SOME_QUESTION}"
    rf"|{_SOME_QUESTION}"
    # "I have another one", "one more": the question is the noun the caller leaves out
    r"|(?:i\s+(?:have|got|ve\s+got|have\s+got|do\s+have)\s+)?(?:another|one\s+more)(?:\s+one)?"
    r"|quick\s+question|something\s+else"
    r"|(?:there\s+is|theres)\s+(?:something\s+else|one\s+more\s+thing|another\s+thing)"
    r"|(?:can|could|may)\s+i\s+ask\s+(?:you\s+)?"
    r"(?:something(?:\s+else)?|a\s+question|another\s+question|one\s+more\s+thing)"
    r"|i\s+(?:want|wanted|would\s+like|need|d\s+like)\s+to\s+ask\s+(?:you\s+)?"
    r"(?:something(?:\s+else)?|a\s+question|another\s+question)"
    r")(?:\s+(?:please|too|as\s+well|for\s+you|actually|if\s+thats\s+ok|if\s+that\s+is\s+ok))*"
)


def announces_question(text: str | None) -> bool:
    """Does the caller announce a question without asking it yet ("I have another question", "one more thing",
    "actually yes, can I ask something else?")?

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer is such an announcement (fillers such as "yes", "actually", "um",
        "please" aside); ``False`` when it goes on to the question ("I have another question about billing",
        "one more thing, how do I export my cases?").

    Raises:
        Nothing.
    """
    return _says_only(_ANNOUNCE_RE, text)


# --------------------------------------------------------------------------
# "are you a robot?"
# --------------------------------------------------------------------------

_AUTOMATED_RE = re.compile(
    r"(?:(?:sorry|um+|uh+|wait|hang\s+on|hold\s+on|so|ok|okay|hello|hi)\s+)*"
    r"(?:are\s+you|is\s+this|is\s+that|am\s+i\s+(?:talking|speaking)\s+(?:to|with)|this\s+is|youre|you\s+are)\s+"
    r"(?:just\s+|only\s+)?(?:a\s+|an\s+)?(?:real\s+)?"
    r"(?:robot|bot|machine|computer|ai|artificial\s+intelligence|recording|chat\s?bot|"
    r"automated(?:\s+(?:system|assistant|service|message|voice))?|virtual\s+assistant|person|human(?:\s+being)?)"
    r"(?:\s+(?:or\s+(?:a\s+)?(?:real\s+)?(?:person|human|robot|machine)|right|then|or\s+what))*"
    # who the caller is talking to: "who am I speaking to?", "who is this?", "what's your name?"
    r"|(?:(?:sorry|um+|uh+|wait|so|ok|okay|hello|hi|and)\s+)*"
    r"(?:who\s+(?:am\s+i|are\s+we)\s+(?:talking|speaking)\s+(?:to|with)|whom?\s+(?:is|s)\s+this|whos\s+this|"
    r"who\s+are\s+you|what\s+(?:is|s)\s+your\s+name|whats\s+your\s+name)(?:\s+(?:please|then|again|sorry))*"
)


def asks_if_automated(text: str | None) -> bool:
    """Does the caller ask whether they are talking to a machine ("are you a robot?", "is this a recording?",
    "are you a real person?"), or who they are talking to ("who am I speaking to?", "what's your name?")?

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer is that question (fillers such as "sorry", "um", "hello" aside);
        ``False`` for anything more ("is this a robot that can reset my password") and for a request for a person
        ("can I talk to a real person": :func:`wants_human`).

    Raises:
        Nothing.
    """
    return _says_only(_AUTOMATED_RE, text)


#: "Is this Kayako support?", "have I reached customer service?", or only "Kayako?": which line the caller reached.
_WHO_WE_ARE_RE = re.compile(
    r"(?:(?:yes|yeah|hi|hello|hey|um+|uh+|er+|oh|sorry|so|ok|okay|and)\s+)*"
    r"(?:(?:is\s+(?:this|that|it)|am\s+i\s+(?:talking|speaking)\s+(?:to|with)|have\s+i\s+(?:reached|got|called)|"
    r"did\s+i\s+(?:reach|get|call)|i(?:\s+am|m)\s+(?:calling|trying\s+to\s+reach))\s+)?"
    r"(?:the\s+)?(?:kayako(?:\s+(?:support|customer\s+(?:support|service)|help\s*desk))?|"
    r"(?:customer\s+(?:support|service)|tech(?:nical)?\s+support|support|the\s+help\s*desk))"
    r"(?:\s+(?:line|team|number|desk))?(?:\s+(?:please|right|then))*"
)


def asks_who_we_are(text: str | None) -> bool:
    """Does the caller check which line they reached ("is this Kayako support?", "have I reached customer service?",
    "Kayako?")?

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer is that question (fillers such as "yes", "hi", "sorry" aside); ``False`` for
        anything more ("is this Kayako support? I can't log in") and for empty text.

    Raises:
        Nothing.
    """
    return _says_only(_WHO_WE_ARE_RE, text)


# --------------------------------------------------------------------------
# "why do you need my email?"
# --------------------------------------------------------------------------

_ASKED_FOR = (r"(?:my\s+)?(?:name|email(?:\s+address)?|e\s?mail(?:\s+address)?|address|details|information|info|it|"
              r"that|this|(?:(?:phone|mobile|cell|telephone)\s+)?number)")
_WHY_NEEDED_RE = re.compile(
    r"(?:(?:sorry|um+|uh+|so|ok|okay|well|but|and|wait|hang\s+on|hold\s+on)\s+)*(?:"
    r"(?:why|how\s+come)(?:\s+(?:do|would|did|does|should|are))?\s+(?:you|u)(?:\s+guys)?\s+"
    r"(?:need|want|ask\s+(?:for|me\s+for)|asking\s+(?:for|me\s+for)|require)(?:\s+to\s+know)?"
    rf"(?:\s+{_ASKED_FOR})?"
    rf"|what\s+do\s+you\s+(?:need|want)\s+{_ASKED_FOR}\s+for"
    r"|(?:whats|what\s+is)\s+(?:that|this|it)\s+for"
    r"|why\s+(?:is|would)\s+(?:that|this|it)\s+(?:be\s+)?(?:needed|necessary|required)"
    r"|why|why\s+is\s+that|what\s+for"
    r")(?:\s+(?:exactly|then|please|though|anyway))*"
)


_MY_NUMBER = r"(?:my\s+)?(?:(?:phone|mobile|cell|telephone)\s+)?number"
#: "can't you see my number?", "it's the number I'm calling from", "use the one I'm calling from".
_POINTS_TO_CALLER_ID_RE = re.compile(
    r"(?:(?:sorry|um+|uh+|so|ok|okay|well|but|oh|just|can\s+you\s+not|cant\s+you)\s+)*(?:"
    rf"(?:cant|can\s+not|cannot|can)\s+(?:you|u)\s+(?:not\s+)?(?:see|get|use|take|have)\s+{_MY_NUMBER}"
    rf"(?:\s+(?:from\s+(?:this|the)\s+call|from\s+your\s+(?:screen|system)))?"
    rf"|(?:dont|do\s+not)\s+you\s+(?:have|see|already\s+have)\s+{_MY_NUMBER}"
    r"|(?:(?:its|it\s+is|thats|that\s+is|use|just\s+use|take)\s+)?(?:the|my)\s+(?:(?:phone|mobile|cell)\s+)?"
    r"(?:number|one)\s+(?:that\s+)?(?:im|i\s+am)\s+(?:calling|ringing|phoning)\s+(?:you\s+)?(?:from|on|with)"
    r"|(?:call\s+me\s+(?:back\s+)?on|use)\s+(?:this|the\s+same)\s+(?:number|one|line)"
    r")(?:\s+(?:please|then|right|though|already))*"
)


def points_to_caller_id(text: str | None) -> bool:
    """At "What's the best phone number to reach you on?" (asked only when the caller id is withheld): does the
    caller point at the number they are calling from ("can't you see my number?", "it's the number I'm calling
    from", "call me back on this number")?

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer says so (fillers aside); ``False`` for a number, anything more, and empty
        text.

    Raises:
        Nothing.
    """
    return _says_only(_POINTS_TO_CALLER_ID_RE, text)


def asks_why_needed(text: str | None) -> bool:
    """Does the caller ask why they are asked for their name or email ("why do you need my email?", "what's that
    for?", "why?")?

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer is that question (fillers such as "sorry", "but", "um" aside); ``False`` for
        anything more ("why does the app ask for my email every time I log in?", a question about the product) and
        for empty text.

    Raises:
        Nothing.
    """
    return _says_only(_WHY_NEEDED_RE, text)


# --------------------------------------------------------------------------
# "what can you help me with?"
# --------------------------------------------------------------------------

_CAN_DO_RE = re.compile(
    r"(?:(?:sorry|um+|uh+|so|ok|okay|well|hi|hello|yes|yeah|and)\s+)*"
    r"(?:what\s+(?:can|could)\s+you\s+(?:help\s+(?:me\s+)?with|help\s+me\s+do|do(?:\s+for\s+me)?)"
    r"|what\s+do\s+you\s+(?:do|help\s+with)|what\s+(?:are|re)\s+(?:my|the)\s+options"
    r"|how\s+does\s+this\s+work|what\s+kind\s+of\s+(?:things|questions)\s+can\s+you\s+(?:help\s+with|answer)"
    r"|what\s+(?:things|questions)\s+can\s+you\s+(?:help\s+with|answer)|what\s+is\s+this(?:\s+line)?)"
    r"(?:\s+(?:exactly|then|please|here|today))*"
)


_RECORDED_RE = re.compile(
    r"(?:(?:sorry|um+|uh+|wait|so|ok|okay|hello|hi|and|just\s+(?:checking|asking|to\s+check)|quick\s+question)\s+)*"
    r"(?:(?:is|are)\s+(?:this|the|my|our)\s+(?:phone\s+)?(?:call|conversation|line)\s+(?:being\s+)?recorded"
    r"|(?:are|will)\s+you\s+(?:be\s+)?record(?:ing)?\s+(?:this|me|the\s+call|our\s+conversation|us)"
    r"|(?:do|will)\s+you\s+record\s+(?:this|this\s+call|the\s+call|me)"
    r"|is\s+(?:this|it)\s+being\s+recorded|am\s+i\s+being\s+recorded|is\s+this\s+recorded)"
    r"(?:\s+(?:please|then|right|too|as\s+well))*"
)


def asks_if_recorded(text: str | None) -> bool:
    """Does the caller ask whether the call is recorded ("is this call being recorded?", "are you recording this?")?

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer is that question (fillers such as "sorry", "just checking" aside); ``False``
        for anything more ("is this call recorded because I want a copy") and for questions about the product's
        recordings ("how are calls recorded in the helpdesk", "where are my recorded calls").

    Raises:
        Nothing.
    """
    return _says_only(_RECORDED_RE, text)


_REFERENCE_WHAT = (r"(?:(?:a|an|the|my|our|any)\s+)?(?:ticket|case|reference|confirmation|incident|support)\s+"
                   r"(?:number|id|no)")
_REFERENCE_RE = re.compile(
    r"(?:(?:sorry|um+|uh+|so|ok|okay|oh|and|also|actually|great|thanks|thank\s+you|yes|yeah|one\s+more\s+thing|"
    r"before\s+you\s+go|before\s+i\s+go|just\s+one\s+thing)\s+)*"
    r"(?:(?:can|could|may)\s+i\s+(?:please\s+)?(?:get|have|take)\s+" + _REFERENCE_WHAT +
    r"|(?:can|could|will|would)\s+you\s+(?:please\s+)?(?:give|send)\s+me\s+" + _REFERENCE_WHAT +
    r"|(?:is\s+there|do\s+i\s+get|will\s+i\s+get|do\s+you\s+have|did\s+you\s+give\s+me)\s+" + _REFERENCE_WHAT +
    r"|(?:what\s+is|whats)\s+(?:the|my)\s+(?:ticket|case|reference|confirmation)\s+(?:number|id)"
    r"(?:\s+for\s+(?:this|this\s+call|today))?"
    r"|i\s+(?:need|would\s+like|d\s+like|want)\s+" + _REFERENCE_WHAT +
    r"|(?:will|do)\s+i\s+get\s+(?:a\s+)?(?:ticket|case|reference)(?:\s+for\s+this)?)"
    r"(?:\s+(?:please|for\s+this(?:\s+call)?|for\s+today|then|too|as\s+well))*"
)


def asks_for_reference(text: str | None) -> bool:
    """Does the caller ask for a ticket or case number for this call ("can I get a ticket number?", "is there a
    reference number?", "what's my case number?")?

    A case is created when the call ends (:mod:`callflow.tickets`), so there is no number to give during the call;
    searched as a question, "ticket number" found the custom-fields article ("number" fields on cases).

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer is that question (fillers such as "oh, one more thing" aside); ``False`` for
        anything more, such as a follow-up on an earlier case with its number ("my ticket number is 12345"), and for
        empty text.

    Raises:
        Nothing.
    """
    return _says_only(_REFERENCE_RE, text)


_SENT_WHAT = (r"(?:that|this|it|them|those(?:\s+steps)?|a\s+link|(?:the|those)\s+(?:link|steps|article|instructions|answer|"
              r"details|info|information))")
_SENT_HOW = (r"(?:to\s+me|by\s+(?:e\s*mail|text|sms|message)|in\s+(?:an?\s+)?(?:e\s*mail|text|writing)|"
             r"to\s+my\s+(?:e\s*mail|phone|inbox|mobile)|over|through)")
_SEND_FILLER = r"(?:(?:sorry|um+|uh+|ok|okay|so|and|also|actually|great|thanks|thank\s+you|yes|yeah)\s+)*"
_SEND_ANSWER_RE = re.compile(
    rf"{_SEND_FILLER}(?:"
    r"(?:(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+)?(?:just\s+)?|(?:please\s+)?(?:just\s+)?)"
    rf"(?:send|email|e\s*mail|text|message|sms|forward)\s+(?:me\s+)?(?:over\s+)?{_SENT_WHAT}"
    rf"(?:\s+{_SENT_HOW})*"
    rf"|(?:can|could|may)\s+i\s+(?:please\s+)?(?:get|have)\s+{_SENT_WHAT}\s+"
    r"(?:by\s+(?:e\s*mail|text)|in\s+(?:an?\s+)?(?:e\s*mail|text|writing)|e\s*mailed|texted|sent\s+(?:to\s+me|over))"
    r")"
)
_SEND_ANSWER_TAIL_RE = re.compile(r"(?:\s+(?:please|thanks|thank\s+you|too|as\s+well|so\s+i\s+have\s+it))*$")


def asks_to_send_answer(text: str | None) -> bool:
    """Does the caller ask for the answer in writing ("can you email me that?", "send me the link", "can I get the
    steps by text")?

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer asks for "that", "it", "the link", "the steps", "the article" ... to be
        emailed, texted or sent (fillers such as "ok", "thanks", "please" aside); ``False`` for anything more,
        among them questions about the product's own sending ("can you send me a password reset link", "how do I
        send the survey by email").

    Raises:
        Nothing.
    """
    words = _SEND_ANSWER_TAIL_RE.sub("", " ".join(normalize(text)))
    return bool(words) and _SEND_ANSWER_RE.fullmatch(words) is not None


def asks_what_it_can_do(text: str | None) -> bool:
    """Does the caller ask what the line can do ("what can you help me with?", "what are my options?", "how does
    this work?")?

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer is that question (fillers aside); ``False`` for anything more ("what can
        you do about my invoice", "how does this work with Slack"), a question for the help-center articles.

    Raises:
        Nothing.
    """
    return _says_only(_CAN_DO_RE, text)


# --------------------------------------------------------------------------
# complaints
# --------------------------------------------------------------------------

# Normalised words (see normalize()): "I'd" is "id", "I'm" is "im", "don't" is "dont".
_COMPLAINT_NOUN = r"(?:a\s+|an\s+)?(?:formal\s+|official\s+|serious\s+)?complaint"
_BAD = (r"(?:(?:very|really|so|extremely|incredibly|absolutely|just)\s+)?"
        r"(?:rude|unhelpful|unprofessional|useless|horrible|terrible|awful|appalling|disrespectful|dismissive|"
        r"unacceptable|disgraceful|shocking|a\s+joke|rubbish|garbage)")
_STAFF = (r"(?:agent|rep|representative|staff|employee|support\s+(?:agent|person|people|team|staff|rep)|"
          r"person\s+i\s+(?:spoke|talked)\s+(?:to|with)|guy|lady|woman|man|engineer|technician|operator)")
# The complaint said in so many words: "make a complaint", "I want to complain", "this is a complaint".
_ANNOUNCED_COMPLAINT = (
    rf"\b(?:make|making|file|filing|lodge|lodging|register|raise|submit|put\s+in|log)\s+{_COMPLAINT_NOUN}\b"
    rf"|\b(?:i|we)\s+(?:have|ve\s+got|got)\s+{_COMPLAINT_NOUN}\b"
    rf"|\b(?:this\s+is|its|calling\s+(?:with|about)|phoning\s+(?:with|about))\s+{_COMPLAINT_NOUN}\b"
    r"|\b(?:want|wanted|like|need|calling|call|phoning|ringing|here)\s+to\s+complain\b"
    r"|\b(?:i|im|i\s+am)\s+(?:complaining|going\s+to\s+complain)\b"
)
_COMPLAINT_RE = re.compile(
    _ANNOUNCED_COMPLAINT
    + r"|\bmy\s+complaint\s+is\b"
    + rf"|\b(?:your|the|that)\s+{_STAFF}(?:\s+(?:i|we)\s+(?:spoke|talked|dealt)\s+(?:to|with)(?:\s+\w+){{0,3}})?"
      rf"\s+(?:was|were|is|are|has\s+been|have\s+been)\s+{_BAD}\b"
    + rf"|\b(?:your|the)\s+(?:customer\s+)?(?:service|support|company)\s+(?:is|was|has\s+been)\s+{_BAD}\b"
    + r"|\b(?:terrible|awful|horrible|appalling|unacceptable|disgraceful|shocking|worst)\s+(?:customer\s+)?"
      r"(?:service|support)\b"
    + r"|\b(?:im|i\s+am|were|we\s+are)\s+(?:(?:very|really|so|extremely)\s+)?"
      r"(?:unhappy|not\s+happy|dissatisfied|disappointed|fed\s+up|furious|angry|upset)\s+with\s+(?:your|the)\s+"
      r"(?:service|support|company|agent|staff|team|response|treatment|way)\b"
)
_ANNOUNCED_COMPLAINT_RE = re.compile(_ANNOUNCED_COMPLAINT)
# What may surround an announced complaint that still tells nothing about it ("hi, yes, I'd like to make a formal
# complaint please").
_COMPLAINT_FILLER = frozenset(
    {
        "i", "id", "im", "ive", "we", "wed", "were", "would", "like", "want", "wanted", "need", "to", "please",
        "yes", "yeah", "hi", "hello", "hey", "um", "uh", "so", "ok", "okay", "well", "just", "actually", "and",
        "a", "an", "the", "about", "calling", "call", "phoning", "because", "with", "you", "your", "thanks",
        "thank", "good", "morning", "afternoon", "evening", "there", "this", "is", "its", "am", "have", "got",
        "something", "really", "do", "can", "could", "how", "where", "who", "speak", "talk",
    }
)


def makes_complaint(text: str | None) -> bool:
    """Does the caller make a complaint (about the service, the company or someone on its team)?

    A help-center article cannot answer a complaint, and "I don't have that information" is the wrong thing to
    say to one: a person must hear it.

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` for a complaint said in so many words ("I'd like to make a complaint", "I want to complain about
        my bill", "this is a complaint"), someone on the team said to be rude or unhelpful ("the agent I spoke to
        was really rude"), the service called terrible ("your support is a joke", "worst customer service
        ever"), or the caller unhappy with it ("I'm very unhappy with your service"). ``False`` for a how-to
        question ("how do I log a complaint for a customer?", "where can I see complaints?"), for a negated one
        ("I don't want to complain, but ...") and for complaints of the caller's own customers ("our customers
        complain that replies are slow").

    Raises:
        Nothing.
    """
    tokens = normalize(text)
    words = " ".join(tokens)
    if not words or _HOW_TO_RE.match(words):
        return False
    for match in _COMPLAINT_RE.finditer(words):
        if not _negated(tokens, len(words[: match.start()].split())):
            return True
    return False


def announces_complaint(text: str | None) -> bool:
    """Does the caller only say that they want to complain, without saying about what ("I'd like to make a
    complaint", "hi, I have a complaint please")?

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when :func:`makes_complaint` holds, the complaint is said in so many words, and every other word
        is a filler ("hi", "yes", "please", "I'd like to"); ``False`` when there is more ("I want to complain
        about my invoice", "the agent was rude").

    Raises:
        Nothing.
    """
    if not makes_complaint(text):
        return False
    words = " ".join(normalize(text))
    rest = _ANNOUNCED_COMPLAINT_RE.sub(" ", words).split()
    return len(rest) < len(words.split()) and all(word in _COMPLAINT_FILLER for word in rest)


# --------------------------------------------------------------------------
# a call about an earlier case
# --------------------------------------------------------------------------

_CASE_NOUN = r"(?:ticket|case|support\s+(?:ticket|case|request)|request|enquiry|inquiry)"
_EARLIER = r"(?:(?:my|our|an?)\s+(?:existing|open|earlier|previous|old)|my|our)"
_CASE_NUMBER_RE = re.compile(rf"\b{_CASE_NOUN}\s+(?:number\s+|no\s+|id\s+|reference\s+)?((?:\d\s?){{2,12}})\b")
#: Before this call: "yesterday", "last week", "a few days ago", "on Monday".
_WHEN = (r"(?:yesterday|earlier\s+today|this\s+morning|last\s+(?:week|month|night|time|friday|monday)|"
         r"(?:a\s+)?(?:few|couple(?:\s+of)?)\s+(?:days|weeks)\s+ago|(?:\w+\s+)?(?:days?|weeks?)\s+ago|"
         r"on\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))")
_FOLLOW_UP_RE = re.compile(
    rf"\b(?:status|update|updates|progress|news)\s+(?:of|on|about|with|for)\s+{_EARLIER}\s+{_CASE_NOUN}\b"
    rf"|\b(?:calling|call|phoning|ringing|following\s+up|follow\s+up|checking|check)\s+(?:in\s+)?"
    rf"(?:about|on|regarding|with)\s+(?:{_EARLIER}\s+{_CASE_NOUN}\b|{_CASE_NOUN}\s+(?:number\s+|no\s+|id\s+)?\d)"
    r"|\b(?:i|we)\s+(?:already|previously|recently)\s+(?:called|phoned|rang|emailed|wrote|reached\s+out|"
    r"contacted\s+(?:you|support)|(?:opened|submitted|raised|logged|filed|sent|created)\s+(?:a|an)\s+"
    r"(?:ticket|case|request|support\s+(?:ticket|case|request)))"
    # a call or a case at a time before this call: "I called yesterday about my ticket", "I opened a ticket last week"
    rf"|\b(?:i|we)\s+(?:called|phoned|rang|spoke\s+(?:to|with)\s+(?:someone|somebody|an\s+agent)|"
    rf"talked\s+to\s+(?:someone|somebody|an\s+agent))\s+(?:you\s+)?{_WHEN}\b"
    rf"|\b(?:i|we)\s+(?:opened|submitted|raised|logged|filed|created|sent\s+in)\s+(?:a|an)\s+"
    rf"(?:ticket|case|request|support\s+(?:ticket|case|request))\s+{_WHEN}\b"
    r"|\b(?:i|we|ive|weve|and)\s+(?:still\s+)?(?:havent|have\s+not|never|didnt|did\s+not)\s+"
    r"(?:heard|hear|gotten|got|get|had)\s+(?:anything\s+|a\s+reply\s+|an\s+answer\s+|a\s+response\s+)?back\b"
    r"|\b(?:nobody|no\s+one|noone)\s+(?:has\s+|ever\s+|have\s+)?(?:(?:got|gotten|get|came|come)\s+back\s+to|"
    r"(?:called|phoned|rang)(?:\s+back)?)\s+(?:me|us)\b"
    r"|\b(?:nobody|no\s+one|noone)\s+(?:has\s+|ever\s+)?(?:replied|responded|answered)\s+to\s+"
    r"(?:me|us|my|our)\b"
)


def follows_up_on_case(text: str | None) -> bool:
    """Does the caller call about a support case they already opened, rather than ask a new question?

    No help-center article answers "what's the status of my ticket?" (the lexical search read "email" in "I sent
    an email yesterday and nobody got back to me" and answered with the article on connecting a support mailbox):
    the team that has the case must. Tickets and cases in the caller's own helpdesk ("ticket 123 disappeared from
    my inbox", "how do I reopen a case?") are questions about the product, and are searched as usual.

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` for the status of, an update on, or a call about the caller's case ("what's the status of my
        ticket?", "I'm calling about case number 45678", "I'm following up on my support request"), a case opened
        or a call made before ("I already emailed", "we previously opened a ticket") and no reply since ("I
        haven't heard back", "nobody got back to me"); ``False`` for a how-to question and for a negated one.

    Raises:
        Nothing.
    """
    tokens = normalize(text)
    words = " ".join(tokens)
    if not words or _HOW_TO_RE.match(words):
        return False
    for match in _FOLLOW_UP_RE.finditer(words):
        if not _negated(tokens, len(words[: match.start()].split())):  # not "I'm not calling about my ticket"
            return True
    return False


def case_number(text: str | None) -> str | None:
    """The case number the caller gives ("case number 4 5 6 7 8", "ticket 12345"): its digits, 2 to 12 of them,
    or ``None``.

    Raises:
        Nothing.
    """
    match = _CASE_NUMBER_RE.search(" ".join(normalize(text)))
    return match.group(1).replace(" ", "") if match else None


# --------------------------------------------------------------------------
# "hold on, let me check" and "I'll try that later"
# --------------------------------------------------------------------------

_PAUSE_FILLER = r"(?:(?:ok|okay|yes|yeah|sure|right|alright|all\s+right|um+|uh+|er+|oh|so|sorry|please|just|and)\s+)*"
_MOMENT = r"(?:moment|second|sec|minute|min|mo)"
_LET_ME = (r"let\s+me\s+(?:just\s+)?(?:check|see|look|try|test|find|get|grab)"
           r"(?:\s+(?:it|that|this|them|my\s+email|it\s+out|that\s+out|this\s+out|it\s+up|for\s+it|the\s+address))?"
           r"(?:\s+(?:now|quickly|quick|real\s+quick|right\s+now))?")
#: The caller is trying the answer as we speak: "I'm trying it now", "I'm just checking".
_DOING_IT_NOW = (r"(?:im|i\s+am)\s+(?:just\s+)?(?:trying|checking|testing|doing|looking\s+at)"
                 r"(?:\s+(?:it|that|this|it\s+out|that\s+out|them|the\s+steps))?(?:\s+(?:now|right\s+now))?")
_WAIT_RE = re.compile(
    rf"{_PAUSE_FILLER}(?:"
    r"(?:(?:hold|hang)\s+on|wait)(?:\s+(?:a\s+)?(?:moment|second|sec|minute))?"
    rf"|(?:(?:just|give\s+me|gimme)\s+)?(?:a|one)\s+{_MOMENT}"
    rf"|bear\s+with\s+me|hold\s+please|{_LET_ME}|{_DOING_IT_NOW}"
    rf")(?:\s+(?:please|thanks|thank\s+you|hold\s+on|hang\s+on|wait|{_LET_ME}|{_DOING_IT_NOW}|(?:a|one)\s+{_MOMENT}|"
    r"now))*"
)
_LATER = (r"(?:later(?:\s+(?:on|today|tonight))?|tomorrow|after\s+(?:the|this)\s+call|in\s+a\s+(?:bit|while)|"
          r"(?:when|once)\s+(?:i|im|i\s+am|we|were)\s+(?:(?:get|am|are)\s+)?"
          r"(?:(?:back|home)(?:\s+(?:to|at)\s+(?:my|the)\s+"
          r"(?:desk|computer|office|laptop))?|at\s+(?:my|the)\s+(?:desk|computer|office|laptop)|in\s+the\s+office)|"
          r"on\s+monday|next\s+week)")
_DEFER_RE = re.compile(
    rf"{_PAUSE_FILLER}(?:"
    r"(?:i\s+will|ill|i\s+ll|im\s+going\s+to|i\s+am\s+going\s+to|i\s+have\s+to|i\s+need\s+to|ill\s+have\s+to|"
    r"id\s+have\s+to|well|we\s+will|i\s+can|i\s+could)\s+"
    r"(?:(?:try|test|check|do)(?:\s+(?:it|that|this|those\s+steps|it\s+out|that\s+out))?\s+" + _LATER +
    r"|(?:give\s+it\s+a\s+(?:go|try|shot))(?:\s+" + _LATER + r")?"
    r"|let\s+you\s+know(?:\s+" + _LATER + r")?)"
    r"|(?:i\s+will|ill|i\s+ll)\s+(?:try|test)\s+(?:it|that|this)(?:\s+out)?"
    # "I'll do that", "I'll try", "I'll give that a go", "will do", "I'll have a look": the steps are still to be done
    r"|(?:i\s+will|ill|i\s+ll)\s+(?:do|try)(?:\s+(?:it|that|this|those\s+steps|them))?"
    r"|(?:i\s+will|ill|i\s+ll)\s+give\s+(?:that|this|them)\s+a\s+(?:go|try|shot)"
    r"|will\s+do|(?:i\s+will|ill|i\s+ll)\s+(?:have|take)\s+a\s+look(?:\s+at\s+(?:it|that|this))?"
    r"|(?:i\s+)?(?:dont|do\s+not)\s+know\s+yet|(?:im\s+|i\s+am\s+)?not\s+sure\s+yet"
    r"|i\s+(?:havent|have\s+not)\s+(?:tried|done|checked|tested)\s+(?:it|that|this)?\s*yet"
    r"|i\s+(?:cant|can\s+not|cannot)\s+(?:try|test|check|do)\s+(?:it|that|this)\s+(?:right\s+)?now"
    r"|(?:ill|i\s+will)\s+(?:try|test|check)\s+(?:it|that|this)\s+(?:out\s+)?and\s+(?:see|call\s+(?:you\s+)?back)"
    # the steps are someone else's to do: "I'll have to check with my IT team", "I need to ask my admin"
    r"|(?:i\s+will|ill|i\s+ll|i\s+have\s+to|ill\s+have\s+to|id\s+have\s+to|i\s+need\s+to|i\s+ll\s+need\s+to|"
    r"ill\s+need\s+to|i\s+must|let\s+me|i\s+should)\s+(?:check|talk|speak|ask|discuss\s+(?:it|this|that))"
    r"(?:\s+(?:with|to)\s+(?:(?:my|our|the)\s+)?|\s+(?:my|our|the)\s+)"
    r"(?:it(?:\s+(?:team|department|guys|people))?|admin|administrator|"
    r"admins|boss|manager|team|colleague|colleagues|account\s+owner|owner|tech\s+team|developers?)"
    r"(?:\s+(?:first|about\s+(?:it|that|this)|" + _LATER + r"))*"
    # "I'll call back later", "I'll call you back if it doesn't work"
    r"|(?:i\s+will|ill|i\s+ll|i\s+can|i\s+could)\s+(?:just\s+)?(?:call|ring|phone)\s+(?:you\s+)?back"
    r"(?:\s+(?:" + _LATER + r"|if\s+(?:it\s+)?(?:doesnt|does\s+not|didnt|did\s+not)\s+work|if\s+i\s+need\s+to|if\s+not|"
    r"if\s+(?:i\s+)?(?:have|need)\s+(?:to|any\s+more\s+(?:questions|problems)|more\s+questions)))*"
    r")(?:\s+(?:thanks|thank\s+you|please|though|anyway|then))*"
)


def asks_to_wait(text: str | None) -> bool:
    """Does the caller ask for a moment ("hold on", "one second", "let me check")?

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer asks to wait or says the caller is checking now (fillers such as "ok",
        "sorry", "please" aside); ``False`` for anything more ("hold on, it's jane at example dot com", "let me
        check my invoice, how do I ...").

    Raises:
        Nothing.
    """
    return _says_only(_WAIT_RE, text)


#: Sounds of a caller thinking, and the words that go with them: "um", "hmm", "erm", "uh, so", "well um".
_HESITATION_SOUNDS = r"u+m+|u+h+m*|h+m+|m{2,}|e+r+m*|a+h+m*|e+h+|o+h+|so|well|like"
_HESITATION_RE = re.compile(
    rf"(?:(?:{_HESITATION_SOUNDS}|and|okay|ok|right|let\s+me\s+(?:see|think))(?:\s+|$))+"
)
_HESITATION_SOUND_RE = re.compile(rf"\b(?:{_HESITATION_SOUNDS})\b")


def hesitates(text: str | None) -> bool:
    """Is the answer only the sound of a caller thinking ("um", "hmm", "erm", "uh, so", "well")?

    Twilio's speech recognition returns such sounds as the SpeechResult when the caller pauses after one: searched,
    "um" heard "Could you tell me a little more about that?", and "hmm" for a name gave "Thanks, Hmm.".

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when every word is a hesitation sound or a filler that goes with one ("so", "well", "okay", "let me
        see") and at least one is not "okay" or "right"; ``False`` for anything more, for "uh huh" and "mm hmm" (a
        yes, :func:`yes_no`), and for empty text.

    Raises:
        Nothing.
    """
    words = " ".join(normalize(text))
    return bool(words) and _HESITATION_RE.fullmatch(words) is not None and \
        _HESITATION_SOUND_RE.search(words) is not None and yes_no(text) is None


def defers_answer(text: str | None) -> bool:
    """At "Did that solve your issue?": does the caller say they will only know later ("I'll try that later",
    "I'll give it a go", "I don't know yet", "I haven't tried it yet")?

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer puts the check off; ``False`` for a yes or a no, a bare "I'm not sure", and
        anything more.

    Raises:
        Nothing.
    """
    return _says_only(_DEFER_RE, text)


# --------------------------------------------------------------------------
# "partly", "thanks anyway": the answer fell short
# --------------------------------------------------------------------------

#: "I did that already", "I already tried that", "I've tried all that": the answer's steps were tried before.
_TRIED_FILLER = r"(?:(?:yes|yeah|yep|well|but|um+|uh+|er+|oh|sorry|actually)\s+)*"
_TRIED_WHO = r"(?:(?:i|we|ive|weve|i\s+have|we\s+have|id|i\s+had)\s+)?"
_TRIED_WHAT = (r"(?:that|it|this|those|these|them|everything|all\s+(?:of\s+)?(?:that|those|this|them|it|the\s+steps)|"
               r"(?:those|these|the|all\s+the|all\s+those)\s+steps)")
_SHORT_FILLER = r"(?:(?:well|um+|uh+|er+|hmm+|oh|i\s+mean|i\s+guess|i\s+suppose|i\s+think|it|that|did|does|helped|worked|only|just)\s+)*"
_FELL_SHORT_RE = re.compile(
    rf"{_SHORT_FILLER}(?:"
    r"(?:sort\s+of|kind\s+of|sorta|kinda|partly|partially|somewhat|a\s+little|halfway|half\s+way|more\s+or\s+less|"
    r"so\s+so|in\s+part|to\s+some\s+extent|some\s+of\s+it|half\s+of\s+it|a\s+bit)"
    r"(?:\s+(?:but\s+not\s+(?:really|completely|entirely|all\s+of\s+it)|i\s+guess|i\s+suppose|maybe))?"
    r"|(?:(?:ok|okay|well|oh|no)\s+)*(?:thanks|thank\s+you|cheers)(?:\s+(?:very\s+much|so\s+much))?\s+any\s*ways?"
    r"|(?:(?:ok|okay|well|oh|no)\s+)*(?:never\s*mind|forget\s+it)(?:\s+(?:thanks|thank\s+you|then))*"
    rf"|{_TRIED_FILLER}(?:"
    rf"{_TRIED_WHO}already\s+(?:did|done|tried|followed)\s+{_TRIED_WHAT}"
    rf"|{_TRIED_WHO}(?:did|done|followed)\s+{_TRIED_WHAT}\s+(?:already|before|earlier|yesterday)"
    rf"|{_TRIED_WHO}tried\s+{_TRIED_WHAT}"
    r"|thats\s+(?:exactly\s+)?what\s+(?:i|we)\s+(?:did|tried|(?:have|ve)\s+(?:done|tried))"
    r"|been\s+there\s+done\s+that"
    r")(?:\s+(?:already|before|earlier|yesterday|too|twice|before\s+i\s+called|before\s+calling|"
    r"(?:a\s+few|several|many|so\s+many)\s+times|more\s+than\s+once|thanks|thank\s+you))*"
    r")"
)


def answer_fell_short(text: str | None) -> bool:
    """At "Did that solve your issue?": does the caller say it only partly did ("sort of", "partly", "kind of",
    "somewhat"), thank us for trying ("thanks anyway", "never mind, thanks"), or say they had tried it before ("I
    did that already", "I already tried that", "I've tried all that", "that's what I did")?

    :func:`yes_no` finds neither a yes nor a no in most of these ("ok, thanks anyway" it reads as a yes), and asking
    again for a yes or a no does not help the caller: the issue is not solved, so the call is passed to a person as
    a no.

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer (fillers such as "well", "I guess", "it did" aside) says the answer helped
        only in part, thanks us "anyway", or that its steps were tried already ("I did that" alone is no such
        answer: it may say the steps worked); ``False`` for anything more ("what kind of plan do I need?", "sort of,
        but how do I export my cases?"), for a yes or a no, and for empty text.

    Raises:
        Nothing.
    """
    return _says_only(_FELL_SHORT_RE, text)


_OUTCOME_FILLER = (r"(?:(?:ok|okay|oh|yeah|yep|great|right|alright|all\s+right|good|well|so|and|i\s+think|"
                   r"i\s+believe|looks\s+like|it\s+looks\s+like|seems\s+like)\s+)*")
_OUTCOME_TAIL = r"(?:\s+(?:now|again|then|already|thanks|thank\s+you|cheers|so\s+thanks|great|perfect|yes|yeah))*"
#: "it's working now", "that did it", "I can log in now", "problem solved", "all sorted", "that's fine".
_SUCCESS_RE = re.compile(
    rf"{_OUTCOME_FILLER}(?:"
    r"(?:it|that|this|everything)\s+(?:works|worked|is\s+working|s\s+working|did\s+it|did\s+the\s+trick|"
    r"fixed\s+it|sorted\s+it(?:\s+out)?|solved\s+it|helped|is\s+fine|s\s+fine|is\s+fixed|s\s+fixed|"
    r"is\s+sorted|s\s+sorted|is\s+solved|s\s+solved)"
    r"|its\s+(?:working|fine|fixed|sorted|solved)|thats\s+(?:fine|it\s+sorted|sorted|done\s+it)"
    r"|(?:i|we)\s+(?:can|could)\s+(?:log|sign)\s*(?:in|on)(?:\s+(?:fine|again))?"
    r"|(?:i|we)\s+(?:got|am|m|are|re)\s+in|im\s+in|got\s+in|(?:im|i\s+am|we\s+are|were)\s+(?:back\s+)?in"
    r"|(?:problem|issue)\s+(?:solved|fixed|sorted)|(?:all\s+)?(?:sorted|fixed|solved)|all\s+set|good\s+to\s+go"
    rf"){_OUTCOME_TAIL}"
)
#: "same problem", "still the same", "it still does the same thing".
_SAME_PROBLEM_RE = re.compile(
    rf"{_OUTCOME_FILLER}(?:no\s+)?(?:"
    r"(?:(?:its|it\s+is|thats|that\s+is)\s+)?(?:still\s+)?(?:the\s+)?same\s+(?:problem|issue|thing|error|message)"
    r"(?:\s+(?:as\s+before|again))?"
    r"|(?:its|it\s+is)\s+still\s+the\s+same|still\s+the\s+same"
    r"|(?:it|that)\s+still\s+(?:does|says|shows|gives\s+me)\s+the\s+same(?:\s+(?:thing|error|message))?"
    r")(?:\s+(?:sorry|unfortunately|i\s+m\s+afraid|im\s+afraid))*"
)


def reports_success(text: str | None) -> bool:
    """At "Did that solve your issue?": does the caller say it works now ("it's working now", "that did it", "I can
    log in now", "problem solved", "all sorted", "that's fine")? :func:`yes_no` finds no yes word in these, and the
    caller was asked to say yes or no.

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer says so (fillers such as "ok", "great", "now", "thanks" aside); ``False`` for
        anything more ("it works now but how do I ...") and for empty text. A negation ("it's not working") is read
        by :func:`yes_no` first.

    Raises:
        Nothing.
    """
    return _says_only(_SUCCESS_RE, text)


def same_problem(text: str | None) -> bool:
    """At "Did that solve your issue?": does the caller say nothing changed ("same problem", "still the same", "it
    still says the same thing")? :func:`yes_no` finds no "no" in these.

    Args:
        text: speech transcript (may be ``None``).

    Returns:
        ``True`` when the whole answer says so; ``False`` for anything more and for empty text.

    Raises:
        Nothing.
    """
    return _says_only(_SAME_PROBLEM_RE, text)


_BUT_RE = re.compile(r"[\s,;.!-]*\bbut\b[\s,;:.!-]*", re.IGNORECASE)


def partly_but(text: str | None) -> str | None:
    """At "Did that solve your issue?": what follows "but" when the answer before it says the answer helped only in
    part (:func:`answer_fell_short`): "sort of, but how do I share it with my team?" gives "how do I share it with my
    team?", "partially, but I still can't log in" gives "I still can't log in".

    Args:
        text: speech transcript (may be ``None``); only the first :data:`MAX_TEXT_CHARS` characters are looked at.

    Returns:
        The words after the first "but", as said, or ``None`` when there is no "but", nothing after it, or the part
        before it is not an answer that fell short ("yes but ...", "no but ...": :func:`yes_no` reads those).

    Raises:
        Nothing.
    """
    if not isinstance(text, str):
        return None
    text = text[:MAX_TEXT_CHARS]
    but = _BUT_RE.search(text)
    if but is None or not answer_fell_short(text[:but.start()]):
        return None
    return text[but.end():].strip() or None


#: Where a message on the caller's screen begins: "I get an error saying ...", "it says ...", "a message that reads
#: ...", "it comes up with ...". Past tense is left out: "the agent said I should call" tells what a person said;
#: "pop-ups aren't showing up" shows no message.
_MESSAGE_CUE_RE = re.compile(
    r"\b(?:says|saying|reads|reading|(?:shows|showing)(?!\s+up\b)|tells\s+me|telling\s+me|comes\s+up\s+with|"
    r"pops\s+up\s+with)(?:\s+that)?\b[\s,:;\"'“”‘’-]*",
    re.IGNORECASE,
)
#: A message of fewer words than this says too little to search by itself ("it says no").
MIN_MESSAGE_WORDS = 2


def screen_message(text: str | None) -> str | None:
    """The message a caller reads out from their screen: "I get an error saying my account is locked" gives "my
    account is locked", "no, it says 'too many sign-in attempts'" gives "too many sign-in attempts".

    Callers frame an error message in words ("I get an error saying", "there's a message that says") that no article
    uses, and they weigh on the KB search: the whole question can fall below the cutoff while the message alone
    finds its article (the conversation searches the message when the question misses).

    Args:
        text: speech transcript (may be ``None``); only the first :data:`MAX_TEXT_CHARS` characters are looked at.

    Returns:
        The words after the first cue ("says", "saying", "reads", "shows", "tells me", "comes up with"; quotes and
        punctuation stripped) when there are at least :data:`MIN_MESSAGE_WORDS` of them, else ``None``.

    Raises:
        Nothing.
    """
    if not isinstance(text, str):
        return None
    text = text[:MAX_TEXT_CHARS]
    cue = _MESSAGE_CUE_RE.search(text)
    if cue is None:
        return None
    message = text[cue.end():].strip(" \t\"'“”‘’.,;:!?-")
    return message if len(_WORD_RE.findall(message)) >= MIN_MESSAGE_WORDS else None
