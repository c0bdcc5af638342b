"""Tests for callflow.kb_search: routing spoken questions to KB articles."""

import heapq
import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callflow.kb_search import (
    DEFAULT_CUTOFF,
    MAX_POSTINGS,
    SUPPORT_SYNONYMS,
    KbDoc,
    KbHit,
    KbIndex,
    _parse_synonyms,
    _top_by_score,
    content_terms,
    docs_from_articles,
    synonyms,
)

ROOT = Path(__file__).resolve().parent.parent
KB_PATH = ROOT / "callflow" / "data" / "sample_kb.json"
QUESTIONS_PATH = ROOT / "tests" / "data" / "kb_questions.json"
EVAL_DIR = ROOT / "tests" / "data" / "kb_eval"

# Measured with bench/kb_routing.py --all at DEFAULT_CUTOFF = 42: routing
# accuracy 89.2% (83/93), 6 wrong articles, 4 missed, top-1 ranking 64/69
# (92.8%); 88.2%, 7 wrong, 63/69 before the unexplained-content scaling.  (Before the synonym expansion, at 35: 77.4%, 8 wrong, 13 missed,
# top-1 89.9%.)  The floors leave a little room; a change that drops below
# them made routing worse.
ROUTING_ACCURACY_FLOOR = 0.84
WRONG_ARTICLE_CEILING = 9
TOP1_FLOOR = 0.88

# Held-out knowledge bases of other domains (tests/data/kb_eval), measured
# the same way: name -> (accuracy floor, wrong-article ceiling, top-1 floor).
# Measured at 42, with ten short (two/three-word) caller questions added to
# ecommerce and accounting: ecommerce 57.7% / 2 wrong / 20 missed / top-1
# 29/37; accounting 86.5% / 1 / 6 / 33/36; telecom 78.0% / 2 / 7 / 26/29
# (telecom is the blind set: bench/kb_routing.py never prints its failures;
# tune on the others).  With the unexplained-content scaling: ecommerce 57.7% /
# 1 / 21 / 27/37, accounting unchanged, telecom 78.0% / 2 / 7 / 25/29 (the
# top-1 changes are all below the cutoff).  Before the short-question evidence and action verbs
# the enlarged sets scored ecommerce 55.8% / 3 / 20, accounting 82.7% / 1 / 8.
# Before the synonym expansion (at 35, original questions): ecommerce 47.6% /
# 6 / 16 / 15/30, accounting 73.8% / 3 / 8 / 21/29, telecom 75.6% / 2 / 8 / 26/29.
EVAL_GATES = {
    "ecommerce": (0.52, 4, 0.70),
    "accounting": (0.82, 3, 0.85),
    "telecom": (0.73, 4, 0.85),
}
# All held-out questions together (145): 73.8% accuracy, 4 wrong (5 before the
# unexplained-content scaling).
HELD_OUT_ACCURACY_FLOOR = 0.68
HELD_OUT_WRONG_CEILING = 8


@pytest.fixture(scope="module")
def articles():
    return json.loads(KB_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def questions():
    return json.loads(QUESTIONS_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def index(articles):
    return KbIndex(docs_from_articles(articles))


def _eval_set(name):
    articles = json.loads((EVAL_DIR / f"{name}_kb.json").read_text(encoding="utf-8"))
    questions = json.loads((EVAL_DIR / f"{name}_questions.json").read_text(encoding="utf-8"))
    return articles, questions


_EVAL_INDEXES: dict = {}


def _eval_index(name):
    """Index of the sample KB (``"sample"``) or of a held-out KB, cached."""
    if name not in _EVAL_INDEXES:
        if name == "sample":
            articles = json.loads(KB_PATH.read_text(encoding="utf-8"))
        else:
            articles, _ = _eval_set(name)
        _EVAL_INDEXES[name] = KbIndex(docs_from_articles(articles))
    return _EVAL_INDEXES[name]


# --------------------------------------------------------------------------
# The data files
# --------------------------------------------------------------------------


def test_sample_kb_shape(articles):
    assert len(articles) >= 24
    ids = [a["id"] for a in articles]
    assert len(set(ids)) == len(ids)
    assert sum(a["status"] == "DRAFT" for a in articles) == 2
    for a in articles:
        assert set(a) == {"id", "title", "html", "tags", "section", "status", "updated_at"}
        assert isinstance(a["id"], int)
        assert a["status"] in ("PUBLISHED", "DRAFT")
        assert a["tags"] and all(isinstance(t, str) and t for t in a["tags"])
        assert a["section"] and a["title"]
        assert a["updated_at"].endswith("Z")
        datetime.strptime(a["updated_at"], "%Y-%m-%dT%H:%M:%SZ")
        assert re.search(r"<(p|ol|ul|li)>", a["html"])
        words = len(re.sub(r"<[^>]+>", " ", a["html"]).split())
        assert 80 <= words <= 250, (a["id"], words)


def test_questions_file_shape(articles, questions):
    published = {a["id"] for a in articles if a["status"] == "PUBLISHED"}
    assert len(questions) >= 60
    assert sum(q["expected"] is None for q in questions) >= 15
    for q in questions:
        assert set(q) == {"question", "expected"}
        assert q["question"].strip()
        assert q["expected"] is None or q["expected"] in published  # never a draft


# --------------------------------------------------------------------------
# docs_from_articles
# --------------------------------------------------------------------------


def test_docs_from_articles_excludes_drafts(articles):
    docs = docs_from_articles(articles)
    drafts = {str(a["id"]) for a in articles if a["status"] == "DRAFT"}
    assert len(docs) == len(articles) - len(drafts)
    assert not drafts & {d.id for d in docs}
    for d in docs:
        assert "<" not in d.text and "&amp;" not in d.text
        assert isinstance(d.tags, tuple)


def test_docs_from_articles_status_case_and_text_field():
    docs = docs_from_articles([
        {"id": 1, "title": "A", "html": "<p>Body &amp; more</p>", "status": "published"},
        {"id": 2, "title": "B", "text": "Plain body", "status": "Published", "tags": ["x"],
         "url": "https://kb.example.test/2"},
        {"id": 3, "title": "C", "html": "<p>draft</p>", "status": "draft"},
        {"id": 4, "title": "D", "html": "<p>no status</p>"},
        {"id": 5, "title": "E", "html": "<p>hidden</p>", "status": "ARCHIVED"},
    ])
    assert [d.id for d in docs] == ["1", "2"]
    assert docs[0].text == "Body & more."
    assert docs[1].text == "Plain body" and docs[1].tags == ("x",)
    assert docs[1].url == "https://kb.example.test/2"


def test_docs_from_articles_skips_malformed_items():
    docs = docs_from_articles([None, "str", 42, {"status": "PUBLISHED"},
                               {"id": "", "title": "x", "status": "PUBLISHED"},
                               {"id": 7, "status": "PUBLISHED"},
                               {"id": 8, "title": "Ok", "status": "PUBLISHED", "tags": None}])
    assert [d.id for d in docs] == ["8"]
    assert docs_from_articles([]) == [] and docs_from_articles(None) == []


def test_draft_topics_are_never_answered(index, articles):
    # Only DRAFT articles cover call recording and importing from another tool.
    for q in ["how do I turn on call recording", "can I import my old tickets from zendesk"]:
        hits = index.search(q, limit=10)
        assert not {"1028", "1029"} & {h.id for h in hits}
    # Indexing everything (drafts included) would find them: the filter matters.
    everything = KbIndex([KbDoc(id=str(a["id"]), title=a["title"], text=a["html"]) for a in articles])
    assert everything.search("how do I turn on call recording")[0].id == "1028"


# --------------------------------------------------------------------------
# Ranking and threshold
# --------------------------------------------------------------------------


@pytest.mark.parametrize("question, expected", [
    ("how do I reset my password", "1001"),
    ("set up two factor authentication", "1002"),
    ("I lost my phone with the authenticator app", "1003"),
    ("my account is locked", "1004"),
    ("how do I connect our support email address", "1005"),
    ("where do I create an SLA policy", "1006"),
    ("how do I make a macro", "1007"),
    ("where can I download an invoice", "1008"),
    ("I want to upgrade our plan", "1009"),
    ("how do I cancel the subscription", "1010"),
    ("export cases to a csv file", "1011"),
    ("change an agent's role and permissions", "1012"),
    ("invite a new agent", "1013"),
    ("add a custom field", "1014"),
    ("create a trigger", "1015"),
    ("install the live chat widget", "1016"),
    ("customize the help center branding", "1017"),
    ("generate an API key", "1018"),
    ("connect Slack", "1019"),
    ("change my time zone", "1020"),
    ("turn off email notifications", "1021"),
    ("merge two cases", "1022"),
    ("add tags to a case", "1023"),
    ("send a satisfaction survey", "1024"),
    ("download the mobile app", "1025"),
    ("set up single sign on with okta", "1026"),
    ("delete a customer's data for GDPR", "1027"),
])
def test_clear_questions_rank_the_right_article_first(index, question, expected):
    hits = index.search(question)
    assert hits and hits[0].id == expected, hits
    best = index.best(question)
    assert best is not None and best.id == expected


@pytest.mark.parametrize("question", [
    "what's the weather like today",
    "I want to sue you",
    "I'd like to order a pizza",
    "my package never arrived",
    "hello?",
    "um uh er",
    "asdfgh qwerty zxcvb",
    "blorp snizzle wug",
])
def test_off_topic_questions_escalate(index, question):
    assert index.best(question) is None


def test_scores_are_ranked_and_bounded(index):
    hits = index.search("how do I reset my password", limit=5)
    assert 1 < len(hits) <= 5
    assert all(isinstance(h, KbHit) for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(0.0 <= h.score <= 100.0 for h in hits)
    assert hits[0].title == "Resetting a forgotten password"


def test_cutoff_is_applied_by_best(articles):
    strict = KbIndex(docs_from_articles(articles), cutoff=100.1)
    assert strict.search("how do I reset my password")
    assert strict.best("how do I reset my password") is None
    lax = KbIndex(docs_from_articles(articles), cutoff=0)
    assert lax.best("how do I reset my password").id == "1001"
    assert KbIndex([]).cutoff == DEFAULT_CUTOFF


@pytest.mark.parametrize("question", [
    "I have a question about my account",
    "helpdesk",
    "can you help me with something",
])
def test_vague_questions_escalate(index, question):
    assert index.best(question) is None


def test_filler_does_not_change_the_answer(index):
    plain = index.search("reset my password")[0]
    chatty = index.search("um hi yeah so uh I was wondering if you could tell me how to reset my password please")[0]
    assert plain.id == chatty.id == "1001"


# --------------------------------------------------------------------------
# Short questions: two or three words, often common in the knowledge base
# --------------------------------------------------------------------------


@pytest.mark.parametrize("question, expected", [
    # "agent" is in most helpdesk articles: idf alone makes it worthless, but
    # the words together are in exactly one title.
    ("how do I add an agent", "1013"),
    ("add agent", "1013"),
    ("how do I add a new agent", "1013"),
    ("add a new agent to my team", "1013"),
    ("create an agent", "1013"),
    ("set up an agent", "1013"),
    ("new agent", "1013"),
    ("add a user", "1013"),
    ("add a team member", "1013"),
    ("reset password", "1001"),
    ("forgot password", "1001"),
    ("export tickets", "1011"),
    ("cancel subscription", "1010"),
    ("close my account", "1010"),
    ("merge tickets", "1022"),
    ("account locked", "1004"),
    ("change time zone", "1020"),
    ("upgrade my plan", "1009"),
    ("add a macro", "1007"),
    ("create a survey", "1024"),
    ("set up saml", "1026"),
    ("add the chat widget", "1016"),
    # "Connecting" is the title's action verb: "add" meets it as it meets "Inviting".
    ("how do I add my support email", "1005"),
    ("add our support mailbox", "1005"),
    ("how do I add slack", "1019"),
    ("add a custom domain", "1017"),
    ("update credit card", "1008"),
    ("turn off notifications", "1021"),
    ("backup codes", "1003"),
    ("add an email address", "1005"),
])
def test_short_questions_land_on_the_obvious_title(index, question, expected):
    best = index.best(question)
    assert best is not None and best.id == expected, index.search(question)


@pytest.mark.parametrize("name, question, expected", [
    ("accounting", "add a user", "3011"),
    ("accounting", "add my accountant", "3011"),
    ("accounting", "invite my accountant", "3011"),
    ("accounting", "create an invoice", "3003"),
    ("accounting", "run payroll", "3007"),
    ("accounting", "set up payroll", "3007"),
    ("accounting", "add a bill", "3005"),
    ("accounting", "add a category", "3017"),
    ("accounting", "create a credit note", "3021"),
    ("accounting", "set up vat", "3008"),
    ("accounting", "cancel my plan", "3018"),
    ("accounting", "add a bank account", "3001"),
    ("accounting", "import from excel", "3016"),
    ("ecommerce", "track my order", "2001"),
    ("ecommerce", "cancel my order", "2006"),
    ("ecommerce", "reset password", "2010"),
    ("ecommerce", "change my address", "2019"),
    ("ecommerce", "create an account", "2009"),
    ("ecommerce", "set up an account", "2009"),
    ("ecommerce", "add a gift card", "2007"),
    ("ecommerce", "return policy", "2003"),
    ("ecommerce", "store pickup", "2020"),
    ("ecommerce", "size chart", "2013"),
])
def test_short_questions_on_held_out_knowledge_bases(name, question, expected):
    index = _eval_index(name)
    best = index.best(question)
    assert best is not None and best.id == expected, index.search(question)


@pytest.mark.parametrize("name, question", [
    ("sample", "what's the weather"),
    ("sample", "I want to sue you"),
    ("sample", "hello"),
    ("sample", "I have a question about my account"),
    ("sample", "I have a question about a ticket"),
    ("sample", "my account"),
    ("sample", "agent"),
    ("sample", "tickets"),
    ("sample", "talk to an agent"),
    ("sample", "can I speak to a real person"),
    ("sample", "I want a refund"),
    ("sample", "add a printer"),
    ("sample", "order pizza"),
    ("accounting", "hello"),
    ("accounting", "I have a question about my account"),
    ("accounting", "what's the weather"),
    ("accounting", "I want to sue you"),
    ("accounting", "add a printer"),
    ("accounting", "order pizza"),
    ("ecommerce", "hello"),
    ("ecommerce", "I have a question about my order"),
    ("ecommerce", "I want to sue you"),
    ("ecommerce", "create a ticket"),
    ("ecommerce", "talk to a person"),
    ("ecommerce", "add a printer"),
])
def test_short_off_topic_or_vague_questions_escalate(name, question):
    index = _eval_index(name)
    assert index.best(question) is None, index.search(question)


def test_login_trouble_answers_a_login_article(index):
    question = "I can't log into my account it says my password is wrong"
    best = index.best(question)
    assert best is not None and best.id in ("1001", "1004"), index.search(question)
    assert ("log", ("login", "sign")) in synonyms("I can't log into my account")


def test_action_verbs_count_in_titles_only():
    docs = [
        KbDoc("body", "Colleagues directory", "You can invite colleagues from this page."),
        KbDoc("title", "Inviting colleagues", "Open the settings page and fill in the form."),
    ]
    idx = KbIndex(docs)
    hits = idx.search("add colleagues")
    assert hits[0].id == "title"
    # Without a title or tag using an action verb, "add" does not reach the body.
    hits = KbIndex(docs[:1]).search("add directory")
    assert hits and hits[0].score < KbIndex(docs[:1]).search("invite directory")[0].score


def test_short_question_evidence_needs_every_word_in_one_title():
    # "agent" is in every article; only one title holds "agent" and "invite".
    docs = [KbDoc(str(i), f"Topic {w}", f"An agent can change the {w} settings.")
            for i, w in enumerate("billing reports macros triggers tags surveys".split())]
    docs.append(KbDoc("inv", "Inviting agents", "Open Team and send the invitation to the agent."))
    idx = KbIndex(docs)
    assert idx.best("add agent").id == "inv"
    assert idx.best("agent") is None          # one common word: too vague
    assert idx.best("agent pizza") is None    # a word no title has


# --------------------------------------------------------------------------
# Speech-recognizer noise
# --------------------------------------------------------------------------


@pytest.mark.parametrize("question, expected", [
    ("how do I reset my passwerd", "1001"),          # misspelling
    ("how do I conect slak", "1019"),                # two misspellings
    ("set up too factor autentication", "1002"),     # homophone + misspelling
    ("where can I download my in voice", "1008"),    # split compound
    ("I forgot my pass word", "1001"),               # split compound
    ("where do I configure the s l a", "1006"),      # spelled-out acronym
    ("HOW DO I MERGE TWO CASES", "1022"),            # case
    ("how do I set up the livechat widget", "1016"),  # joined compound
])
def test_typo_tolerance(index, question, expected):
    hits = index.search(question)
    assert hits and hits[0].id == expected, hits


def test_content_terms_normalises_speech():
    assert content_terms("Um, I can't log in to my ACCOUNTS!") == ["log", "account"]
    assert content_terms("two factor") == ["2", "factor"]
    assert content_terms("the s l a") == ["sla"]
    assert content_terms("") == [] and content_terms(None) == []  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Garbage in
# --------------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    "", "   ", "\n\t", "???", "...", "a", "I", "the and of", "12345", "🙂🙂🙂",
    "x" * 100_000, "reset password " * 20_000, "\x00\x01\x02", "<script>alert(1)</script>",
])
def test_garbage_queries_do_not_raise(index, query):
    hits = index.search(query)
    assert isinstance(hits, list) and len(hits) <= 3
    assert index.best(query) is None or isinstance(index.best(query), KbHit)


def test_empty_queries_return_nothing(index):
    for q in ["", "   ", "um uh", "???", "hello?"]:
        assert index.search(q) == []
        assert index.best(q) is None


def test_non_string_queries_and_limits(index):
    assert index.search(None) == []  # type: ignore[arg-type]
    assert index.search(123) == []  # type: ignore[arg-type]
    assert index.best(None) is None  # type: ignore[arg-type]
    assert index.search("reset password", limit=0) == []
    assert index.search("reset password", limit=-3) == []
    assert len(index.search("reset password", limit=1)) == 1


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=-2, max_value=8))
def test_search_never_raises(query, limit):
    index = _shared_index()
    hits = index.search(query, limit=limit)
    assert len(hits) <= max(limit, 0)
    assert all(0.0 <= h.score <= 100.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


_INDEX_CACHE = []


def _shared_index():
    if not _INDEX_CACHE:
        _INDEX_CACHE.append(KbIndex(docs_from_articles(json.loads(KB_PATH.read_text(encoding="utf-8")))))
    return _INDEX_CACHE[0]


# --------------------------------------------------------------------------
# Container API, hints, odd indexes
# --------------------------------------------------------------------------


def test_len_and_doc(index, articles):
    assert len(index) == sum(a["status"] == "PUBLISHED" for a in articles)
    assert index.doc("1001").title == "Resetting a forgotten password"
    assert index.doc(1001) is index.doc("1001")
    with pytest.raises(KeyError):
        index.doc("1028")  # a draft: not indexed
    with pytest.raises(KeyError):
        index.doc("nope")


def test_duplicate_ids_keep_first():
    idx = KbIndex([KbDoc("1", "First title", "alpha text"), KbDoc("1", "Second title", "beta text")])
    assert len(idx) == 1 and idx.doc("1").title == "First title"


def test_empty_index():
    idx = KbIndex([])
    assert len(idx) == 0
    assert idx.search("reset password") == []
    assert idx.best("reset password") is None
    assert idx.hints() == []


def test_docs_without_body_or_title():
    idx = KbIndex([KbDoc("a", "Refund policy", ""), KbDoc("b", "", "How refunds work for annual plans.")])
    assert {h.id for h in idx.search("refund", limit=5)} == {"a", "b"}
    assert idx.search("refund")[0].id == "a"  # title match beats body match


def test_hints(index):
    hints = index.hints(100)
    assert 0 < len(hints) <= 100
    assert all(0 < len(h) <= 100 and "," not in h for h in hints)
    assert len({h.lower() for h in hints}) == len(hints)
    lowered = {h.lower() for h in hints}
    assert "slack" in lowered and "password" in lowered
    assert "Resetting a forgotten password" in hints
    assert len(index.hints(5)) == 5
    assert index.hints(0) == []


def test_hints_are_trimmed_and_comma_free():
    long_title = "Billing, invoices, and " + "very " * 40 + "long titles"
    idx = KbIndex([KbDoc("1", long_title, "text", tags=("a, b", "A, B", "Tag"))])
    hints = idx.hints()
    assert all(len(h) <= 100 and "," not in h for h in hints)
    assert [h.lower() for h in hints].count("a b") == 1


def test_common_words_do_not_hide_title_matches():
    # More articles than MAX_POSTINGS share a body word; the one whose title
    # says it must still be found (postings are read best-first).
    n = MAX_POSTINGS + 500
    docs = [KbDoc(str(i), f"Article number {i}", "Your account settings and profile page.") for i in range(n)]
    docs.append(KbDoc("target", "Closing your account", "Steps to close an account."))
    idx = KbIndex(docs)
    assert idx.search("how do I close my account")[0].id == "target"


def test_index_of_a_few_thousand_articles_answers_realistic_questions(articles):
    base = docs_from_articles(articles)
    filler = [KbDoc(f"f{i}", f"Product note {i} about widgets", f"Widget {i} ships in blue. Widgets are durable.")
              for i in range(3000)]
    idx = KbIndex(filler + base)
    assert len(idx) == 3000 + len(base)
    assert idx.search("how do I reset my password")[0].id == "1001"
    assert idx.search("connect slack")[0].id == "1019"


# --------------------------------------------------------------------------
# Quality gate on the labelled questions
# --------------------------------------------------------------------------


def _route(index, questions):
    """(right, wrong, missed, top1, answerable) of ``index.best`` on labelled questions."""
    right = wrong = missed = top1 = answerable = 0
    for q in questions:
        expected = None if q["expected"] is None else str(q["expected"])
        hits = index.search(q["question"], limit=3)
        best = index.best(q["question"])
        assert (best is None) == (not hits or hits[0].score < index.cutoff)
        pred = best.id if best else None
        if expected is not None:
            answerable += 1
            top1 += bool(hits and hits[0].id == expected)
        if pred == expected:
            right += 1
        elif pred is None:
            missed += 1
        else:
            wrong += 1
    return right, wrong, missed, top1, answerable


def test_routing_accuracy_on_labelled_questions(index, questions):
    right, wrong, missed, top1, answerable = _route(index, questions)
    accuracy = right / len(questions)
    assert accuracy >= ROUTING_ACCURACY_FLOOR, (accuracy, wrong, missed)
    assert wrong <= WRONG_ARTICLE_CEILING, (accuracy, wrong, missed)
    assert top1 / answerable >= TOP1_FLOOR, top1


# --------------------------------------------------------------------------
# Held-out knowledge bases (other domains; not tuned on)
# --------------------------------------------------------------------------




def test_every_eval_set_is_gated():
    names = {p.name[: -len("_kb.json")] for p in EVAL_DIR.glob("*_kb.json")}
    assert names == set(EVAL_GATES)


@pytest.mark.parametrize("name", sorted(EVAL_GATES))
def test_eval_set_shape(name):
    articles, questions = _eval_set(name)
    assert 15 <= sum(a["status"] == "PUBLISHED" for a in articles) <= 25
    ids = [a["id"] for a in articles]
    assert len(set(ids)) == len(ids)
    for a in articles:
        assert set(a) == {"id", "title", "html", "tags", "section", "status", "updated_at"}
        assert isinstance(a["id"], int) and a["status"] in ("PUBLISHED", "DRAFT")
        assert a["tags"] and all(isinstance(t, str) and t for t in a["tags"])
        datetime.strptime(a["updated_at"], "%Y-%m-%dT%H:%M:%SZ")
        assert re.search(r"<(p|ol|ul|li)>", a["html"])
        assert 80 <= len(re.sub(r"<[^>]+>", " ", a["html"]).split()) <= 250, a["id"]
    published = {a["id"] for a in articles if a["status"] == "PUBLISHED"}
    assert len(questions) >= 30
    escalate = sum(q["expected"] is None for q in questions)
    assert 0.2 <= escalate / len(questions) <= 0.4
    for q in questions:
        assert set(q) == {"question", "expected"} and q["question"].strip()
        assert q["expected"] is None or q["expected"] in published  # never a draft


@pytest.mark.parametrize("name", sorted(EVAL_GATES))
def test_routing_accuracy_on_held_out_knowledge_bases(name):
    articles, questions = _eval_set(name)
    index = KbIndex(docs_from_articles(articles))
    right, wrong, missed, top1, answerable = _route(index, questions)
    accuracy_floor, wrong_ceiling, top1_floor = EVAL_GATES[name]
    accuracy = right / len(questions)
    assert accuracy >= accuracy_floor, (name, accuracy, wrong, missed)
    assert wrong <= wrong_ceiling, (name, accuracy, wrong, missed)
    assert top1 / answerable >= top1_floor, (name, top1, answerable)


def test_routing_accuracy_on_all_held_out_questions():
    right = wrong = n = 0
    for name in EVAL_GATES:
        articles, questions = _eval_set(name)
        r, w, _, _, _ = _route(KbIndex(docs_from_articles(articles)), questions)
        right, wrong, n = right + r, wrong + w, n + len(questions)
    assert right / n >= HELD_OUT_ACCURACY_FLOOR, (right, n, wrong)
    assert wrong <= HELD_OUT_WRONG_CEILING, (right, n, wrong)


# --------------------------------------------------------------------------
# Synonym expansion and morphology
# --------------------------------------------------------------------------


def test_synonym_table_parses_and_never_maps_a_word_to_itself():
    words, phrases = _parse_synonyms(SUPPORT_SYNONYMS)
    assert len(words) > 50 and len(phrases) > 10
    for key, targets in words.items():
        assert targets and key not in targets
    for key, (head, targets) in phrases.items():
        assert len(key) >= 2 and 0 <= head < len(key) and targets


def test_parse_synonyms_rules():
    words, phrases = _parse_synonyms("""
        # a comment line
        combine, unify: merge   # trailing comment
        money back: refund
        merge: merge
        no colon here
    """)
    assert words == {"combin": ("merg",), "unifi": ("merg",)}  # "merge: merge" dropped
    assert phrases == {("money", "back"): (1, ("refund",))}  # head = last topic word


@pytest.mark.parametrize("text, stem, target", [
    ("how do I combine two tickets", "combin", "merg"),
    ("can I label my tickets", "label", "tag"),
    ("where are the customer happiness scores", "happiness", "satisfaction"),
    ("put our logo on the site", "logo", "brand"),
    ("where is my bill", "bill", "invoic"),
    ("add my teammate", "teammat", "agent"),
    ("I need to erase a contact", "eras", "delet"),
    ("download my data", "download", "export"),
    ("the times are a few hours off", "hour", "zon"),
    ("I can't sign in", "sign", "login"),
    ("we want 2 step verification", "step", "2fa"),
    ("I want my money back", "back", "refund"),
])
def test_synonyms_expand_support_vocabulary(text, stem, target):
    expanded = dict(synonyms(text))
    assert target in expanded.get(stem, ()), expanded


def test_synonyms_edge_cases():
    assert synonyms("") == [] and synonyms(None) == []  # type: ignore[arg-type]
    assert synonyms("blorp snizzle") == []
    # Rules are one-way and not transitive: "label" -> "tag", "tag" -> "label".
    assert dict(synonyms("tag"))["tag"] == ("label",)
    # Inside a phrase only the head word carries the expansion: "money back"
    # is one refund, not two.
    assert synonyms("I want my money back") == [("back", ("refund",))]
    assert dict(synonyms("money is tight"))["money"] == ("refund", "payment")


def test_synonym_match_counts_less_than_the_callers_own_word():
    idx = KbIndex([KbDoc("merge", "Merge tickets", "Put two tickets together."),
                   KbDoc("combine", "Combine tickets", "Put two tickets together."),
                   KbDoc("other", "Reset a password", "Choose a new password.")])
    hits = idx.search("combine tickets", limit=3)
    assert [h.id for h in hits[:2]] == ["combine", "merge"]
    assert hits[0].score > hits[1].score
    # Without the caller's own word in the KB, the synonym still finds it.
    only_merge = KbIndex([KbDoc("merge", "Merging duplicate cases", "Merge two cases into one."),
                          KbDoc("tags", "Organizing cases with tags", "Add tags to cases.")])
    assert only_merge.search("how do I combine two cases")[0].id == "merge"
    assert only_merge.search("how do I label a case")[0].id == "tags"


def test_synonym_targets_the_kb_does_not_use_are_ignored():
    idx = KbIndex([KbDoc("1", "Reset a password", "Choose a new password.")])
    assert idx.search("combine tickets") == []  # "merge" is not in this KB


@pytest.mark.parametrize("question, expected", [
    ("the same customer emailed twice how do I combine the two tickets", "1022"),
    ("how do I label tickets so I can find them later", "1023"),
    ("where can I see the customer happiness scores", "1024"),
    ("how can I put our logo and colors on the knowledge base site", "1017"),
    ("the times on my tickets are wrong they're a few hours off", "1020"),
    ("how do I add a new person to my support team", "1013"),
    ("can we make everyone on the team use 2 step verification", "1002"),
    ("how do I download all our tickets into a spreadsheet", "1011"),
    ("yeah hi so um this is kind of a long story but basically we've got a new guy starting on monday and "
     "i'm the admin and i need to get him set up in the system so he can answer tickets with the rest of the "
     "team how do i do that", "1013"),
])
def test_paraphrases_reach_the_right_article(index, question, expected):
    best = index.best(question)
    assert best is not None and best.id == expected, index.search(question)


@pytest.mark.parametrize("question", [
    # "wifi" and "router" are words the knowledge base never uses: most of the
    # question is unexplained although "reset" and "password" are the whole title.
    "how do i reset the password on my wifi router",
    "reset the password on my wifi router please",
    # "Lost your phone or authenticator app?" explains "phone" only; "hours" is
    # a word the knowledge base uses (business hours), just not there.
    "what are your phone support hours",
    "what are your phone hours",
])
def test_a_title_match_on_part_of_the_question_is_not_an_answer(index, question):
    assert index.best(question) is None, index.search(question)


@pytest.mark.parametrize("name, question, expected", [
    # One word the knowledge base never uses ("system", "last", "aunt") is not off-topic.
    ("sample", "um I'm locked out of the system", "1004"),
    ("sample", "how long does the lock last", "1004"),
    # "put" is a light verb like "make" or "get", not a topic.
    ("sample", "how do I put a chat box on my website", "1016"),
    ("accounting", "can I put my company logo on the invoices", "3012"),
    # Several words explained: an unexplained known word does not matter.
    ("sample", "I got a new phone and now I can't get the six digit code", "1003"),
    ("sample", "how do I reset my password", "1001"),
    # An action verb the title does not use is not a second topic.
    ("sample", "how do I create a macro", "1007"),
])
def test_partly_explained_paraphrases_are_still_answered(name, question, expected):
    index = _eval_index(name)
    best = index.best(question)
    assert best is not None and best.id == expected, index.search(question)


def test_unexplained_content_outweighs_a_title_match():
    docs = [KbDoc("pw", "Resetting your password", "Open the sign-in page and click Forgot password."),
            KbDoc("tz", "Business hours", "Set the hours your team works."),
            KbDoc("ph", "Lost your phone", "Use a backup code to sign in without your phone.")]
    idx = KbIndex(docs)
    assert idx.best("reset my password").id == "pw"
    # Three of five words unknown to the knowledge base: mostly off-topic.
    assert idx.best("reset my password on the wifi router modem") is None
    # Each article explains one of two words the knowledge base knows.
    assert idx.best("lost phone").id == "ph" and idx.best("business hours").id == "tz"
    assert idx.best("phone hours") is None, idx.search("phone hours")


def test_rights_means_roles_and_permissions(index):
    """"admin" is in every article (every menu path starts with it); "rights" is what callers say for permissions."""
    hits = index.search("how do i give someone admin rights")
    assert hits and hits[0].id == "1012", hits


def test_known_words_are_not_bent_into_look_alikes():
    # "remember" is a real word (it has synonyms), not a misrecognised "member".
    idx = KbIndex([KbDoc("perks", "Member perks", "Members earn points."),
                   KbDoc("pw", "Forgot your password", "Reset a forgotten password.")])
    assert idx.search("I can't remember my password")[0].id == "pw"
    assert idx.search("I can't remember")[0].id == "pw"


def test_irregular_past_forms_meet_the_present():
    assert content_terms("I paid and it was sent") == ["pay", "send"]
    assert content_terms("it broke") == content_terms("it is broken") == ["break"]
    idx = KbIndex([KbDoc("pay", "How to pay an invoice", "Pay by card."),
                   KbDoc("x", "Exporting reports", "Export a report.")])
    assert idx.search("I already paid")[0].id == "pay"


def test_derivational_siblings_match():
    idx = KbIndex([KbDoc("n", "Notification settings", "Choose your notifications."),
                   KbDoc("i", "Invitations", "Invitation emails expire after a week."),
                   KbDoc("c", "Custom fields", "Add a custom field.")])
    assert idx.search("how do I get notified")[0].id == "n"
    assert idx.search("how do I invite someone")[0].id == "i"
    assert idx._derived_terms("customer") == []  # -er is not a derivational ending here


def test_prefix_matching_does_not_bridge_another_word():
    """"remind" meets "reminder", but "customer" is not a longer "custom", nor "personal" a longer "person"."""
    idx = KbIndex([KbDoc("c", "Custom fields", "Add a custom field to a form."),
                   KbDoc("p", "Contacting a person", "A person reads every message."),
                   KbDoc("r", "Reminders", "Set a reminder to follow up.")])
    assert idx._prefix_terms("customer") == []
    assert idx._prefix_terms("personal") == []
    assert [v for v, _ in idx._prefix_terms("remind")] == ["reminder"]


def test_customers_emails_that_make_no_cases_are_about_the_mailbox(index):
    """It found "Adding custom fields to cases" (49.9 against 48.5): "customers" met "custom" as a prefix, and
    "creating" met nothing in "Connecting" until "connect" became an action verb."""
    hits = index.search("customers emails are not creating tickets")
    assert hits[0].id == "1005", hits


@settings(max_examples=300, deadline=None)
@given(
    acc=st.dictionaries(st.integers(0, 400), st.sampled_from([0.5, 1.0, 1.25, 2.0, 3.5, 7.0]), max_size=80),
    n=st.integers(0, 40),
)
def test_top_by_score_matches_nlargest_with_the_doc_tie_break(acc, n):
    """Candidate selection keeps the exact order of the former key-based nlargest, ties included."""
    expected = [(score, d) for d, score in heapq.nlargest(n, acc.items(), key=lambda kv: (kv[1], -kv[0]))]
    assert _top_by_score(acc, n) == expected
