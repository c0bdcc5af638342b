"""Personal TTS audio: a prompt with caller data is stored per call, unguessable, and deleted once the call is over.

With OpenAI on (the fake server), the fixed prompts share content-addressed files, while "Thanks, Jane." and the
email read-back go to ``call/<group>/<key>.mp3`` under HMACs of the app's ``SECRET_KEY``. The tickets worker (on the
call's ticket, also one the idle sweeper made), ``calls forget``/``calls purge`` and the worker's expiry delete them.
"""
from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from callflow import outbox, prompts
from callflow.clock import utcnow
from callflow.extensions import db
from callflow.models import Call
from callflow.tts import TTSCache, call_group, call_key

from .conftest import Caller, base_config, idle_calls, make_app
from .fakes.openai_server import FakeOpenAI, silent_mp3

JANE = "jane dot doe at example dot com"
SHARED_URL = "https://callflow.example.test/tts/"
CALL_URL = SHARED_URL + "call/"


@pytest.fixture
def openai_fake():
    with FakeOpenAI(api_key="sk-test") as fake:
        yield fake


@pytest.fixture
def tts_app(tmp_path, database_url, openai_fake):
    config = base_config(tmp_path, database_url)
    config.update(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=openai_fake.base_url, SECRET_KEY="s3cret-for-tests")
    app = make_app(config)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def tts_dir(app) -> Path:
    return Path(app.config["TTS_CACHE_DIR"])


def plays(root) -> list[str]:
    return [el.text for el in root.iter("Play")]


def shared_keys(app) -> set[str]:
    return {p.stem for p in tts_dir(app).glob("*.mp3")}


def call_files(app, call_sid: str) -> list[Path]:
    folder = tts_dir(app) / "call" / call_group(app.config["SECRET_KEY"], call_sid)
    return sorted(folder.glob("*.mp3"))


def start_to_readback(caller: Caller):
    caller.start()
    thanks = caller.say("this is Jane Doe")
    readback = caller.say(JANE)
    return thanks, readback


def test_caller_data_is_played_from_the_calls_own_audio(tts_app):
    client = tts_app.test_client()
    caller = Caller(client)
    greeting = caller.start()
    # fixed prompts: the shared, content-addressed cache
    assert plays(greeting) and all(u.startswith(SHARED_URL) and not u.startswith(CALL_URL) for u in plays(greeting))
    thanks = caller.say("this is Jane Doe")
    readback = caller.say(JANE)
    personal = [u for u in plays(thanks) + plays(readback) if u.startswith(CALL_URL)]
    assert len(personal) == 2, plays(thanks) + plays(readback)  # "Thanks, Jane." and the read-back
    speech = tts_app.extensions["speech"]
    group = call_group("s3cret-for-tests", caller.call_sid)
    for url in personal:
        assert url.startswith(f"{CALL_URL}{group}/")
    # served for Twilio's <Play>, never cached by a proxy
    audio = client.get(personal[0][len("https://callflow.example.test"):])
    assert audio.status_code == 200 and audio.mimetype == "audio/mpeg" and audio.data[:1] in (b"I", b"\xff")
    cache_control = audio.headers["Cache-Control"]
    assert "no-store" in cache_control and "private" in cache_control and "public" not in cache_control
    assert "ETag" not in audio.headers
    # the shared cache holds fixed prompts only: a guessed text's content-addressed URL is not there
    fixed_keys = {speech.key_for(text) for text in prompts.FIXED_PROMPTS}
    assert shared_keys(tts_app) and shared_keys(tts_app) <= fixed_keys
    guessed = speech.key_for(prompts.thanks_name("Jane"))
    assert client.get(f"/tts/{guessed}.mp3").status_code == 404
    # the personal key is an HMAC under SECRET_KEY: another secret gives another name
    assert call_key("other", caller.call_sid, "Thanks, Jane.", "alloy", speech.model, speech.instructions) not in {
        u[len(SHARED_URL):-4] for u in personal
    }
    assert len(call_files(tts_app, caller.call_sid)) == 2


def run_worker(app) -> None:
    result = app.test_cli_runner().invoke(args=["tickets", "worker", "--once"])
    assert result.exit_code == 0, result.output


def test_the_worker_deletes_the_audio_once_the_call_is_over(tts_app):
    """The status callback only queues the ticket; the worker's first go at it deletes the call's audio (a slow
    bucket must not hold a webhook)."""
    client = tts_app.test_client()
    caller, other = Caller(client), Caller(client)
    start_to_readback(caller)
    start_to_readback(other)
    url = [u for u in plays(caller.last) if u.startswith(CALL_URL)][0]
    assert call_files(tts_app, caller.call_sid) and call_files(tts_app, other.call_sid)
    before = shared_keys(tts_app)
    caller.hangup()
    assert len(call_files(tts_app, caller.call_sid)) == 2  # not in the webhook
    run_worker(tts_app)
    assert call_files(tts_app, caller.call_sid) == []
    assert not (tts_dir(tts_app) / "call" / call_group("s3cret-for-tests", caller.call_sid)).exists()
    assert client.get(url[len("https://callflow.example.test"):]).status_code == 404
    # another call's audio and the shared prompts stay
    assert len(call_files(tts_app, other.call_sid)) == 2 and shared_keys(tts_app) == before
    caller.hangup()  # a repeated status callback is harmless
    run_worker(tts_app)
    assert len(call_files(tts_app, other.call_sid)) == 2


def test_sweeper_deletes_the_audio_of_a_call_twilio_never_finalized(tts_app):
    caller = Caller(tts_app.test_client())
    start_to_readback(caller)
    assert call_files(tts_app, caller.call_sid)
    idle_calls(tts_app)
    result = tts_app.test_cli_runner().invoke(args=["tickets", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert call_files(tts_app, caller.call_sid) == []


def test_forget_deletes_the_callers_audio(tts_app):
    client = tts_app.test_client()
    caller, other = Caller(client), Caller(client, from_number="+14155550199")
    start_to_readback(caller)
    other.start()
    other.say("Bob")
    other.say("bob at example dot com")
    caller.hangup()  # a call still in progress is kept by forget (test_privacy); this one has ended
    assert call_files(tts_app, caller.call_sid) and call_files(tts_app, other.call_sid)
    runner = tts_app.test_cli_runner()
    dry = runner.invoke(args=["calls", "forget", "--email", "jane.doe@example.com", "--dry-run"])
    assert dry.exit_code == 0 and len(call_files(tts_app, caller.call_sid)) == 2
    result = runner.invoke(args=["calls", "forget", "--email", "jane.doe@example.com"])
    assert result.exit_code == 0, result.output
    assert "2 personal audio files" in result.output
    assert call_files(tts_app, caller.call_sid) == [] and len(call_files(tts_app, other.call_sid)) == 2


def test_purge_deletes_the_audio_of_old_calls(tts_app):
    caller = Caller(tts_app.test_client())
    start_to_readback(caller)
    with tts_app.app_context():  # finalized long ago, but its audio is still there (a deletion that failed)
        db.session.execute(update(Call).values(started_at=utcnow() - timedelta(days=100), ended_at=utcnow()))
        db.session.commit()
    result = tts_app.test_cli_runner().invoke(args=["calls", "purge", "--older-than", "90d"])
    assert result.exit_code == 0, result.output
    assert "1 calls" in result.output and "2 personal audio files" in result.output
    assert call_files(tts_app, caller.call_sid) == []


def test_worker_expires_audio_older_than_the_limit(tts_app):
    caller, fresh = Caller(tts_app.test_client()), Caller(tts_app.test_client())
    start_to_readback(caller)
    start_to_readback(fresh)
    old = time.time() - 14_400 - 60
    for path in call_files(tts_app, caller.call_sid):
        os.utime(path, (old, old))
    outbox._next_audio_expiry = 0.0
    result = tts_app.test_cli_runner().invoke(args=["tickets", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert call_files(tts_app, caller.call_sid) == []
    assert not (tts_dir(tts_app) / "call" / call_group("s3cret-for-tests", caller.call_sid)).exists()
    assert len(call_files(tts_app, fresh.call_sid)) == 2
    # the next pass within the interval does not list the store again
    for path in call_files(tts_app, fresh.call_sid):
        os.utime(path, (old, old))
    tts_app.test_cli_runner().invoke(args=["tickets", "worker", "--once"])
    assert len(call_files(tts_app, fresh.call_sid)) == 2


def test_a_failed_deletion_never_fails_the_ticket(tts_app, caplog):
    caller = Caller(tts_app.test_client())
    start_to_readback(caller)
    folder = tts_dir(tts_app) / "call" / call_group("s3cret-for-tests", caller.call_sid)
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    folder.write_bytes(b"not a folder")  # the store cannot list the call's audio
    response = caller.hangup()
    assert response.status_code in (200, 204)
    run_worker(tts_app)
    assert "tts call audio not deleted: NotADirectoryError" in caplog.text
    assert caller.call_sid not in caplog.text
    with tts_app.app_context():
        assert db.session.scalar(db.select(Call).where(Call.call_sid == caller.call_sid)).ticket.status == "local"


# -- the stores ------------------------------------------------------------------------------------------------------

SILENT_MP3 = silent_mp3()


def test_directory_store_groups_and_expiry(tmp_path):
    store = TTSCache(tmp_path / "tts")
    a, b = "a" * 64, "b" * 64
    store.put(f"call/{a}/{'1' * 64}", SILENT_MP3)
    store.put(f"call/{a}/{'2' * 64}", SILENT_MP3)
    store.put(f"call/{b}/{'3' * 64}", SILENT_MP3)
    store.put("4" * 64, SILENT_MP3)
    assert store.has(f"call/{a}/{'1' * 64}") and store.get(f"call/{b}/{'3' * 64}") == SILENT_MP3
    for bad in ("call/" + "a" * 64, f"call/{a}/../{'1' * 64}", f"call/{'A' * 64}/{'1' * 64}", f"x/{a}/{'1' * 64}"):
        with pytest.raises(ValueError):
            store.put(bad, SILENT_MP3)
        assert not store.has(bad)
    assert store.delete_group(a) == 2 and store.delete_group(a) == 0
    assert not (tmp_path / "tts" / "call" / a).exists() and store.has(f"call/{b}/{'3' * 64}")
    with pytest.raises(ValueError):
        store.delete_group("../" + "a" * 61)
    old = time.time() - 100
    os.utime(store.path(f"call/{b}/{'3' * 64}"), (old, old))
    store.put(f"call/{a}/{'5' * 64}", SILENT_MP3)
    assert store.expire_calls(200) == 0
    assert store.expire_calls(50) == 1
    assert not (tmp_path / "tts" / "call" / b).exists()  # emptied, so removed
    assert store.has(f"call/{a}/{'5' * 64}") and store.has("4" * 64)  # recent, and shared: kept
    assert TTSCache(tmp_path / "none").expire_calls(0) == 0 and TTSCache(tmp_path / "none").delete_group(a) == 0


def test_tts_prune_clears_shared_audio_that_is_not_a_fixed_prompt(tts_app):
    """Audio with caller data that an older version put in the shared cache (content-addressed, so a guessed
    text could be tested against the route) goes; fixed prompts and running calls' audio stay."""
    client = tts_app.test_client()
    caller = Caller(client)
    start_to_readback(caller)
    speech = tts_app.extensions["speech"]
    legacy = speech.key_for("Thanks, Jane Doe.")
    TTSCache(tts_dir(tts_app)).put(legacy, silent_mp3())
    assert client.get(f"/tts/{legacy}.mp3").status_code == 200
    fixed_before = shared_keys(tts_app) - {legacy}
    assert fixed_before
    runner = tts_app.test_cli_runner()
    dry = runner.invoke(args=["tts", "prune", "--dry-run"])
    assert dry.exit_code == 0 and "would delete 1 shared audio files" in dry.output
    assert legacy in shared_keys(tts_app)
    result = runner.invoke(args=["tts", "prune"])
    assert result.exit_code == 0, result.output
    assert f"deleted 1 shared audio files; {len(prompts.FIXED_PROMPTS)} fixed prompts kept" in result.output
    assert client.get(f"/tts/{legacy}.mp3").status_code == 404
    assert shared_keys(tts_app) == fixed_before and len(call_files(tts_app, caller.call_sid)) == 2


def test_expiry_never_takes_audio_just_made(tts_app):
    """A zero or negative TTS_CALL_AUDIO_MAX_AGE_S must not delete a prompt before Twilio fetched it."""
    from callflow.tts import expire_call_audio

    caller = Caller(tts_app.test_client())
    start_to_readback(caller)
    with tts_app.app_context():
        assert expire_call_audio(-3600) == 0 and expire_call_audio(0) == 0
        assert len(call_files(tts_app, caller.call_sid)) == 2
        old = time.time() - 61
        for path in call_files(tts_app, caller.call_sid):
            os.utime(path, (old, old))
        assert expire_call_audio(0) == 2
