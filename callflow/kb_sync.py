"""Sync the local knowledge base from the Kayako help center.

Keeps PUBLISHED articles that exist in the configured locale, converts their HTML to
plain text for speech, upserts them by article id with their URL and ``updated_at``,
and removes local articles that were deleted or unpublished upstream. Everything is
fetched before the database is touched, so a failed sync leaves the previous KB intact.
Source: https://developer.kayako.com/api/v1/help_center/articles/
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

from .extensions import db
from .kb import UpsertReport, upsert_articles


class EmptySyncError(RuntimeError):
    """The help center returned no published article; refusing to empty the local KB."""


def collect_published(articles: Iterable[dict[str, Any]], locale: str, progress: Optional[Callable[[int], None]] = None) -> list[dict[str, Any]]:
    """Keep the PUBLISHED articles whose text is in ``locale`` (case-insensitive)."""
    wanted = locale.lower()
    kept = []
    for article in articles:
        if progress:
            progress(1)
        if str(article.get("status", "")).upper() != "PUBLISHED":
            continue
        if str(article.get("locale", wanted)).lower() != wanted:
            continue
        kept.append(article)
    return kept


def sync_articles(client, locale: str, *, allow_empty: bool = False, progress: Optional[Callable[[int], None]] = None) -> UpsertReport:
    """Fetch every article from ``client.iter_articles`` and replace the local KB with them.

    Commits on success. Raises whatever the client raises (e.g. ``KayakoError``) before any
    change, and :class:`EmptySyncError` if nothing published came back and ``allow_empty`` is
    False (a misconfigured locale or account must not wipe the KB).
    """
    published = collect_published(client.iter_articles(locale), locale, progress)
    if not published and not allow_empty:
        raise EmptySyncError("the help center returned no published article in locale " + locale)
    try:
        report = upsert_articles(published, remove_missing=True)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report
