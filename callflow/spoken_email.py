"""Turn a speech-recognizer transcript of a spoken e-mail address into an address.

Callers on the phone say their e-mail address in many ways, and the recognizer
(Twilio ``<Gather input="speech">``, posted as ``SpeechResult``) writes what it
heard in many ways too: ``"john.smith@gmail.com"``, ``"John Smith at gmail.com"``,
``"j o h n dot smith at g mail dot com"``, ``"J. O. H. N."``, ``"j-o-h-n"``,
``"b as in boy"``, ``"double o seven"``, ``"twenty twenty four"``...

Approach
--------
:func:`parse_spoken_email` does not try to understand language.  It runs the
transcript through a fixed series of token passes, each undoing one habit of
speech or of the recognizer, then checks the result with ``email_validator``:

1. **Normalise** - Unicode NFKC, casefold (a caller cannot convey letter case),
   apostrophes removed (``it's`` -> ``its``), ``e-mail`` -> ``email``,
   ``double-u`` -> ``w``, ``at-sign`` -> ``@``.
2. **Tokenise** into words and the symbol tokens ``@ . _ - +``.  A period is a
   literal dot only *inside* a chunk (``john.smith``); a period ending a chunk is
   sentence punctuation (``"gmail.com."``).  ``J.O.H.N.`` and ``j-o-h-n`` are
   letter-by-letter spelling.
3. **Drop filler**: hesitations (``um``, ``uh``), instructions (``all one
   word``, ``no spaces``, ``all lowercase``), and everything up to the last
   introduction (``my email is``, ``it's``, ``that's``, ``you can reach me at``)
   that is still followed by an "at"; leading ``yeah``/``sure``/``ok`` and
   trailing ``thanks``/``thank you``/``bye``.
   **Self-corrections** ("sorry", "I mean", "no wait", "scratch that") cut the
   transcript: what follows replaces the matching part of what came before
   (``john at gmail sorry hotmail dot com`` -> ``john@hotmail.com``; a whole
   address replaces all, ``at ...`` the domain, ``dot co dot uk`` the suffix).
   If the corrected text makes no address, the part said first is tried.
4. **Spoken symbols**: ``at sign``/``at symbol``/``at the rate`` -> ``@``;
   ``dot``/``period``/``point``/``full stop`` -> ``.``; ``underscore``;
   ``dash``/``hyphen``/``minus`` -> ``-``; ``plus``; ``dotcom`` -> ``. com``;
   ``capital``/``uppercase`` are dropped.
5. **Spelling aids**: ``b as in boy`` / ``m for mary`` / ``m like mary`` -> ``m``
   (for ``for``/``like`` the example word must start with the letter, so a ``for``
   that means "4" is not swallowed); ``double``/``triple`` + letter or digit.
6. **Digits**: ``zero``..``nine``, ``ten``..``nineteen``, tens with an optional
   unit (``twenty four`` -> ``24``, so ``twenty twenty four`` -> ``2024``),
   ``hundred``/``thousand`` (``two thousand five`` -> ``2005``).  ``oh`` is the
   digit 0 next to digits and the letter o otherwise.
7. **Letter names** (``bee``, ``see``, ``dee``, ``jay``, ``why``, ``ex``,
   ``you``...) become letters only inside a run of at least two letters or
   letter names, so ``jay smith`` stays ``jaysmith`` but ``jay oh aitch en`` is
   ``john``.  A word followed by its own spelling (``tom t o m``, ``jon j o h n``)
   is said once: the spelling wins, also when the word is a letter name
   (``jay j a y`` is ``jay``, not ``jjay``).
8. **Split** on the last explicit ``@``; otherwise on the *last* standalone
   ``at`` whose tail looks like a domain (has a dot, ends in an undotted ``com``
   and the like, see 9, or is a well-known provider such as ``gmail``), so
   ``pat at gmail dot com`` -> ``pat@gmail.com``.  With no "at" at all, a
   trailing well-known provider word supplies the split (``john smith gmail dot
   com``), unless a provider or "not" comes before it (``hotmail not gmail``).
9. **Assemble**: spaces inside the local part and inside domain labels are
   removed (``g mail`` -> ``gmail``), common mis-hearings of provider names are
   repaired (``gee mail``, ``hot mail``, ``out look``), a bare well-known provider
   gets ``.com``, and anything after a recognised top-level domain is ignored.
   A domain with no "dot" heard that ends in ``com``/``net``/``org``/``edu``/
   ``gov``/``uk``/``au``/``nz`` gets the dot back (``gmail. Com.``, where the
   recogniser took the period for the end of a sentence; ``acme co uk``).
10. **Validate** with ``email_validator.validate_email(...,
    check_deliverability=False)`` (RFC 5321/5322 syntax, no DNS), require an
    ASCII address and an alphabetic top-level domain of two or more letters, and
    return it lower-cased.

At the read-back, :func:`correct_spoken_email` also understands an answer that
fixes one part of the address ("no, it's at hotmail dot com", "no, it's j o h n").

Anything that does not survive is ``None``: the caller of this module should
then re-prompt, offer the keypad, or hand over to an agent.  Every accepted
address should be confirmed with the caller using :func:`readback`.

No personal data is logged by this module.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

from email_validator import EmailNotValidError, validate_email

from .phrases import by_first_word, phrase_at, remove_phrases, replace_phrases

__all__ = ["parse_spoken_email", "correct_spoken_email", "readback", "MAX_TRANSCRIPT_CHARS"]

#: Transcripts longer than this (characters) are rejected outright.  A spoken
#: address spelled with "x as in y" for every one of its at most 254 characters
#: is the realistic upper bound; anything longer is not an address.
MAX_TRANSCRIPT_CHARS = 1500

_SYMBOLS = frozenset({"@", ".", "_", "-", "+"})

# --------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------

_HESITATIONS = frozenset(
    {"um", "umm", "ummm", "uhm", "uh", "uhh", "er", "erm", "hmm", "hm", "mm", "ah", "eh"}
)

# Phrases that carry no characters and may appear anywhere.
_REMOVABLE_PHRASES = frozenset([
    ("all", "in", "one", "word"),
    ("all", "one", "word"),
    ("as", "one", "word"),
    ("one", "word"),
    ("no", "spaces"),
    ("no", "space"),
    ("without", "spaces"),
    ("without", "any", "spaces"),
    ("all", "together"),
    ("altogether",),
    ("all", "in", "lower", "case"),
    ("all", "in", "lowercase"),
    ("all", "lower", "case"),
    ("all", "lowercase"),
    ("all", "small", "letters"),
    ("in", "small", "letters"),
    ("small", "letters"),
    ("lowercase", "letters"),
    ("all", "caps"),
    ("space",),
    ("the", "letter"),
    ("letter",),
    ("the", "number"),
    ("number",),
])

# Introductions: everything up to and including the last of these is dropped
# (as long as an "at"/"@" still follows).
_INTRO_PHRASES = frozenset([
    ("my", "email", "address", "is"),
    ("my", "e", "mail", "is"),
    ("my", "email", "is"),
    ("my", "address", "is"),
    ("the", "email", "address", "is"),
    ("the", "email", "is"),
    ("the", "address", "is"),
    ("email", "address", "is"),
    ("email", "is"),
    ("address", "is"),
    ("my", "email", "address"),
    ("my", "email"),
    ("email", "address"),
    ("mine", "is"),
    ("its",),
    ("it", "is"),
    ("thats",),
    ("that", "is"),
    ("it", "should", "be"),
    ("should", "be"),
    ("you", "can", "reach", "me", "at"),
    ("reach", "me", "at"),
    ("email", "me", "at"),
    ("contact", "me", "at"),
    ("send", "it", "to"),
    ("try",),
    ("i", "said"),
    ("like", "i", "said"),
    ("i", "think", "its"),
    ("same", "as"),  # "it's the same as my name at gmail" (see with_name_parts)
    ("email",),  # "Bob, email bob at example dot com"; "email at acme dot com" is the address (_LOCAL_PART_TOO)
])

_LEADING_FILLERS = frozenset(
    {
        "yeah", "yes", "yep", "yup", "sure", "ok", "okay", "so", "well", "hi",
        "hello", "alright", "right", "and", "actually", "basically", "um", "uh",
        # a correction of the read-back: "No, jane at example dot com" is not "nojane@"
        "no", "nope", "nah", "sorry", "wait", "oops",
    }
)

_TRAILING_PHRASES = [
    ("thank", "you", "very", "much"),
    ("thank", "you", "so", "much"),
    ("thanks", "a", "lot"),
    ("thank", "you"),
    ("thanks",),
    ("please",),
    ("bye",),
    ("goodbye",),
    ("thats", "it"),
    ("thats", "all"),
    ("that", "is", "it"),
    ("ok",),
    ("okay",),
    ("yeah",),
    ("is", "my", "email", "address"),
    ("is", "my", "email"),
    ("is", "my", "address"),
    ("thats", "my", "email"),
    ("is", "the", "email"),
]

_SYMBOL_PHRASES = {
    ("at", "the", "rate", "of"): ["@"],
    ("at", "the", "rate", "sign"): ["@"],
    ("at", "the", "rate"): ["@"],
    ("at", "rate"): ["@"],
    ("at", "sign"): ["@"],
    ("at", "symbol"): ["@"],
    ("at", "character"): ["@"],
    ("@", "sign"): ["@"],
    ("@", "symbol"): ["@"],
    ("dot",): ["."],
    ("period",): ["."],
    ("point",): ["."],
    ("full", "stop"): ["."],
    ("underscore",): ["_"],
    ("under", "score"): ["_"],
    ("underline",): ["_"],
    ("dash",): ["-"],
    ("hyphen",): ["-"],
    ("minus",): ["-"],
    ("plus", "sign"): ["+"],
    ("plus",): ["+"],
}

_CASE_MODIFIERS = frozenset({"capital", "cap", "uppercase", "upper", "big", "small", "lowercase", "lower"})

# Spoken names of letters and the homophones recognisers write for them.
# "oh" is handled separately (letter o or digit 0 depending on context) and
# "double u" is rewritten to "w" before tokenising.
_LETTER_NAMES = {
    "ay": "a", "aye": "a",
    "bee": "b", "be": "b",
    "see": "c", "sea": "c", "cee": "c",
    "dee": "d",
    "ee": "e",
    "ef": "f", "eff": "f",
    "gee": "g", "jee": "g",
    "aitch": "h", "haitch": "h",
    "eye": "i",
    "jay": "j",
    "kay": "k",
    "el": "l", "ell": "l", "elle": "l",
    "em": "m",
    "en": "n",
    "owe": "o",
    "pee": "p", "pea": "p",
    "queue": "q", "cue": "q", "kyu": "q",
    "ar": "r", "are": "r",
    "es": "s", "ess": "s",
    "tee": "t", "tea": "t",
    "you": "u", "yu": "u",
    "vee": "v",
    "ex": "x",
    "why": "y", "wye": "y",
    "zee": "z", "zed": "z",
}

_UNITS = {
    "zero": 0, "nought": 0, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
_NUMBER_WORDS = frozenset(_UNITS) | frozenset(_TEENS) | frozenset(_TENS) | {"hundred", "thousand"}

# Well-known mailbox providers.  A bare provider gets ".com" appended and a
# trailing provider word can stand in for a missing "at".
_PROVIDERS_DOT_COM = frozenset(
    {"gmail", "googlemail", "hotmail", "outlook", "yahoo", "aol", "icloud", "protonmail", "ymail"}
)

# Recogniser spellings of provider names, after spaces have been removed.
_DOMAIN_LABEL_FIXES = {
    "geemail": "gmail", "gmale": "gmail", "g-mail": "gmail", "jeemail": "gmail",
    "geemale": "gmail", "googlemale": "googlemail",
    "hotmale": "hotmail", "hot-mail": "hotmail",
    "out-look": "outlook",
    "yahu": "yahoo", "yawho": "yahoo", "ya-hoo": "yahoo",
    "i-cloud": "icloud", "eyecloud": "icloud",
    "protonmale": "protonmail",
}

# Top-level domains a caller is likely to say as a word.  When the last label
# starts with one of these, any words after it are ignored ("... dot com is my
# email").  Mis-hearings of "com" are repaired.
_KNOWN_TLDS = frozenset(
    {
        "com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "io", "co",
        "uk", "us", "ca", "au", "nz", "ie", "de", "fr", "es", "it", "nl", "in", "me",
        "ai", "app", "dev", "tv", "eu", "ch", "se", "no", "dk", "be", "at", "jp", "br", "mx",
    }
)
_TLD_FIXES = {"come": "com", "calm": "com", "comm": "com"}

# Top-level domains a recogniser writes as a separate word with no "dot" ("gmail. Com.": the period is
# taken as sentence punctuation; "anna at gmail com"), and the second-level labels said before a
# country code ("acme co uk").
_UNDOTTED_TLDS = frozenset({"com", "net", "org", "edu", "gov", "uk", "au", "nz"})
_SECOND_LEVEL_BEFORE_CC = frozenset({"co", "com", "org", "net", "ac", "gov"})

# Self-corrections said in the middle of an address ("john at gmail, sorry, hotmail dot com").  What
# follows one replaces the matching part of what came before it (see _apply_correction).  "no" alone
# is not one: "no reply at ..." is an address.
_CORRECTION = "\x00correction"
_CORRECTION_PHRASES = frozenset([
    ("sorry", "i", "mean"),
    ("sorry", "i", "meant"),
    ("i", "mean", "to", "say"),
    ("i", "meant", "to", "say"),
    ("i", "mean"),
    ("i", "meant"),
    ("no", "wait"),
    ("no", "sorry"),
    ("sorry",),
    ("wait",),
    ("oops",),
    ("scratch", "that"),
    ("or", "rather"),
    ("my", "mistake"),
    ("my", "bad"),
    ("correction",),
])

# Words that open the corrected part of an answer ("no, it's ...", "yes, but it's ...").
_ANSWER_LEAD_WORDS = frozenset({"but", "except", "though", "however", "only", "just"})

# Words that show the "local part" is really a sentence about something else.
_SENTENCE_WORDS = frozenset(
    {
        "need", "help", "with", "have", "cant", "cannot", "dont", "doesnt", "not",
        "problem", "password", "account", "trouble", "issue", "working", "want",
        "because", "about", "the", "my", "your", "this", "know", "think", "log",
        "login", "reset", "work", "works",
    }
)

_LETTER_DOTS_RE = re.compile(r"(?:[a-z]\.){2,}")
_LETTER_DASHES_RE = re.compile(r"[a-z0-9](?:-[a-z0-9])+")
_DOTWORD_RE = re.compile(r"dot(com|net|org|edu|gov|io|co|uk|us|ca)")
_PIECE_SPLIT_RE = re.compile(r"[@._+\-]|[^@._+\-]+")


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _is_letter(tok: str) -> bool:
    return len(tok) == 1 and "a" <= tok <= "z"


def _is_digit_like(tok: str) -> bool:
    return tok.isdigit() or tok in _NUMBER_WORDS


def _match_at(tokens: list[str], i: int, phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return tuple(tokens[i : i + n]) == phrase


def _normalise_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[\u2018\u2019\u02bc`\u00b4']", "", text)
    text = re.sub(r"\.{2,}", " ", text)  # ellipses are hesitation, not dots
    text = re.sub(r"\be[\s-]mail\b", "email", text)
    text = re.sub(r"\bdouble[\s-]+(?:u|you|yu)\b", " w ", text)
    text = re.sub(r"\bat[\s-]+(?:sign|symbol)\b", " @ ", text)
    text = re.sub(r"\bunder[\s-]+score\b", " underscore ", text)
    text = re.sub(r"\bat\s*&\s*t\b", "att", text)  # AT&T's att.net, before "&" becomes a space and "at at" a stutter
    return text


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    text = re.sub(r"[^\w@.+\-]", " ", text)
    for piece in text.split():
        if _LETTER_DOTS_RE.fullmatch(piece):  # "j.o.h.n." spelled with periods
            tokens.extend(piece.replace(".", ""))
            continue
        if _LETTER_DASHES_RE.fullmatch(piece):  # "j-o-h-n"
            tokens.extend(piece.split("-"))
            continue
        if len(piece) > 1:
            piece = piece.rstrip(".")  # sentence full stop / "J." initial
        tokens.extend(_PIECE_SPLIT_RE.findall(piece))
    return tokens


def _find_at_positions(tokens: list[str]) -> list[int]:
    return [i for i, t in enumerate(tokens) if t in ("at", "@")]


#: Intro phrases that are the whole local part when the "at" follows at once ("email at acme dot com").
_LOCAL_PART_TOO = frozenset({("email",)})


def _cut_introduction(tokens: list[str]) -> list[str]:
    """Drop everything through the last intro phrase still followed by an "at" (one of :data:`_LOCAL_PART_TOO` only
    when words come between it and the "at")."""
    ats = _find_at_positions(tokens)
    if not ats:
        return tokens
    last_at = ats[-1]
    best_end = -1
    for i in range(len(tokens)):
        for phrase in by_first_word(_INTRO_PHRASES).get(tokens[i], ()):
            end = i + len(phrase)
            if (end < last_at or end == last_at and phrase not in _LOCAL_PART_TOO) and _match_at(tokens, i, phrase) \
                    and end > best_end:
                best_end = end
    return tokens[best_end:] if best_end >= 0 else tokens


_TRAILING_LONGEST_FIRST = sorted(_TRAILING_PHRASES, key=len, reverse=True)


def _strip_edges(tokens: list[str]) -> list[str]:
    start, end = 0, len(tokens)  # one slice at the end: "yeah yeah yeah ..." costs no copy per word
    changed = True
    while changed and start < end:
        changed = False
        if tokens[start] in _LEADING_FILLERS:
            start += 1
            changed = True
        elif tokens[start] in ("oh", "o") and end - start > 1 and tokens[start + 1] in _LEADING_FILLERS:
            start += 2
            changed = True
        else:
            for phrase in _TRAILING_LONGEST_FIRST:
                n = len(phrase)
                if end - start >= n and tuple(tokens[end - n : end]) == phrase:
                    end -= n
                    changed = True
                    break
    return tokens[start:end]


def _drop_case_modifiers(tokens: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok in _CASE_MODIFIERS and (_is_letter(nxt) or nxt in _LETTER_NAMES or nxt == "case"):
            i += 2 if nxt == "case" else 1
            continue
        if tok == "capital":
            i += 1
            continue
        out.append(tok)
        i += 1
    return out


def _split_dot_words(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for tok in tokens:
        m = _DOTWORD_RE.fullmatch(tok)
        if m:
            out.extend([".", m.group(1)])
        else:
            out.append(tok)
    return out


def _as_letter(tok: str) -> str | None:
    if _is_letter(tok):
        return tok
    if tok == "oh":
        return "o"
    return _LETTER_NAMES.get(tok)


def _spelling_aids(tokens: list[str]) -> list[str]:
    """'b as in boy' / 'm for mary' / 'm like mary' -> the letter."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        letter = _as_letter(tokens[i])
        if letter is not None:
            if (
                i + 3 < len(tokens)
                and tokens[i + 1] == "as"
                and tokens[i + 2] == "in"
                and tokens[i + 3] not in _SYMBOLS
            ):
                out.append(letter)
                i += 4
                continue
            if (
                i + 2 < len(tokens)
                and tokens[i + 1] in ("for", "like")
                and len(tokens[i + 2]) > 1
                and tokens[i + 2][0] == letter
            ):
                out.append(letter)
                i += 3
                continue
        out.append(tokens[i])
        i += 1
    return out


def _resolve_oh(tokens: list[str]) -> list[str]:
    """'oh' is 0 next to a digit, else the letter o; 'o' is 0 only in digit context.

    'o' (already a letter) counts as 0 between two digits, or after
    double/triple next to a digit ("double o seven" -> 007).
    """
    out = list(tokens)
    for i, tok in enumerate(tokens):
        if tok not in ("oh", "o"):
            continue
        repeated = i > 0 and tokens[i - 1] in ("double", "triple")
        j = i - 2 if repeated else i - 1
        prev_digit = j >= 0 and _is_digit_like(tokens[j])
        nxt_digit = i + 1 < len(tokens) and _is_digit_like(tokens[i + 1])
        if tok == "oh":
            out[i] = "0" if (prev_digit or nxt_digit) else "o"
        elif (prev_digit and nxt_digit) or (repeated and (prev_digit or nxt_digit)):
            out[i] = "0"
    return out


def _expand_repeats(tokens: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("double", "triple") and i + 1 < len(tokens):
            nxt = tokens[i + 1]
            count = 2 if tok == "double" else 3
            unit: str | None = None
            if _is_letter(nxt) or (len(nxt) == 1 and nxt.isdigit()):
                unit = nxt
            elif nxt in _LETTER_NAMES:
                unit = _LETTER_NAMES[nxt]
            elif nxt in _UNITS:
                unit = str(_UNITS[nxt])
            if unit is not None:
                out.extend([unit] * count)
                i += 2
                continue
        out.append(tok)
        i += 1
    return out


def _parse_sub100(tokens: list[str], i: int) -> tuple[int, int] | None:
    if i >= len(tokens):
        return None
    tok = tokens[i]
    if tok in _TENS:
        value = _TENS[tok]
        if i + 1 < len(tokens) and tokens[i + 1] in _UNITS and _UNITS[tokens[i + 1]] > 0:
            return value + _UNITS[tokens[i + 1]], i + 2
        return value, i + 1
    if tok in _TEENS:
        return _TEENS[tok], i + 1
    if tok in _UNITS:
        return _UNITS[tok], i + 1
    return None


def _parse_sub1000(tokens: list[str], i: int) -> tuple[int, int] | None:
    first = _parse_sub100(tokens, i)
    if first is None:
        return None
    value, j = first
    if j < len(tokens) and tokens[j] == "hundred" and 0 < value < 100:
        value *= 100
        j += 1
        k = j + 1 if j < len(tokens) and tokens[j] == "and" else j
        rest = _parse_sub100(tokens, k)
        if rest is not None:
            value += rest[0]
            j = rest[1]
    return value, j


def _parse_number(tokens: list[str], i: int) -> tuple[str, int] | None:
    first = _parse_sub1000(tokens, i)
    if first is None:
        return None
    value, j = first
    if j < len(tokens) and tokens[j] == "thousand" and 0 < value < 1000:
        value *= 1000
        j += 1
        k = j + 1 if j < len(tokens) and tokens[j] == "and" else j
        rest = _parse_sub1000(tokens, k)
        if rest is not None:
            value += rest[0]
            j = rest[1]
    return str(value), j


def _convert_numbers(tokens: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        parsed = _parse_number(tokens, i)
        if parsed is None:
            out.append(tokens[i])
            i += 1
        else:
            out.append(parsed[0])
            i = parsed[1]
    return out


def _convert_letter_names(tokens: list[str]) -> list[str]:
    """Letter names become letters only inside a run of >= 2 letters/letter names.

    A name that is also a letter name, said next to its own spelling ("jay j a y", "k a y kay"),
    stays a word, so that :func:`_drop_word_before_its_spelling` says it once ("jay", not "jjay")."""
    out = list(tokens)
    i = 0
    n = len(tokens)
    while i < n:
        if _is_letter(tokens[i]) or tokens[i] in _LETTER_NAMES:
            j = i
            while j < n and (_is_letter(tokens[j]) or tokens[j] in _LETTER_NAMES):
                j += 1
            if j - i >= 2:
                letters = [_LETTER_NAMES.get(tok, tok) for tok in tokens[i:j]]
                start, end = i, j
                if j - i >= 3 and len(tokens[i]) > 1 and _spells(tokens[i], "".join(letters[1:])):
                    start = i + 1  # "jay j a y": the word, then its spelling
                elif j - i >= 3 and len(tokens[j - 1]) > 1 and "".join(letters[:-1]) == tokens[j - 1]:
                    end = j - 1  # "j a y jay": the spelling, then the word
                out[start:end] = letters[start - i:end - i]
            i = j
        else:
            i += 1
    return out


def _spells(word: str, spelled: str) -> bool:
    """True if the letters ``spelled`` spell ``word``, a near match counting ("jon" spelled "john":
    lengths within 2 characters, similarity >= 0.75)."""
    return abs(len(spelled) - len(word)) <= 2 and SequenceMatcher(None, word, spelled).ratio() >= 0.75


_LONGEST_PROVIDER = max(len(p) for p in _PROVIDERS_DOT_COM)


def _looks_like_domain(tokens: list[str], start: int, last_inner_dot: int) -> bool:
    """Does ``tokens[start:]`` look like a domain? ``last_inner_dot`` is the index of the last "." of
    ``tokens`` that is not its last token (-1 if none).  Costs no more than the words up to the first
    ten letters after ``start``, so trying every "at" of a transcript stays linear."""
    n = len(tokens)
    if start >= n:
        return False
    if last_inner_dot > start:  # a dot inside the tail, neither its first nor its last token
        return True
    if n - start > 1 and tokens[-1] in _UNDOTTED_TLDS and tokens[-2] not in _SYMBOLS:  # "acme. Com."
        return True
    if tokens[start] in _PROVIDERS_DOT_COM:
        return True
    words: list[str] = []  # the tail's words run together ("g mail"): a provider name has at most 10 letters
    letters = 0
    for k in range(start, n):
        if tokens[k] not in _SYMBOLS:
            words.append(tokens[k])
            letters += len(tokens[k])
            if letters > _LONGEST_PROVIDER:
                return False
    return "".join(words) in _PROVIDERS_DOT_COM


def _split_address(tokens: list[str]) -> tuple[list[str], list[str]] | None:
    explicit = [i for i, t in enumerate(tokens) if t == "@"]
    if explicit:
        i = explicit[-1]
        return tokens[:i], tokens[i + 1 :]
    last_inner_dot = next((k for k in range(len(tokens) - 2, -1, -1) if tokens[k] == "."), -1)
    for i in reversed([i for i, t in enumerate(tokens) if t == "at"]):
        if _looks_like_domain(tokens, i + 1, last_inner_dot):
            return tokens[:i], tokens[i + 1 :]
    # No "at" heard: a well-known provider word can mark where the domain starts.
    # Not when a provider or "not" comes before it: "hotmail, not gmail" names a domain, no address.
    for i in range(len(tokens) - 1, 0, -1):
        if tokens[i] in _PROVIDERS_DOT_COM and tokens[i - 1] not in _SYMBOLS:
            if any(t in _PROVIDERS_DOT_COM or t == "not" for t in tokens[:i]):
                return None
            return tokens[:i], tokens[i:]
    return None


def _assemble_domain(tail: list[str]) -> str:
    labels: list[list[str]] = [[]]
    for tok in tail:
        if tok == ".":
            labels.append([])
        else:
            labels[-1].append(tok)
    while len(labels) > 1 and not labels[-1]:
        labels.pop()
    if len(labels) == 1 and len(labels[0]) > 1 and labels[0][-1] in _UNDOTTED_TLDS:  # "gmail com"
        words = list(labels[0])
        tail = [[words.pop()]]
        if tail[0][0] in ("uk", "au", "nz") and len(words) > 1 and words[-1] in _SECOND_LEVEL_BEFORE_CC:
            tail.insert(0, [words.pop()])
        labels = [words] + tail
    last = labels[-1]
    if len(labels) > 1 and len(last) > 1:
        head = _TLD_FIXES.get(last[0], last[0])
        if head in _KNOWN_TLDS:
            labels[-1] = [head]  # ignore words said after the TLD
    joined = ["".join(label) for label in labels]
    joined = [_DOMAIN_LABEL_FIXES.get(label, label) for label in joined]
    if len(joined) > 1:
        joined[-1] = _TLD_FIXES.get(joined[-1], joined[-1])
    elif joined[0] in _PROVIDERS_DOT_COM:
        joined.append("com")
    return ".".join(joined)


def _local_is_plausible(local: list[str]) -> bool:
    if not local:
        return False
    # "john at gmail dot com or john at yahoo dot com": two addresses, refuse to guess.
    last_dot = next((k for k in range(len(local) - 1, -1, -1) if local[k] == "."), -1)
    if any(tok == "at" and 0 < k < last_dot for k, tok in enumerate(local)):
        return False
    words = [t for t in local if len(t) > 1 and t not in _SYMBOLS]
    if sum(1 for t in words if t in _SENTENCE_WORDS) >= 2:
        return False
    return len(words) <= 5


def _strip_answer_lead(tokens: list[str]) -> list[str]:
    """Drop leading fillers, "but"/"except" and introductions ("it's", "it should be") from early tokens."""
    return tokens[_answer_lead_end(tokens, 0):]


def _answer_lead_end(tokens: list[str], start: int) -> int:
    """Index of the first token at or after ``start`` that is not part of an answer's lead (fillers,
    "but"/"except", introductions), see :func:`_strip_answer_lead`."""
    i = start
    while i < len(tokens):
        if tokens[i] in _LEADING_FILLERS or tokens[i] in _ANSWER_LEAD_WORDS or tokens[i] in _HESITATIONS:
            i += 1
            continue
        phrase = phrase_at(tokens, i, _INTRO_PHRASES)
        if phrase is None:
            break
        i += len(phrase)
    return i


def _mark_corrections(tokens: list[str]) -> list[str]:
    """Replace each self-correction phrase that follows something with one ``_CORRECTION`` token.

    A "no" said just before it ("gmail, no, sorry, hotmail") goes with it, and the lead of what follows
    ("sorry, it's hotmail") is dropped.  A correction phrase with nothing before it is kept as is
    (:func:`_strip_edges` has already removed leading ones).
    """
    out: list[str] = []
    i = 0
    while i < len(tokens):
        phrase = phrase_at(tokens, i, _CORRECTION_PHRASES) if out else None
        if phrase is None:
            out.append(tokens[i])
            i += 1
            continue
        while out and out[-1] in ("no", "oh"):
            out.pop()
        if out and out[-1] != _CORRECTION:
            out.append(_CORRECTION)
        i = _answer_lead_end(tokens, i + len(phrase))
    return out


def _drop_word_before_its_spelling(tokens: list[str]) -> list[str]:
    """"tom t o m" -> "t o m": a word followed by its own spelling (two or more single letters that
    match it, a near match counting: "jon" spelled "j o h n", similarity >= 0.75) is said once.
    The spelling wins.  The same for a spelling followed by the identical word ("t o m tom").
    Linear in the number of tokens."""
    runs: list[tuple[int, int]] = []  # [start, end) of each run of single letters
    i = 0
    while i < len(tokens):
        if _is_letter(tokens[i]):
            j = i
            while j < len(tokens) and _is_letter(tokens[j]):
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    drop: set[int] = set()
    for start, end in runs:
        if end - start < 2:
            continue
        spelled = "".join(tokens[start:end])
        before = tokens[start - 1] if start > 0 else ""
        after = tokens[end] if end < len(tokens) else ""
        if (
            len(before) > 1
            and before.isalpha()
            and before != "at"
            and _spells(before, spelled)
        ):
            drop.add(start - 1)
        elif after == spelled:
            drop.add(end)
    return [tok for k, tok in enumerate(tokens) if k not in drop]


def _split_at_last_at(tokens: list[str]) -> tuple[list[str], list[str]] | None:
    """The split of :func:`_split_address`, or else on the last "at"/"@" heard at all."""
    parts = _split_address(tokens)
    if parts is not None:
        return parts
    ats = _find_at_positions(tokens)
    return (tokens[: ats[-1]], tokens[ats[-1] + 1 :]) if ats else None


def _apply_correction(said: list[str], correction: list[str]) -> list[str]:
    """Tokens of ``said`` with ``correction`` (what followed "sorry", "I mean"...) put in its place.

    * a whole address ("... sorry, jon at gmail dot com") replaces everything;
    * "at <domain>" replaces the domain;
    * with a domain already said: ". <labels>" replaces everything from its first dot ("gmail dot com,
      sorry, dot co dot uk"), a lone top-level domain replaces the last label ("acme dot com, sorry,
      org"), anything else replaces the domain ("gmail, sorry, hotmail dot com");
    * before any "at": it replaces what was said ("john, sorry, jon at ...").
    """
    if not correction:
        return said
    if correction[0] in ("at", "@"):
        parts = _split_at_last_at(said)
        local = parts[0] if parts else said
        return local + ["@"] + correction[1:]
    own = _split_address(correction)
    if own is not None and own[0]:
        return correction
    parts = _split_at_last_at(said)
    if parts is None:
        return correction
    local, domain = parts
    if correction[0] == ".":
        first_dot = domain.index(".") if "." in domain else len(domain)
        return local + ["@"] + domain[:first_dot] + correction
    if "." not in correction and "".join(correction) in _KNOWN_TLDS and "." in domain:
        last_dot = len(domain) - 1 - domain[::-1].index(".")
        return local + ["@"] + domain[: last_dot + 1] + correction
    return local + ["@"] + correction


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def parse_spoken_email(text: str) -> str | None:
    """Parse a speech transcript of someone saying their e-mail address.

    Args:
        text: the recogniser's transcript (e.g. Twilio ``SpeechResult``), any
            case and punctuation, at most :data:`MAX_TRANSCRIPT_CHARS`
            characters.  Non-``str`` input is treated as unparseable.

    Returns:
        The address as a lower-case ``str`` such as ``"john.smith@gmail.com"``,
        syntax-checked by ``email_validator.validate_email(...,
        check_deliverability=False)`` (RFC 5321/5322 syntax rules; no DNS
        lookup) plus two local rules: the address must be ASCII (a caller
        cannot reliably spell accents) and its top-level domain must be
        alphabetic and at least two letters long.  ``None`` when the transcript
        cannot be turned into such an address (for instance "I don't know").
        The result is a best guess and must be confirmed with the caller (see
        :func:`readback`).

    Raises:
        Nothing: every failure, including validator errors, yields ``None``.

    The pass-by-pass rules are described in the module docstring.
    """
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TRANSCRIPT_CHARS:
        return None
    segments = _spoken_segments(text)
    tokens = segments[0]
    for correction in segments[1:]:
        tokens = _apply_correction(tokens, correction)
    # A correction that does not make an address ("... dot com, sorry about that") is not one.
    return _address_from_tokens(tokens) or (_address_from_tokens(segments[0]) if len(segments) > 1 else None)


def correct_spoken_email(text: str, previous: str) -> str | None:
    """The address a caller means when answering the read-back of ``previous`` with a correction.

    Callers fix the part that was wrong rather than say it all again, so besides a whole address
    (:func:`parse_spoken_email`) this understands:

    * a new domain: "no, it's at hotmail dot com", "no, it's hotmail" (a well-known provider, with
      any ``.com``/``.co.uk`` said after it), "no, dot co dot uk" (from the first dot on);
    * a new local part, only when it is clearly spelled: two or more single letters, or digits, or
      one of ``. _ - +`` ("no, it's j o h n", "no, jane underscore doe"); a lone word ("no, it's
      wrong") is not taken as one.

    "... not gmail" said after the correction is ignored ("it's hotmail, not gmail").

    Args:
        text: the transcript of the answer (as for :func:`parse_spoken_email`).
        previous: the address that was read back (``local@domain``); anything else makes this
            :func:`parse_spoken_email` alone.

    Returns:
        The corrected address (lower case, validated like :func:`parse_spoken_email`), or ``None``
        when the answer holds no correction.  It may equal ``previous``.

    Raises:
        Nothing.
    """
    full = parse_spoken_email(text)
    if full or not isinstance(previous, str) or not isinstance(text, str):
        return full
    local, sep, domain = previous.rpartition("@")
    if not sep or not local or not domain or len(text) > MAX_TRANSCRIPT_CHARS:
        return None
    tokens = _tokenize(_normalise_text(text))
    tokens = [t for t in tokens if t not in _HESITATIONS]
    tokens = remove_phrases(tokens, _REMOVABLE_PHRASES)
    intro_ends = [i + len(ph) for i in range(len(tokens))
                  for ph in by_first_word(_INTRO_PHRASES).get(tokens[i], ()) if _match_at(tokens, i, ph)]
    tokens = _strip_answer_lead(tokens[max(intro_ends, default=0):])  # "no, that's wrong, it's ..."
    if "not" in tokens[1:]:
        tokens = tokens[: tokens.index("not", 1)]  # "hotmail, not gmail"
    tokens = _strip_edges(tokens)
    tokens = _drop_word_before_its_spelling(_spoken_symbols_and_letters(tokens))
    if not tokens:
        return None
    if tokens[0] in ("at", "@"):
        return _validated(local, _assemble_domain(tokens[1:])) if len(tokens) > 1 else None
    if tokens[0] == ".":
        return _validated(local, _assemble_domain([domain.split(".")[0]] + tokens))
    first_label = tokens[: tokens.index(".")] if "." in tokens else tokens
    joined = "".join(first_label)
    if _DOMAIN_LABEL_FIXES.get(joined, joined) in _PROVIDERS_DOT_COM:
        return _validated(local, _assemble_domain(tokens))
    words = [t for t in tokens if len(t) > 1 and t.isalpha()]
    # Digits make a spelling only when no word follows them ("jane 1 2"): "one moment", "two things"
    # and "one more question" are not the local parts 1moment, 2things and 1morequestion.
    first_digit = next((k for k, t in enumerate(tokens) if t.isdigit()), None)
    spelled = (
        any(_is_letter(a) and _is_letter(b) for a, b in zip(tokens, tokens[1:]))
        or any(t in _SYMBOLS for t in tokens)
        or (first_digit is not None and not any(len(t) > 1 and t.isalpha() for t in tokens[first_digit:]))
    )
    if (
        spelled
        and "at" not in tokens
        and "@" not in tokens
        and len(words) <= 2
        and not any(w in _SENTENCE_WORDS or w in _LEADING_FILLERS for w in words)
    ):
        return _validated("".join(tokens), domain)
    return None


def _spoken_symbols_and_letters(tokens: list[str]) -> list[str]:
    """Passes 4-7 on cleaned tokens (see the module docstring): case words dropped, spoken symbols ("underscore",
    "dot"), dotted words split, spelling aids ("b as in boy"), "oh" as zero, repeats ("double t"), numbers and
    letter names as characters."""
    tokens = _drop_case_modifiers(tokens)
    tokens = replace_phrases(tokens, _SYMBOL_PHRASES)
    tokens = _split_dot_words(tokens)
    tokens = _spelling_aids(tokens)
    tokens = _resolve_oh(tokens)
    tokens = _expand_repeats(tokens)
    tokens = _convert_numbers(tokens)
    return _convert_letter_names(tokens)


def _spoken_segments(text: str) -> list[list[str]]:
    """Passes 1-7 on ``text``: its tokens, cut at each self-correction ("sorry", "I mean", "no wait"...)
    into the part said first and each correction after it (empty corrections dropped)."""
    tokens = _tokenize(_normalise_text(text))
    tokens = [t for t in tokens if t not in _HESITATIONS]
    tokens = remove_phrases(tokens, _REMOVABLE_PHRASES)
    # "at at" is a stutter, not two separators.
    tokens = [t for k, t in enumerate(tokens) if not (t == "at" and k > 0 and tokens[k - 1] == "at")]
    tokens = _cut_introduction(tokens)
    tokens = _strip_edges(tokens)
    tokens = _mark_corrections(tokens)
    tokens = _spoken_symbols_and_letters(tokens)
    segments: list[list[str]] = [[]]
    for tok in tokens:
        if tok == _CORRECTION:
            segments.append([])
        else:
            segments[-1].append(tok)
    segments = [segments[0]] + [_strip_answer_lead(seg) for seg in segments[1:]]
    return [_drop_word_before_its_spelling(seg) for seg in segments if seg or seg is segments[0]]


def _address_from_tokens(tokens: list[str]) -> str | None:
    """Passes 8-10: split, assemble and validate; the address or ``None``."""
    parts = _split_address(tokens)
    if parts is None:
        return None
    local_tokens, domain_tokens = parts
    local_tokens = _strip_edges(_cut_introduction(local_tokens + ["at"])[:-1])
    if not _local_is_plausible(local_tokens) or not domain_tokens:
        return None
    return _validated("".join(local_tokens), _assemble_domain(domain_tokens))


def _validated(local: str, domain: str) -> str | None:
    """``local@domain`` lower-cased if ASCII, with an alphabetic TLD of 2+ letters and valid for
    ``email_validator`` (no DNS); else ``None``."""
    candidate = f"{local}@{domain}"
    if not candidate.isascii():
        return None
    tld = domain.rsplit(".", 1)[-1]
    if len(tld) < 2 or not tld.isalpha():
        return None
    try:
        result = validate_email(candidate, check_deliverability=False, allow_smtputf8=False)
    except (EmailNotValidError, ValueError, UnicodeError):
        return None
    return result.normalized.lower()


# --------------------------------------------------------------------------
# Read-back
# --------------------------------------------------------------------------

# How each character that RFC 5322 allows in an unquoted local part is spoken.
_SPOKEN_CHARS = {
    ".": "dot", "_": "underscore", "-": "dash", "+": "plus", "'": "apostrophe",
    "!": "exclamation mark", "#": "hash", "$": "dollar sign", "%": "percent",
    "&": "ampersand", "*": "star", "/": "slash", "=": "equals",
    "?": "question mark", "^": "caret", "`": "backtick", "{": "open brace",
    "|": "pipe", "}": "close brace", "~": "tilde", '"': "quote", " ": "space",
}

# Domain labels spoken as (or close to) the words people use for them.
_SPOKEN_LABELS = {
    "gmail": "G mail", "googlemail": "google mail", "hotmail": "hotmail",
    "outlook": "outlook", "yahoo": "yahoo", "ymail": "Y mail", "icloud": "I cloud",
    "aol": "A O L", "msn": "M S N", "live": "live", "me": "me", "mac": "mac",
    "protonmail": "proton mail", "proton": "proton", "pm": "P M", "gmx": "G M X",
    "zoho": "zoho", "yandex": "yandex", "fastmail": "fast mail", "mail": "mail",
    "comcast": "comcast", "verizon": "verizon", "att": "A T T", "sbcglobal": "S B C global",
    "kayako": "kayako",
    "com": "com", "net": "net", "org": "org", "edu": "E D U", "gov": "gov",
    "co": "co", "uk": "U K", "us": "U S", "io": "I O", "ca": "C A", "au": "A U",
    "de": "D E", "fr": "F R", "info": "info", "biz": "biz",
}


def _spoken_char(ch: str) -> str:
    if ch.isascii() and ch.isalpha():
        return ch.upper()
    if ch.isdigit():
        return ch
    return _SPOKEN_CHARS.get(ch, ch.upper())


def _spoken_label(label: str) -> str:
    if label in _SPOKEN_LABELS:
        return _SPOKEN_LABELS[label]
    if label.isascii() and label.isalpha() and len(label) > 4:
        return label
    return " ".join(_spoken_char(ch) for ch in label)


def readback(email: str) -> str:
    """Text for a ``<Say>`` prompt that lets a listener check an address.

    The local part is spelled one character per comma-separated item, with
    letters written as capitals (text-to-speech engines can read a lone
    lower-case "a" as the article "uh"; a capital reads as the letter name),
    digits as digits and symbols by name ("dot", "underscore", "dash",
    "plus"...).  Then comes "at", then the domain read naturally: labels joined
    by "dot", well-known providers and TLDs as words ("G mail dot com",
    "co dot U K"), other labels as a word when alphabetic and longer than four
    characters, otherwise spelled.

    Example: ``readback("john.smith@gmail.com")`` ->
    ``"J, O, H, N, dot, S, M, I, T, H, at, G mail dot com"``.

    Args:
        email: an address containing ``@`` with non-empty text on both sides
            (normally a result of :func:`parse_spoken_email`).

    Returns:
        The prompt text (``str``); no SSML.

    Raises:
        ValueError: ``email`` is not a ``str`` or has no ``@`` with text on
            both sides.
    """
    if not isinstance(email, str):
        raise ValueError("readback() needs an e-mail address string")
    local, sep, domain = email.strip().rpartition("@")
    if not sep or not local or not domain:
        raise ValueError("readback() needs an address of the form local@domain")
    items = [_spoken_char(ch) for ch in local]
    labels = [_spoken_label(label) for label in domain.lower().split(".") if label]
    return ", ".join(items) + ", at, " + " dot ".join(labels)


#: A part of the caller's name said in place of the letters of an address: "my first name dot last name at ...".
#: Taken only where an address's separators stand around it (an "at", a "dot", "@"...), so that "my name is jane at
#: example dot com" keeps its introduction.
_ADDRESS_SEPARATOR = r"(?:@|\.|_|-|\b(?:at|dot|underscore|dash|hyphen|period|point)\b)"
_NAME_PART_RE = re.compile(
    r"\b(?:(?:my|the|your)\s+)?(?P<part>first\s*name|last\s*name|surname|family\s+name|name)\b"
    rf"(?=\s*{_ADDRESS_SEPARATOR})"
    rf"|(?<=\s)(?:(?:my|the|your)\s+)?(?P<after>last\s*name|surname|family\s+name|first\s*name)\b",
    re.IGNORECASE,
)
#: Words of a name that no address is made of ("Dr Jane Smith": "jane", "smith").
_NAME_TITLES = frozenset({"dr", "mr", "mrs", "ms", "miss", "prof", "professor", "sir"})


def with_name_parts(text: str, name: str | None) -> str:
    """``text`` with the parts of the caller's name said in place of letters spelled out: "my first name dot last
    name at acme dot com" for Jane Smith is "jane dot smith at acme dot com".

    Args:
        text: the recogniser's transcript; one over :data:`MAX_TRANSCRIPT_CHARS` characters is given back as it is.
        name: the name the caller gave (``call.name``, as :func:`callflow.intents.extract_name` gives it), or
            ``None``.

    Returns:
        The text with "first name" and "name" (before an "at", a "dot" and the like) as the name's first word, and
        "last name", "surname" or "family name" (there, or after a separator) as its last word, titles aside;
        ``text`` unchanged without a name of letters, or without a last name to give (a one-word name). The
        address made of it is read back to the caller to confirm, as any other.

    Raises:
        Nothing.
    """
    if not isinstance(text, str) or len(text) > MAX_TRANSCRIPT_CHARS:
        return text  # too long for parse_spoken_email, which reads it as no address
    words = [w for w in re.findall(r"[^\W\d_]+", name or "") if w.casefold() not in _NAME_TITLES]
    words = [w.casefold() for w in words if w.isascii()]
    if not words:
        return text

    def part(match: re.Match[str]) -> str:
        said = (match.group("part") or match.group("after") or "").casefold().replace(" ", "")
        if said in ("firstname", "name"):
            return words[0]
        return words[-1] if len(words) > 1 else match.group(0)

    return _NAME_PART_RE.sub(part, text)


def spoken_digits(text: str | None) -> str:
    """The digits a caller said, in order, as one string: "four one five, five five five, oh one double oh" is
    ``"4155550100"``, "415-555-0100" the same, "plus four four twenty..." starts with ``"+"``.

    Args:
        text: the recogniser's transcript (at most :data:`MAX_TRANSCRIPT_CHARS` characters are read).

    Returns:
        The digits (number words as :func:`parse_spoken_email` reads them, "oh" always 0: "double five" is 55,
        "twenty twenty" is 2020), with a leading ``"+"`` when the caller said "plus" first; ``""`` when no
        digit was said. Words that are not digits are dropped.

    Raises:
        Nothing.
    """
    if not isinstance(text, str) or not text.strip():
        return ""
    tokens = _tokenize(_normalise_text(text[:MAX_TRANSCRIPT_CHARS]))
    tokens = ["0" if t in ("oh", "o") else t for t in tokens]  # in a phone number every "oh" is a zero
    tokens = _convert_numbers(_expand_repeats(tokens))
    digits = "".join(t for t in tokens if t.isdigit() and t.isascii())
    plus = any(t in ("+", "plus") for t in tokens[:2])
    return f"+{digits}" if plus and digits else digits
