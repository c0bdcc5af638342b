"""The shapes that pass between the call flow and whatever drafts answers and summaries.

Kept apart from :mod:`callflow.llm` so the embedded default never imports the OpenAI SDK
(about a second of start-up per worker process).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArticleContext:
    """A knowledge-base hit given to the model: ``id`` as the helpdesk knows it, ``title`` and plain ``text``."""

    id: str
    title: str
    text: str


@dataclass(frozen=True)
class DraftAnswer:
    """A spoken answer (plain text, at most 60 words).

    ``grounded`` False means the articles did not answer the question: the flow escalates and must not present
    ``answer`` as fact (it may be empty); ``article_id`` is then ``None``. When ``grounded`` is True, ``article_id`` is
    one of the ids that were passed in.
    """

    answer: str
    article_id: str | None
    grounded: bool


@dataclass(frozen=True)
class CallSummary:
    """End-of-call summary: ``summary`` 1-3 lines joined by ``\\n``; ``topic`` lower-case, 1-4 words;
    ``sentiment`` one of ``positive``, ``neutral``, ``negative``."""

    summary: str
    topic: str
    sentiment: str
