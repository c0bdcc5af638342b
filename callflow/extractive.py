"""Draft a short spoken answer from one help-center article, without an LLM.

The answer is read to a caller by a TTS voice, so it must be short, plain
and self-contained: a lead-in naming the article, then the two or three
sentences of the article that best answer the question.  No HTML, no
markdown, no URLs (a voice reading "h t t p s colon slash slash" helps no
one), and navigation breadcrumbs such as "Admin > Billing" are spoken as
"Admin, then Billing".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
import re

from .html_text import html_to_text, split_sentences
from .kb_search import content_terms

__all__ = ["extractive_answer", "answers_the_opposite"]

#: Most sentences taken from the article.
MAX_SENTENCES = 3

_HTML_TAG_RE = re.compile(r"</?[a-zA-Z][^>]*>|<!--.*?-->", re.S)
_MD_IMAGE_RE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK_RE = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_URL_RE = re.compile(
    r"(?:\b(?:https?|ftp)://|\bwww\.)(?:[^\s<>\"]*[^\s<>\".,;:!?)\]])?"  # scheme or www.
    r"|\b[\w-]+(?:\.[\w-]+)+/(?:[^\s<>\"]*[^\s<>\".,;:!?)\]])?",          # host.tld/path
    re.I,
)
# Words left pointing at a URL that was removed: "for example <url>." -> "."
_ORPHAN_POINTER_RE = re.compile(
    r"[,:]?\s*\b(?:for example|for instance|e\.g\.|such as|at|see|visit|go to|open|here)\s*(?=[.;,)!?]|$)",
    re.I | re.M,
)
_LINE_END_RE = re.compile(r"([^\s.!?:;…])[ \t]*$", re.M)
_MD_EMPHASIS_RE = re.compile(r"(\*\*|__|\*|`+|~~)")
_MD_LINE_PREFIX_RE = re.compile(r"^\s*(?:#{1,6}\s+|>\s+|[-*+•]\s+|\d{1,3}[.)]\s+)", re.M)
#: A menu path's separator ("Admin > Billing", also › » →), spoken ", then " (here and in :mod:`callflow.llm`).
BREADCRUMB_RE = re.compile(r"(?<=\w)\s*(?:>|›|»|→)\s*(?=[A-Z])")
_SPACE_BEFORE_PUNCT_RE = re.compile(r"\s+([,.;:!?])")
_EMPTY_BRACKETS_RE = re.compile(r"\(\s*[,.;:]?\s*\)|\[\s*\]")
_DUP_PUNCT_RE = re.compile(r"([,;:])\s*([.!?])|([.!?])\s*\.")
_WS_RE = re.compile(r"\s+")

# Sentences that start like an instruction ("Click Save", "Go to ...",
# "To download an invoice: ...") are preferred: callers ring to be told what
# to do.  Common imperative verbs of software help articles.
_IMPERATIVE = frozenset(
    """
    go click open select choose enter type tap press pick navigate sign log add copy paste
    scroll find check turn switch set download install upload create fill follow use ask
    contact visit confirm save review edit change remove delete drag allow reload refresh
    wait send write update make search insert give keep enable disable restart try run
    connect link invite assign apply pull verify reset
    """.split()
)
# Words that should not end a truncated answer.
_DANGLING = frozenset(
    "a an the and or but to of for with in on at by from as your our their its "
    "this that these those if then so such is are be can will you we".split()
)
# Words that point back at an earlier sentence: a sentence with one among its first
# words ("Use them for...", "You can do this from...") cannot open an answer.
_BACK_REFERENCES = frozenset("this that these those them they it".split())
#: Stems of generic verbs of a how-to question ("how do I change my time zone?", "how do I set up a macro?"). Beside
#: a topic word found in the article they count for nothing: an article rarely repeats the caller's verb, so a verb
#: met once far from the steps ("daylight saving changes are handled", "setting priority") was the rarest word and
#: drew the answer away from the steps the topic words open.
_GENERIC_VERBS = frozenset("chang set updat edit modifi make get use find see do adjust manag configur".split())
#: A question of at most this many words is a keyword query ("sso", "upgrade plan").
MAX_KEYWORD_WORDS = 4
# Where a title names a second topic: "Finding invoices and updating your payment method".
_TITLE_JOINER_RE = re.compile(r"\s(?:and|or|&)\s|[,;:(]", re.I)
#: A question that asks for a length of time: "how long does the reset link last?", "how soon", "how many days",
#: "when does the link expire?".
_ASKS_DURATION_RE = re.compile(
    r"\bhow\s+(?:long|soon|quickly|fast|many\s+(?:more\s+)?(?:seconds|minutes|hours|days|weeks|months|years))\b"
    r"|\bexpir(?:e|es|y|ation)\b|\btime\s*(?:limit|frame)\b",
    re.I,
)
_NUMBER_WORDS = (r"\d+(?:[.,]\d+)?|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
                 r"thirty|forty|forty-five|fifty|sixty|ninety|a\s+few|a\s+couple\s+of|several")
#: A sentence that gives a length of time: "within 60 minutes", "after 30 days", "an hour", "24 hours".
_DURATION_RE = re.compile(
    rf"\b(?:{_NUMBER_WORDS})(?:\s*-\s*|\s+)(?:(?:business|working|calendar)\s+)?"
    r"(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\b",
    re.I,
)


def _clean(text: str) -> str:
    """Plain speakable text: HTML, markdown and URLs removed."""
    if _HTML_TAG_RE.search(text) or "&" in text:
        text = html_to_text(text)
    text = _MD_IMAGE_RE.sub(" ", text)
    text = _MD_LINK_RE.sub(r"\1", text)
    text = _URL_RE.sub("\x00", text)
    text = _ORPHAN_POINTER_RE.sub("", text.replace(" \x00", "\x00").replace("\x00", ""))
    text = _MD_LINE_PREFIX_RE.sub("", text)
    text = _MD_EMPHASIS_RE.sub("", text)
    # Lines (headings, list items) end a sentence even without a period.
    text = _LINE_END_RE.sub(r"\1.", text)
    text = text.replace("<", " ").replace(">", " > ")  # stray angle brackets
    return text


def _speakable(sentence: str) -> str:
    """Final polish of one sentence for a TTS voice."""
    s = BREADCRUMB_RE.sub(", then ", sentence)
    s = s.replace("<", " ").replace(">", " ")
    s = s.replace(" & ", " and ")
    s = _EMPTY_BRACKETS_RE.sub(" ", s)
    s = _WS_RE.sub(" ", s).strip()
    s = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", s)
    s = _DUP_PUNCT_RE.sub(lambda m: m.group(2) or m.group(3), s)
    s = s.strip(" ,;")
    return s


def _is_instruction(sentence: str) -> bool:
    first = sentence.split(" ", 1)[0].strip("\"'(").lower()
    return first in _IMPERATIVE or first == "to" or first == "if"


def _truncate_words(sentence: str, budget: int) -> str:
    """``sentence`` cut to at most ``budget`` words at a clean boundary, ending in '.'."""
    words = sentence.split()
    if len(words) <= budget:
        return sentence
    if budget <= 0:
        return ""
    cut = words[:budget]
    # Prefer ending at a clause boundary if that keeps most of the words.
    for i in range(len(cut) - 1, max(0, int(budget * 0.6)) - 1, -1):
        if cut[i].endswith((",", ";", ":")):
            cut = cut[: i + 1]
            break
    while len(cut) > 1 and cut[-1].strip(",;:").lower() in _DANGLING:
        cut.pop()
    out = " ".join(cut).rstrip(",;:-– ")
    if out and out[-1] not in ".!?":
        out += "."
    return out


def _lead_in(title: str, max_words: int) -> str:
    """'From our article "<title>":' fitted into about half of ``max_words``."""
    title = _WS_RE.sub(" ", title.replace('"', "'")).strip().rstrip(".:;,")
    if not title:
        return "From our help center:"
    words = title.split()
    room = max(1, max_words // 2 - 3)
    if len(words) > room:
        words = words[:room]
        while len(words) > 1 and words[-1].lower() in _DANGLING:
            words.pop()
        title = " ".join(words).rstrip(",;:") + "..."
    return f'From our article "{title}":'


@dataclass(frozen=True)
class _Sentences:
    """An article body prepared for scoring: speakable sentences, their terms, words, instructions."""

    texts: tuple[str, ...]
    terms: tuple[frozenset[str], ...]
    lengths: tuple[int, ...]
    instructions: tuple[bool, ...]
    openers: tuple[bool, ...]
    leads_in: tuple[bool, ...]
    durations: tuple[bool, ...]


@lru_cache(maxsize=1024)
def _prepare(body: str) -> _Sentences:
    """Split and analyse an article body once; every question about that article reuses it.

    Keyed by the body text (a KB change brings new text, so a stale entry is never used).
    """
    sentences = [_speakable(s) for s in split_sentences(_clean(body))]
    sentences = [s for s in sentences if sum(ch.isalpha() for ch in s) >= 3]
    return _Sentences(
        texts=tuple(sentences),
        terms=tuple(frozenset(content_terms(s)) for s in sentences),
        lengths=tuple(len(s.split()) for s in sentences),
        instructions=tuple(bool(_is_instruction(s)) for s in sentences),
        openers=tuple(i == 0 or not _points_back(s) for i, s in enumerate(sentences)),
        leads_in=tuple(_leads_in(s) for s in sentences),
        durations=tuple(bool(_DURATION_RE.search(s)) for s in sentences),
    )


def _leads_in(sentence: str) -> bool:
    """True for a sentence that introduces the next one: a heading ("To download an invoice:") or a menu
    path to open ("Open Admin, then Billing, then Subscription.")."""
    first = sentence.split(" ", 1)[0].lower()
    return sentence.endswith(":") or (first in ("go", "open", "navigate") and ", then " in sentence)


def _points_back(sentence: str) -> bool:
    """True if one of the first four words refers to an earlier sentence ("Use them for ...")."""
    return any(w.strip("\"'(,.;:").lower() in _BACK_REFERENCES for w in sentence.split()[:4])


def _names_main_topic(question: str, title: str) -> bool:
    """True for a keyword query (at most :data:`MAX_KEYWORD_WORDS` words) whose every content word is in
    ``title`` and at least one in its first topic (before "and", "or", a comma...): the caller named what
    the whole article is about ("upgrade plan" for "Upgrading or downgrading your plan"), not a
    second topic of it ("update payment method" for "Finding invoices and updating your payment method")."""
    if len(question.split()) > MAX_KEYWORD_WORDS:
        return False
    q_terms = content_terms(question)
    title_terms = set(content_terms(title))
    first_terms = set(content_terms(_TITLE_JOINER_RE.split(title, 1)[0]))
    return bool(q_terms) and all(t in title_terms or _prefix_match(t, title_terms) for t in q_terms) and any(
        t in first_terms or _prefix_match(t, first_terms) for t in q_terms)


def _score_windows(question: str, prepared: _Sentences, budget: int, from_start: bool = False) -> list[int]:
    """Indexes of the best run of up to MAX_SENTENCES consecutive sentences (the first run if ``from_start``).

    A run opens the article, or opens on a sentence that has a question word (or on a heading or a menu path
    just before one, see :func:`_leads_in`) and does not point back at an earlier sentence
    (:func:`_points_back`): "Click Test connection..." (the fourth step) cannot open the answer to "sso"
    for the extra instructions that follow it.
    """
    n = len(prepared.texts)
    keywords = len(question.split()) <= MAX_KEYWORD_WORDS
    q_terms = content_terms(question)
    sent_terms = prepared.terms
    # In-article rarity: a question word found in few sentences says more.
    weights = {}
    for t in q_terms:
        sf = sum(1 for st in sent_terms if t in st or _prefix_match(t, st))
        weights[t] = math.log(1.0 + (n + 1) / (sf + 0.5)) if sf else 0.0
    if any(weights[t] for t in q_terms if t not in _GENERIC_VERBS):  # a topic word found: the verbs count for nothing
        weights.update({t: 0.0 for t in q_terms if t in _GENERIC_VERBS})
    # A question that asks how long: a sentence that gives a length of time answers it, though it shares no word
    # with it ("how long does the reset link last?" and "click the link within 60 minutes"). It weighs as the
    # rarest question word, as much as the question's words together for a question of no other word.
    durations = prepared.durations if _ASKS_DURATION_RE.search(question) and any(prepared.durations) else None
    duration_weight = 0.0
    if durations:
        sf = sum(durations)
        duration_weight = max(max(weights.values(), default=0.0), math.log(1.0 + (n + 1) / (sf + 0.5)))
    total = sum(weights.values()) + duration_weight
    lengths = prepared.lengths
    instructions = prepared.instructions

    def has_word(i: int) -> bool:
        return any(weights[t] and (t in sent_terms[i] or _prefix_match(t, sent_terms[i])) for t in q_terms)

    best: tuple[float, int, int] | None = None  # (score, start, end)
    for start in range(1 if from_start else n):
        if start and not prepared.openers[start]:
            continue
        if start and keywords and total > 0 and not (has_word(start) or (
                prepared.leads_in[start] and start + 1 < n and has_word(start + 1))):
            continue
        prior = 0.15 * (1.0 - start / n)  # earlier sentences preferred
        if keywords and total > 0:  # a keyword query: the sentence that opens the answer should name them
            opening = sent_terms[start] | (sent_terms[start + 1] if prepared.leads_in[start] and start + 1 < n
                                           else frozenset())
            prior += 0.1 * sum(weights[t] for t in q_terms if t in opening or _prefix_match(t, opening)) / total
        if durations and durations[start]:  # the answer opens on the length of time asked for
            prior += 0.1
        words = 0
        covered: set[str] = set()
        timed = False
        for end in range(start, min(n, start + MAX_SENTENCES)):
            words += lengths[end]
            if words > budget and end > start:
                break
            covered |= {t for t in q_terms
                        if t in sent_terms[end] or _prefix_match(t, sent_terms[end])}
            timed = timed or bool(durations and durations[end])
            cover = (sum(weights[t] for t in covered) + (duration_weight if timed else 0.0)) / total \
                if total > 0 else 0.0
            instr = sum(instructions[start:end + 1])
            # Extra sentences add a little (more of the procedure), never
            # more than a question word would.
            score = cover + prior + 0.05 * instr + 0.02 * (end - start)
            if lengths[start] > budget:
                score -= 0.2  # will have to be truncated
            if best is None or score > best[0] + 1e-9:
                best = (score, start, end)
    if best is None:
        return []
    return list(range(best[1], best[2] + 1))


def _prefix_match(term: str, terms: set[str]) -> bool:
    """True if a stem in ``terms`` extends ``term`` or is extended by it (5+ letters)."""
    if len(term) < 5:
        return False
    return any(len(t) >= 5 and (t.startswith(term) or term.startswith(t)) for t in terms)


#: A question asking how to undo something: "turn it off", "disable", "remove", "stop getting". Past tenses are
#: left out: "my 2FA got disabled", "the widget was removed" describe a problem, not a wish to undo.
_UNDO_ASKED_RE = re.compile(
    r"\b(?:turn(?:ing)?\s+(?:\w+\s+){0,3}?off|switch(?:ing)?\s+(?:\w+\s+){0,3}?off|shut(?:ting)?\s+(?:\w+\s+){0,3}?off|"
    r"disabl(?:e|ing)|deactivat(?:e|ing)|remov(?:e|ing)|delet(?:e|ing)|cancel(?:l?ing)?|uninstall(?:ing)?|"
    r"unsubscrib(?:e|ing)|disconnect(?:ing)?|unlink(?:ing)?|revok(?:e|ing)|get\s+rid\s+of|opt\s+out|undo|"
    r"stop\s+(?:using|getting|receiving|sending|sharing|syncing|it|them|this|that))\b",
    re.I,
)
#: An article that says how to undo something, in any tense.
_UNDO_SAID_RE = re.compile(
    r"\b(?:turn\w*\s+(?:\w+\s+){0,3}?off|switch\w*\s+(?:\w+\s+){0,3}?off|shut\w*\s+(?:\w+\s+){0,3}?off|disabl\w*|"
    r"deactivat\w*|remov\w*|delet\w*|cancel\w*|uninstall\w*|unsubscrib\w*|disconnect\w*|unlink\w*|revok\w*|"
    r"get\s+rid\s+of|opt\w*\s+out|undo\w*|stop\w*)\b",
    re.I,
)
#: A title about doing something: "Turning on ...", "Adding ...", "Connecting ...", "Setting up ...".
_DOING_TITLE_RE = re.compile(
    r"^\s*(?:turning\s+on|enabling|adding|connecting|setting\s+up|inviting|creating|installing|activating|"
    r"starting|subscribing)\b",
    re.I,
)
#: Only this many characters of the article are read for words of undoing (the KB's largest body is 200,000).
MAX_UNDO_SCAN_CHARS = 50_000


def answers_the_opposite(question: str, title: str, text: str) -> bool:
    """Does ``question`` ask how to undo what the article only says how to do?

    "How do I turn off two-factor authentication?" finds "Turning on two-factor authentication" (the words
    match), which never says how to turn it off: read out, its steps tell the caller to do the opposite.

    Args:
        question: the caller's words.
        title: the article's title.
        text: the article's body (plain text or HTML; its first :data:`MAX_UNDO_SCAN_CHARS` characters are read).

    Returns:
        ``True`` when the title is about doing something ("Turning on", "Enabling", "Adding", "Connecting",
        "Setting up", "Inviting", "Creating", "Installing", "Activating", "Starting", "Subscribing"), the question
        asks to undo ("turn off", "disable", "remove", "delete", "cancel", "disconnect", "stop getting", ...), and
        neither the title nor the text (``None`` counts as empty) has a word of undoing in any tense. ``False``
        otherwise, and when the question or the title is not a string.

    Raises:
        Nothing.
    """
    if not (isinstance(question, str) and isinstance(title, str)):
        return False
    body = text[:MAX_UNDO_SCAN_CHARS] if isinstance(text, str) else ""
    return bool(_DOING_TITLE_RE.match(title) and _UNDO_ASKED_RE.search(question[:2000])
                and not _UNDO_SAID_RE.search(f"{title}\n{body}"))


def extractive_answer(question: str, title: str, text: str, max_words: int = 60) -> str:
    """A short spoken answer drawn from one article.

    Args:
        question: The caller's words (speech-recognition text).
        title: The article title (plain text or HTML).
        text: The article body: plain text (e.g. :attr:`KbDoc.text`), HTML,
            or markdown.  HTML is converted with
            :func:`~callflow.html_text.html_to_text`.
        max_words: Upper bound on the answer length in words (whitespace-
            separated tokens), lead-in included.

    Returns:
        ``'From our article "<title>": <sentences>'`` with at most
        ``max_words`` words: the lead-in (a title longer than about half
        the budget is shortened with "...") followed by the run of up to
        :data:`MAX_SENTENCES` consecutive article sentences that best covers
        the question's words (weighted by how rare each word is in the
        article), preferring early sentences and instructions ("Click...",
        "Go to...", "To download...").  A question asking how long ("how
        long", "how soon", "how many days", "expire") also counts a sentence
        that gives a length of time ("within 60 minutes", "seven days") as
        covering it, weighed as its rarest word.  A generic verb ("change",
        "set", "update": :data:`_GENERIC_VERBS`) counts for nothing when a
        topic word of the question is in the article.  The run never opens on a sentence
        that points back ("Use them for..."); for a keyword query (at most
        :data:`MAX_KEYWORD_WORDS` words) it opens the article when the title
        names the query's words (:func:`_names_main_topic`), else on a
        sentence with a query word or the heading or menu path just before
        it.  A sentence that does not fit is cut
        at a clause or word boundary and ends with a period.  URLs, HTML
        tags, entities and markdown are removed; "A > B" breadcrumbs are
        spoken as "A, then B"; "&" as "and".  An article with no usable text
        gives just the lead-in ending in a period; below 6 words there is no
        room for both, so the answer is the (truncated) title alone;
        ``max_words <= 0`` gives ``""``.  Never raises: unexpected input (None, non-strings) is
        treated as empty.
    """
    try:
        max_words = int(max_words)
    except Exception:
        max_words = 60
    if max_words <= 0:
        return ""
    try:
        question = question if isinstance(question, str) else ""
        title = _speakable(_clean(title)) if isinstance(title, str) else ""
        body = text if isinstance(text, str) else ""
        if max_words < 6:
            # No room for a lead-in and an answer: name the article only.
            return _truncate_words((title or "Our help center").rstrip(".:;,") + ".", max_words)
        lead = _lead_in(title, max_words)
        lead_words = len(lead.split())
        if lead_words >= max_words:
            return _truncate_words(lead.rstrip(":") + ".", max_words)
        budget = max_words - lead_words

        prepared = _prepare(body)
        sentences = prepared.texts
        if not sentences:
            return lead.rstrip(":") + "."
        chosen = _score_windows(question, prepared, budget, from_start=_names_main_topic(question, title))
        picked: list[str] = []
        used = 0
        for i in chosen:
            s = sentences[i]
            n = len(s.split())
            if used + n <= budget:
                picked.append(s)
                used += n
            elif not picked:
                picked.append(_truncate_words(s, budget))
                used = budget
                break
            else:
                break
        # Don't end on an announcement of steps that were cut off, or on a
        # short question that heads the next part ("No backup codes?").
        while len(picked) > 1 and (picked[-1].endswith(":") or (
                picked[-1].endswith("?") and len(picked[-1].split()) <= 6)):
            picked.pop()
        if picked and picked[-1].endswith(":"):
            picked[-1] = picked[-1][:-1].rstrip() + "."
        answer = " ".join([lead, *picked]) if picked else lead.rstrip(":") + "."
        words = answer.split()
        if len(words) > max_words:  # defensive; the budget above should hold
            answer = _truncate_words(answer, max_words)
        return answer
    except Exception:
        try:
            t = title if isinstance(title, str) else ""
            return _truncate_words(f'From our article "{t}".', max_words) if t else ""
        except Exception:
            return ""
