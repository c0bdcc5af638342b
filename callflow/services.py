"""Outside services behind small interfaces, held on the app in ``app.extensions``.

========================  ==========================  =================================
``app.extensions`` key    embedded default            switched on by
========================  ==========================  =================================
``kb``                    :class:`KbService`          (always local; ``kb sync`` fills it)
``drafter``               :class:`ExtractiveDrafter`  ``OPENAI_API_KEY``
``speech``                :class:`SaySpeech`          ``OPENAI_API_KEY`` (cached TTS)
``summarizer``            None (rule-based summary)   ``OPENAI_API_KEY``
``helpdesk``              :class:`LocalOutbox`        ``KAYAKO_URL`` + credentials
========================  ==========================  =================================

Tests replace any of them on the app they build.
"""
from __future__ import annotations

import logging
from typing import Any, Protocol, Sequence

import threading

from cachetools import TTLCache
from flask import Flask
from rapidfuzz.utils import default_process

from .extractive import answers_the_opposite, extractive_answer
from .kb import KbService
from .drafts import ArticleContext, CallSummary, DraftAnswer

log = logging.getLogger(__name__)


class Drafter(Protocol):
    """Drafts a short spoken answer from knowledge-base articles."""

    def draft(self, question: str, articles: list[ArticleContext], *,
              earlier_question: str | None = None) -> DraftAnswer:
        """Answer ``question`` from ``articles`` (best first); ``grounded`` False if they do not answer it.

        ``earlier_question``: the caller's previous, answered question on the call (or None), context for what
        ``question`` refers to ("how do I do that on the mobile app?").

        The conversation catches any error of ``app.extensions["drafter"]`` and answers with the
        extractive ``fallback_drafter`` instead.
        """


class Summarizer(Protocol):
    """Summarizes a finished call's transcript ``[(speaker, text), ...]``."""

    def summarize(self, transcript: list[tuple[str, str]]) -> CallSummary:
        """Summary, topic and sentiment of the transcript (see :class:`~callflow.drafts.CallSummary`).

        The tickets worker catches any error and keeps the rule-based summary.
        """


class Speech(Protocol):
    """Turns prompt text into an audio URL for ``<Play>``, or None for ``<Say>``."""

    def audio_url(self, text: str, *, synthesize: bool = True, call_sid: str | None = None) -> str | None:
        """``call_sid``: store the audio as that call's personal audio (any text that may carry caller data)."""


class Helpdesk(Protocol):
    """Delivers a ticket payload; returns ``(case_id, case_url)`` or None if kept locally."""

    def deliver(self, payload: dict[str, Any], *, time_budget_s: float | None = None) -> tuple[Any, str | None] | None:
        """``time_budget_s``: seconds the delivery may take (the caller's claim on the ticket).

        Raises on failure: the tickets worker retries with backoff, unless the exception has
        ``transient = False`` or the ticket is older than ``TICKET_MAX_AGE_H`` hours (then it is ``failed``).
        """


class ExtractiveDrafter:
    """Offline drafter: the most informative sentences of the best article (60 words max)."""

    def draft(self, question: str, articles: Sequence[ArticleContext], *,
              earlier_question: str | None = None) -> DraftAnswer:
        """Answer from ``articles[0]``; ``grounded`` is False when there is no article, or when the question asks to
        undo what the article only does (:func:`~callflow.extractive.answers_the_opposite`: "how do I turn off
        two-factor authentication?" and "Turning on two-factor authentication"). The sentences are picked by
        ``question`` alone (``earlier_question`` is not used: the article was already found with it)."""
        if not articles:
            return DraftAnswer(answer="", article_id=None, grounded=False)
        best = articles[0]
        if answers_the_opposite(question, best.title, best.text):  # "turn off 2FA" and "Turning on 2FA"
            return DraftAnswer(answer="", article_id=None, grounded=False)
        text = extractive_answer(question, best.title, best.text, max_words=60)
        return DraftAnswer(answer=text, article_id=best.id, grounded=bool(text.strip()))


class CachedDrafter:
    """Remembers grounded drafted answers so a repeated question costs no model call.

    Keyed by the normalized question and earlier question (rapidfuzz ``default_process``) and the ids and texts of
    the articles given, so an article edited by a KB sync gets a new draft. Bounded
    (``maxsize`` entries) and expiring (``ttl`` seconds); per process, thread-safe.
    """

    def __init__(self, inner: Drafter, maxsize: int = 2048, ttl: float = 3600.0):
        self.inner = inner
        self._cache: TTLCache = TTLCache(maxsize=maxsize, ttl=ttl)
        self._lock = threading.Lock()

    def draft(self, question: str, articles: list[ArticleContext], *,
              earlier_question: str | None = None) -> DraftAnswer:
        """Return the cached draft or ask the wrapped drafter (its errors propagate, uncached)."""
        key = (default_process(question), default_process(earlier_question or ""),
               tuple((a.id, hash(a.text)) for a in articles))
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        answer = self.inner.draft(question, articles, earlier_question=earlier_question)
        if answer.grounded:  # an ungrounded draft escalates: one bad reply must not do so for an hour
            with self._lock:
                self._cache[key] = answer
        return answer


class SaySpeech:
    """Embedded default: no audio files, every prompt is a ``<Say>``."""

    always_say = True  # callflow.twiml.render may reuse documents: they depend on the text alone

    def audio_url(self, text: str, *, synthesize: bool = True, call_sid: str | None = None) -> str | None:
        """Always None: speak ``text`` with ``<Say>``."""
        return None


class LocalOutbox:
    """Embedded default helpdesk: tickets stay in the ``ticket_outbox`` table."""

    is_local = True

    def deliver(self, payload: dict[str, Any], *, time_budget_s: float | None = None) -> None:
        """Sends nothing and returns None (``time_budget_s``, in seconds, is unused). The tickets worker
        sees ``is_local`` and marks the ticket ``local`` (it stays in ``ticket_outbox``) without calling this."""
        return None


def init_services(app: Flask) -> None:
    """Build the service objects from the app's config into ``app.extensions``."""
    cfg = app.config
    app.extensions["kb"] = KbService(cutoff=cfg.get("KB_SCORE_CUTOFF"))
    app.extensions["fallback_drafter"] = ExtractiveDrafter()
    from .tts_storage import make_tts_cache

    # TTS_STORAGE=dir (TTS_CACHE_DIR, default instance/tts) or s3 (TTS_S3_*); ValueError if misconfigured.
    app.extensions["tts_cache"] = make_tts_cache(cfg, app.instance_path)
    if cfg.get("OPENAI_API_KEY"):
        from .llm import OpenAIDrafter, make_openai_client
        from .tts import OpenAISpeech

        def client(timeout_s: float):
            return make_openai_client(cfg["OPENAI_API_KEY"], cfg.get("OPENAI_BASE_URL"), timeout_s,
                                      organization=cfg.get("OPENAI_ORG_ID"), project=cfg.get("OPENAI_PROJECT_ID"))

        chat = client(cfg["OPENAI_DRAFT_TIMEOUT_S"])
        app.extensions["drafter"] = CachedDrafter(
            OpenAIDrafter(chat, cfg["OPENAI_CHAT_MODEL"], cfg["OPENAI_DRAFT_TIMEOUT_S"])
        )
        app.extensions["summarizer"] = OpenAIDrafter(
            client(cfg["OPENAI_SUMMARY_TIMEOUT_S"]), cfg["OPENAI_CHAT_MODEL"], cfg["OPENAI_SUMMARY_TIMEOUT_S"]
        )
        app.extensions["speech"] = OpenAISpeech(
            client(cfg["OPENAI_TTS_TIMEOUT_S"]),
            app.extensions["tts_cache"],
            model=cfg["OPENAI_TTS_MODEL"],
            voice=cfg["OPENAI_TTS_VOICE"],
            instructions=cfg["OPENAI_TTS_INSTRUCTIONS"],
            timeout=cfg["OPENAI_TTS_TIMEOUT_S"],
            public_base_url=cfg.get("PUBLIC_BASE_URL") or "",
            call_secret=cfg.get("SECRET_KEY") or "",
        )
    else:
        app.extensions["drafter"] = app.extensions["fallback_drafter"]
        app.extensions["summarizer"] = None
        app.extensions["speech"] = SaySpeech()
    if cfg.get("KAYAKO_URL") and cfg.get("KAYAKO_EMAIL") and cfg.get("KAYAKO_PASSWORD"):
        from .kayako import KayakoClient

        app.extensions["helpdesk"] = KayakoClient(
            cfg["KAYAKO_URL"],
            cfg["KAYAKO_EMAIL"],
            cfg["KAYAKO_PASSWORD"],
            locale=cfg["KAYAKO_LOCALE"],
            channel=cfg["KAYAKO_CHANNEL"],
            connect_timeout=cfg["KAYAKO_CONNECT_TIMEOUT_S"],
            read_timeout=cfg["KAYAKO_READ_TIMEOUT_S"],
        )
    else:
        app.extensions["helpdesk"] = LocalOutbox()
