"""The local knowledge base: loading articles into the database and the search index.

Articles live in the ``kb_article`` table (from the bundled sample, a JSON file, or a
Kayako help-center sync). Each process keeps a :class:`~callflow.kb_search.KbIndex` of
the PUBLISHED ones and rebuilds it when the table changes (checked by a cheap
count/max query at most every ``REFRESH_S`` seconds), so every gunicorn worker of every
instance answers from the same articles.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional

from flask import Flask, current_app
from sqlalchemy import func, select

from .clock import utcnow
from .control_chars import CONTROL_CHARS_BUT_LINES
from .extensions import db
from .html_text import html_to_text
from .kb_search import DEFAULT_CUTOFF, KbDoc, KbIndex
from .models import KbArticle
from .twiml import format_hints

log = logging.getLogger(__name__)
SAMPLE_KB_PATH = Path(__file__).parent / "data" / "sample_kb.json"
MAX_TITLE_CHARS = 500
MAX_HTML_CHARS = 200_000
BODY_FIELDS = ("html", "contents", "content", "body", "text")  # first non-empty wins; HTML or plain text


class KbLoadError(ValueError):
    """A knowledge-base file or record is not in the expected shape."""


@dataclass
class UpsertReport:
    """What an upsert changed: lists of external ids."""

    added: list[str]
    updated: list[str]
    removed: list[str]
    skipped: list[str]


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(float(value), timezone.utc)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        # in UTC here: "9999-12-31T23:59:59-14:00" overflows, and would fail the sync's write instead
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except (ValueError, OverflowError, OSError):  # OSError: a timestamp the platform's C library refuses
        return None


def _text(value: Any) -> str:
    """``str(value)`` without control characters but tab and newlines: PostgreSQL text
    refuses NUL, so one such article from Kayako would fail every sync."""
    return CONTROL_CHARS_BUT_LINES.sub("", str(value))


def normalize_article(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check one article record ``{id, title, html, tags, section, status, updated_at, url?}``.

    The body may also come as ``contents``, ``content``, ``body`` or ``text`` (HTML or plain).
    Control characters other than tab and newlines are dropped from every text field; a body over
    :data:`MAX_HTML_CHARS` characters is cut there (a warning names the article id).

    Returns a clean dict; raises :class:`KbLoadError` for a record with no id or title.
    """
    if not isinstance(raw, Mapping):
        raise KbLoadError("article is not an object")
    ext_id = _text(raw.get("id") or "").strip()[:64]
    title = _text(raw.get("title") or "").strip()[:MAX_TITLE_CHARS]
    if not ext_id or not title:
        raise KbLoadError("article needs an id and a title")
    body = next((raw.get(k) for k in BODY_FIELDS if isinstance(raw.get(k), str) and raw.get(k).strip()), "")
    html = _text(body)
    if len(html) > MAX_HTML_CHARS:  # the id only: the title or body is no log's business
        log.warning("kb: article %s has a body of %dk characters, only the first %d kept", ext_id, len(html) // 1000,
                    MAX_HTML_CHARS)
        html = html[:MAX_HTML_CHARS]
    tags = raw.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    tags = [t[:100] for t in map(_text, tags) if t.strip()][:50] if isinstance(tags, list) else []
    return {
        "external_id": ext_id,
        "title": title,
        "html": html,
        "text": html_to_text(html),
        "tags": tags,
        "section": (_text(raw["section"])[:200] if raw.get("section") else None),
        "status": _text(raw.get("status") or "PUBLISHED").upper()[:32],
        "url": (_text(raw["url"])[:1000] if raw.get("url") else None),
        "updated_at": _parse_time(raw.get("updated_at")),
    }


def read_articles_file(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON list of articles; raises :class:`KbLoadError` if it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KbLoadError(f"cannot read {path}: {exc}") from exc
    if isinstance(data, Mapping) and isinstance(data.get("articles"), list):
        data = data["articles"]
    if not isinstance(data, list):
        raise KbLoadError("the file must hold a JSON list of articles")
    return data


def upsert_articles(records: Iterable[Mapping[str, Any]], *, remove_missing: bool = False) -> UpsertReport:
    """Insert or update articles by external id, in the current transaction (not committed).

    With ``remove_missing`` every article not in ``records`` is deleted (a full sync).
    """
    report = UpsertReport([], [], [], [])
    existing = {a.external_id: a for a in db.session.scalars(select(KbArticle))}
    seen: set[str] = set()
    now = utcnow()
    for raw in records:
        try:
            rec = normalize_article(raw)
        except KbLoadError:
            report.skipped.append(str(raw.get("id") if isinstance(raw, Mapping) else "?"))
            continue
        ext = rec["external_id"]
        if ext in seen:  # a duplicate id within one load: the first wins
            continue
        seen.add(ext)
        row = existing.get(ext)
        if row is None:
            db.session.add(KbArticle(**rec, synced_at=now))
            report.added.append(ext)
        elif any(getattr(row, k) != v for k, v in rec.items()):
            for k, v in rec.items():
                setattr(row, k, v)
            row.synced_at = now
            report.updated.append(ext)
    if remove_missing:
        for ext, row in existing.items():
            if ext not in seen:
                db.session.delete(row)
                report.removed.append(ext)
    return report


class KbService:
    """Per-process cache of the search index over the published articles.

    The first use builds the index in the request (nothing to answer from otherwise); later
    changes to the table (seen by a cheap count/max query at most every ``REFRESH_S``
    seconds) are rebuilt in a background thread while the old index keeps answering, so a
    ``kb sync`` never stalls a call turn (a 10k-article build takes seconds).
    """

    REFRESH_S = 5.0

    def __init__(self, cutoff: float | None = None):
        self.cutoff = cutoff if cutoff is not None else DEFAULT_CUTOFF
        self._index: KbIndex | None = None
        self._signature: tuple | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self._rebuilding: threading.Thread | None = None
        self._hints: tuple[KbIndex, str | None] | None = None

    def _current_signature(self) -> tuple:
        row = db.session.execute(
            select(func.count(KbArticle.id), func.max(KbArticle.synced_at), func.max(KbArticle.id))
        ).one()
        return tuple(row)

    def _build(self) -> KbIndex:
        rows = db.session.scalars(select(KbArticle).where(KbArticle.status == "PUBLISHED"))
        docs = [KbDoc(id=r.external_id, title=r.title, text=r.text, tags=tuple(r.tags or ()), url=r.url) for r in rows]
        return KbIndex(docs, cutoff=self.cutoff)

    def _rebuild_in_background(self, signature: tuple) -> None:
        app = current_app._get_current_object()

        def run() -> None:
            try:
                with app.app_context():
                    index = self._build()
                with self._lock:
                    self._index, self._signature = index, signature
            except Exception:
                log.exception("rebuilding the KB index failed; keeping the previous one")
            finally:
                self._rebuilding = None

        self._rebuilding = threading.Thread(target=run, name="kb-rebuild", daemon=True)
        self._rebuilding.start()

    def index(self) -> KbIndex:
        """Return the current index (built on first use; rebuilt in the background on change)."""
        now = time.monotonic()
        if self._index is not None and now - self._checked_at < self.REFRESH_S:
            return self._index
        signature = self._current_signature()
        with self._lock:
            self._checked_at = now
            if self._index is None:
                self._index, self._signature = self._build(), signature
            elif signature != self._signature and self._rebuilding is None:
                self._rebuild_in_background(signature)
            return self._index

    def hints(self, limit: int = 100) -> str | None:
        """Twilio ``hints`` for the answer state (KB titles and tags), cached per index."""
        index = self.index()
        cached = self._hints
        if cached is None or cached[0] is not index:
            cached = self._hints = (index, format_hints(index.hints(limit), limit))
        return cached[1]

    def is_built(self) -> bool:
        """True once this process holds an index (built on first use, or by :func:`warm_index`)."""
        return self._index is not None

    def invalidate(self) -> None:
        """Force a synchronous rebuild on the next use (after ``kb load`` in this process)."""
        with self._lock:
            self._index = None
            self._signature = None


def warm_index(
    app: Flask,
    heartbeat: Optional[Callable[[], None]] = None,
    interval_s: float = 1.0,
    limit_s: float = 300.0,
) -> Optional[int]:
    """Build ``app``'s KB index (and its ``<Gather hints>``) now, so that no caller's turn has to.

    For a process about to serve calls: gunicorn calls it for each new worker (after a start,
    a HUP, or ``max_requests`` recycling) before the worker accepts its first request; see
    ``gunicorn.conf.py``. Without it the first turn that needs the index builds it in the
    request -- 3.7 s for 10,000 articles (40 s for 100,000, past Twilio's 15 s webhook limit),
    while every request queued on that worker waits.

    The build runs in a thread; ``heartbeat`` (gunicorn's ``worker.notify``) is called every
    ``interval_s`` seconds until it ends, because the gunicorn master kills a worker whose
    heartbeat is older than its ``timeout`` (12 s). After ``limit_s`` seconds (a database
    that neither answers nor fails) it stops waiting, so the worker starts anyway; the build
    goes on in its thread, and a turn that needs the index meanwhile waits for it.

    Returns the number of articles indexed; None if ``app`` has no KB service, the build
    failed (database unavailable...) or is still running after ``limit_s``. A failure's
    error class is logged, and the first turn that needs the index builds it, as without
    warming. Raises only what ``heartbeat`` raises.
    """
    service = getattr(app, "extensions", {}).get("kb")
    if not isinstance(service, KbService):
        return None
    result: dict[str, Any] = {}

    def build() -> None:
        started = time.perf_counter()
        try:
            with app.app_context():
                result["articles"] = len(service.index())
                service.hints()  # the answer state's <Gather hints>, derived from the index once
        except Exception as exc:  # the worker still boots; the first answer turn retries
            result["error"] = type(exc).__name__
        result["ms"] = (time.perf_counter() - started) * 1000

    thread = threading.Thread(target=build, name="kb-warm", daemon=True)
    thread.start()
    deadline = time.monotonic() + limit_s
    while thread.is_alive():
        if time.monotonic() >= deadline:
            log.warning("KB index still building after %.0f s: serving without waiting for it", limit_s)
            return None
        if heartbeat is not None:
            heartbeat()
        thread.join(min(interval_s, max(0.0, deadline - time.monotonic())))
    if "error" in result:
        log.warning("KB index not built at start (%s): the first answer turn will build it", result["error"])
        return None
    if not result["articles"]:
        # A fresh database (a new deployment): every question would be passed to a person.
        log.warning("KB index ready: 0 articles in %.0f ms. The knowledge base is empty: every question will be "
                    "escalated; load it with `flask --app wsgi kb sync` (Kayako) or `kb load PATH`", result["ms"])
        return 0
    log.info("KB index ready: %d articles in %.0f ms", result["articles"], result["ms"])
    return result["articles"]
