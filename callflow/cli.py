"""Flask CLI commands: ``kb``, ``tickets``, ``tts``, ``simulate`` and ``calls`` (callflow.privacy).

Use them as ``flask --app wsgi <group> <command>``.
"""
from __future__ import annotations

import logging
import time
from typing import Optional

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from sqlalchemy import func, select
from sqlalchemy.exc import InterfaceError, OperationalError

from .extensions import db
from .models import KbArticle
from .kb import SAMPLE_KB_PATH, KbLoadError, read_articles_file, upsert_articles

kb_cli = AppGroup("kb", help="Manage the local knowledge base.")
tickets_cli = AppGroup("tickets", help="Deliver and retry call tickets.")
tts_cli = AppGroup("tts", help="Text-to-speech cache.")
log = logging.getLogger(__name__)
WORKER_BACKOFF_MAX_S = 60.0  # longest pause of the tickets worker while the database is down


@kb_cli.command("load")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--merge", is_flag=True, help="Keep articles that are not in the file (default: the file replaces the KB).")
@click.option("--if-empty", is_flag=True, help="Do nothing if the KB already has articles (what `make run` uses).")
def kb_load(path: str | None, merge: bool, if_empty: bool) -> None:
    """Load the bundled sample KB, or a JSON file of articles, as the knowledge base.

    The file replaces the KB (articles not in it are removed), so loading your own KB after
    `make run` loaded the sample leaves no sample article behind; --merge only upserts.

    \f
    Exit status 1 (``click.ClickException``) if the file cannot be read or is not a JSON list of
    articles (:class:`~callflow.kb.KbLoadError`).
    """
    if if_empty:
        count = db.session.scalar(select(func.count(KbArticle.id)))
        if count:
            click.echo(f"kb load: the KB already has {count} articles; left as it is")
            return
    source = path or current_app.config.get("KB_PATH") or str(SAMPLE_KB_PATH)
    try:
        records = read_articles_file(source)
    except KbLoadError as exc:
        raise click.ClickException(str(exc)) from exc
    report = upsert_articles(records, remove_missing=not merge)
    db.session.commit()
    current_app.extensions["kb"].invalidate()
    click.echo(
        f"kb load: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.removed)} removed, {len(report.skipped)} skipped (from {source})"
    )


@kb_cli.command("sync")
@click.option("--allow-empty", is_flag=True, help="Accept a help center with no published article.")
def kb_sync(allow_empty: bool) -> None:
    """Sync published help-center articles from Kayako (KAYAKO_URL and credentials).

    \f
    Exit status 1 (``click.ClickException``) if Kayako is not configured, or the sync fails
    (:class:`~callflow.kayako.KayakoError`, or :class:`~callflow.kb_sync.EmptySyncError` without
    ``--allow-empty``); the local KB is then unchanged.
    """
    from .kayako import KayakoError
    from .kb_sync import EmptySyncError, sync_articles

    client = current_app.extensions["helpdesk"]
    if not hasattr(client, "iter_articles"):
        raise click.ClickException("Kayako is not configured: set KAYAKO_URL, KAYAKO_EMAIL and KAYAKO_PASSWORD.")
    locale = current_app.config["KAYAKO_LOCALE"]
    with click.progressbar(length=0, label="Fetching articles", show_pos=True, show_eta=False) as bar:
        try:
            report = sync_articles(client, locale, allow_empty=allow_empty, progress=bar.update)
        except (KayakoError, EmptySyncError) as exc:
            raise click.ClickException(f"sync failed, the local KB is unchanged: {exc}") from exc
    current_app.extensions["kb"].invalidate()
    for label, ids in (("added", report.added), ("updated", report.updated), ("removed", report.removed)):
        click.echo(f"{label}: {len(ids)}" + (f" ({', '.join(ids[:20])}{' ...' if len(ids) > 20 else ''})" if ids else ""))


@tickets_cli.command("worker")
@click.option("--once", is_flag=True, help="Drain the queue once and exit.")
def tickets_worker(once: bool) -> None:
    """Deliver queued tickets (and finalize idle calls); runs until stopped unless --once.

    A database outage (the server restarting, a failover, a dropped connection) does not end
    the loop: it is logged (its class only: the message may quote personal data), and the
    worker tries again after TICKET_WORKER_POLL_S seconds, doubling up to 60 s while the
    errors last. With --once the error ends the command with a non-zero exit code. Any other
    error (a bug) in one call or ticket is logged (its class) and that ticket marked failed
    (`tickets retry ID` sends it again), so the others are still delivered; outside them it
    ends the loop with its traceback for the supervisor to restart it. Tickets are claimed
    with a lease in the database, so nothing is lost or delivered twice across such a pause.

    \f
    The outage is the driver's ``OperationalError`` or ``InterfaceError``; the longest pause is
    :data:`WORKER_BACKOFF_MAX_S` seconds.
    """
    from .outbox import run_once

    poll = current_app.config["TICKET_WORKER_POLL_S"]
    failures = 0
    while True:
        try:
            counts = run_once(out=click.echo)
        except (OperationalError, InterfaceError) as exc:
            if once:
                raise
            failures += 1
            delay = min(max(poll, 0.1) * 2 ** min(failures - 1, 10), WORKER_BACKOFF_MAX_S)
            log.warning("tickets worker: database error (%s), trying again in %.1f s", type(exc).__name__, delay)
            db.session.remove()
            time.sleep(delay)
            continue
        if failures:
            log.warning("tickets worker: the database is back after %d failed rounds", failures)
            failures = 0
        if once:
            click.echo("tickets worker: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
            return
        db.session.remove()
        time.sleep(poll)


@tickets_cli.command("retry")
@click.argument("ticket_id", type=int, required=False)
@click.option("--failed", "all_failed", is_flag=True, help="Queue every failed ticket again.")
def tickets_retry(ticket_id: Optional[int], all_failed: bool) -> None:
    """Queue a failed ticket (ID), or every failed one (--failed), for delivery again.

    A ticket a worker is sending right now is left alone. After Kayako's credentials or URL are
    fixed, --failed sends again what was parked meanwhile.

    \f
    Exit status 1 (``click.ClickException``) if there is no such ticket or a worker's claim on it
    is still running (see :func:`callflow.outbox.retry_ticket`); 2 (``click.UsageError``) without
    exactly one of ID and ``--failed``.
    """
    from .outbox import retry_failed, retry_ticket

    if (ticket_id is None) == (not all_failed):
        raise click.UsageError("give a ticket ID or --failed (one of them)")
    if all_failed:
        click.echo(f"{retry_failed()} failed ticket(s) queued again")
        return
    ticket = retry_ticket(ticket_id)
    if ticket is None:
        raise click.ClickException(f"no ticket {ticket_id}")
    if ticket.status == "sending":
        raise click.ClickException(f"ticket {ticket_id} is being sent by a worker right now; not queued again")
    click.echo(f"ticket {ticket_id}: {ticket.status}")


@tickets_cli.command("show")
@click.argument("ticket_id", type=int)
def tickets_show(ticket_id: int) -> None:
    """Print one ticket (subject, requester, summary: personal data, for a terminal, not a log).

    \f
    Exit status 1 (``click.ClickException``) if there is no such ticket.
    """
    from .models import TicketOutbox
    from .outbox import format_ticket

    ticket = db.session.get(TicketOutbox, ticket_id)
    if ticket is None:
        raise click.ClickException(f"no ticket {ticket_id}")
    click.echo(format_ticket(ticket))


@tts_cli.command("warm")
def tts_warm() -> None:
    """Synthesize every fixed prompt ahead of time (needs OPENAI_API_KEY).

    \f
    Exit status 1 (``click.ClickException``) without OPENAI_API_KEY (the speech service has no ``warm``).
    """
    from .prompts import FIXED_PROMPTS

    speech = current_app.extensions["speech"]
    if not hasattr(speech, "warm"):
        raise click.ClickException("OPENAI_API_KEY is not set: prompts are spoken with <Say>, nothing to warm.")
    counts = speech.warm(FIXED_PROMPTS)
    click.echo("tts warm: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@tts_cli.command("prune")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
def tts_prune(dry_run: bool) -> None:
    """Delete shared cached audio that is not a fixed prompt in the current voice, model and instructions.

    Clears audio of old prompt wordings or voices, and audio with caller data that versions before per-call
    audio stored in the shared cache. Per-call audio is deleted when its call ends (and expired by the tickets
    worker). With TTS_S3_LOCAL_DIR, run it on every instance to clear each local copy.

    \f
    Exit status 1 (``click.ClickException``, naming the error class only) if the store fails (``OSError``).
    """
    from .prompts import FIXED_PROMPTS
    from .tts import TTSCache

    cfg = current_app.config
    keep = {
        TTSCache.key(text, cfg["OPENAI_TTS_VOICE"], cfg["OPENAI_TTS_MODEL"], cfg["OPENAI_TTS_INSTRUCTIONS"])
        for text in FIXED_PROMPTS
    }
    try:
        count = current_app.extensions["tts_cache"].prune_shared(keep, dry_run=dry_run)
    except OSError as exc:
        raise click.ClickException(f"the TTS store failed: {type(exc).__name__}") from exc
    click.echo(f"tts prune: {'would delete' if dry_run else 'deleted'} {count} shared audio files; "
               f"{len(keep)} fixed prompts kept")


def register_cli(app: Flask) -> None:
    """Attach the command groups to the app."""
    from .privacy import calls_cli
    from .simulate import simulate_command

    app.cli.add_command(kb_cli)
    app.cli.add_command(tickets_cli)
    app.cli.add_command(tts_cli)
    app.cli.add_command(simulate_command)
    app.cli.add_command(calls_cli)
