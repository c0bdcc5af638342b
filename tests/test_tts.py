"""Tests for callflow.tts: synthesis through the real SDK against the fake server, the cache and the mp3 route."""

from __future__ import annotations

import os
import time

import pytest
from flask import Flask

from callflow.llm import make_openai_client
from callflow.tts import OpenAISpeech
from callflow.tts import TTSCache
from callflow.tts import bp
from callflow.tts import looks_like_mp3
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.openai_server import silent_mp3

SPEECH = "/v1/audio/speech"
BASE = "https://callflow.example.test"
# MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, stereo: 144 * 128000 / 44100 = 417 bytes per frame.
MPEG1_FRAME = bytes((0xFF, 0xFB, 0x90, 0x04)) + bytes(413)


@pytest.fixture(scope="module")
def server():
    """Run one fake OpenAI server for this module."""
    with FakeOpenAI(api_key="test") as fake_server:
        yield fake_server


@pytest.fixture
def fake(server):
    """The module's fake server, reset before and after each test."""
    server.reset()
    yield server
    server.reset()


@pytest.fixture(scope="module")
def client(server):
    """Real SDK client pointed at the fake."""
    return make_openai_client(api_key="test", base_url=server.url + "/v1", timeout=2.0)


@pytest.fixture
def cache(tmp_path):
    """An empty on-disk cache."""
    return TTSCache(tmp_path / "tts")


def _speech(client, cache, **kwargs):
    options = dict(
        model="gpt-4o-mini-tts", voice="alloy", instructions="Warm and calm.", timeout=1.0, public_base_url=BASE + "/"
    )
    options.update(kwargs)
    return OpenAISpeech(client, cache, **options)


@pytest.fixture
def speech(fake, client, cache):
    """OpenAISpeech with a 1 s synthesis wait."""
    tts = _speech(client, cache)
    yield tts
    tts.close()


def _wait_for(predicate, seconds=3.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_synthesizes_once_then_serves_from_cache(fake, speech, cache):
    url = speech.audio_url("  Hello,\n caller! ")
    key = TTSCache.key("Hello, caller!", "alloy", "gpt-4o-mini-tts", "Warm and calm.")

    assert url == f"{BASE}/tts/{key}.mp3"
    assert cache.has(key) and looks_like_mp3(cache.path(key).read_bytes())
    (request,) = fake.requests_for(SPEECH)
    assert request.headers["authorization"] == "Bearer test"
    assert request.json == {
        "model": "gpt-4o-mini-tts",
        "voice": "alloy",
        "input": "Hello, caller!",
        "instructions": "Warm and calm.",
        "response_format": "mp3",
    }
    assert speech.audio_url("Hello, caller!") == url
    assert speech.audio_url("Hello, caller!", synthesize=False) == url
    assert len(fake.requests_for(SPEECH)) == 1


def test_not_cached_without_synthesis_returns_none(fake, speech):
    assert speech.audio_url("Nothing yet", synthesize=False) is None
    assert fake.requests == []


def test_empty_instructions_are_not_sent(fake, client, cache):
    tts = _speech(client, cache, instructions="", model="tts-1")
    assert tts.audio_url("Hi") is not None
    assert "instructions" not in fake.requests_for(SPEECH)[0].json
    tts.close()


def test_cache_key_depends_on_text_voice_model_and_instructions():
    base = TTSCache.key("Hello", "alloy", "gpt-4o-mini-tts", "calm")
    assert len(base) == 64 and all(c in "0123456789abcdef" for c in base)
    assert TTSCache.key(" Hello ", "alloy", "gpt-4o-mini-tts", "calm") == base
    others = {
        TTSCache.key("Hello!", "alloy", "gpt-4o-mini-tts", "calm"),
        TTSCache.key("Hello", "nova", "gpt-4o-mini-tts", "calm"),
        TTSCache.key("Hello", "alloy", "tts-1", "calm"),
        TTSCache.key("Hello", "alloy", "gpt-4o-mini-tts", ""),
    }
    assert base not in others and len(others) == 4


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html>busy</html>", "text/html"),
        (b"\x00" * 500, "audio/mpeg"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio/mpeg"),  # an empty ID3 tag, no frames
    ],
)
def test_non_mp3_response_is_not_cached(fake, speech, cache, body, content_type):
    fake.speech_responder = lambda request_json: body
    fake.speech_content_type = content_type
    assert speech.audio_url("Hello") is None
    assert not cache.has(speech.key_for("Hello"))
    assert not cache.directory.exists() or list(cache.directory.iterdir()) == []


def test_timeout_returns_none_quickly(fake, speech):
    fake.hang = 10
    started = time.monotonic()
    assert speech.audio_url("Hello") is None
    assert time.monotonic() - started < 1.0 + 0.5


def test_slow_stream_returns_none_quickly(fake, speech):
    fake.tts_ttfb, fake.tts_total, fake.tts_chunk_size = 0.1, 5.0, 96
    started = time.monotonic()
    assert speech.audio_url("A longer sentence that streams slowly.") is None
    assert time.monotonic() - started < 1.0 + 0.5


def test_background_synthesis_completes_for_next_use(fake, client, cache):
    tts = _speech(client, cache, timeout=0.2)
    fake.tts_ttfb = 0.6
    assert tts.audio_url("Please hold.") is None
    assert _wait_for(lambda: tts.audio_url("Please hold.", synthesize=False) is not None)
    assert len(fake.requests_for(SPEECH)) == 1
    tts.close()


def test_background_synthesis_is_bounded(fake, client, cache):
    tts = _speech(client, cache, timeout=0.2, background_timeout=0.5)
    fake.tts_ttfb, fake.tts_total, fake.tts_chunk_size = 0.1, 3.0, 96
    assert tts.audio_url("Streams for too long.") is None
    time.sleep(0.8)
    assert not cache.has(tts.key_for("Streams for too long."))
    tts.close()


def test_http_error_returns_none_without_retry(fake, client, cache):
    tts = _speech(client.with_options(max_retries=3), cache)
    fake.fail_next(500, n=3, path=SPEECH)
    assert tts.audio_url("Hello") is None
    assert len(fake.requests_for(SPEECH)) == 1
    tts.close()


def test_invalid_texts_return_none_without_request(fake, speech):
    assert speech.audio_url("   ") is None
    assert speech.audio_url("x" * 4097) is None
    assert fake.requests == []


def test_synthesize_async_deduplicates_and_caches(fake, speech, cache):
    fake.tts_ttfb = 0.2
    speech.synthesize_async("Thanks for calling.")
    speech.synthesize_async("Thanks  for calling.")
    assert _wait_for(lambda: cache.has(speech.key_for("Thanks for calling.")))
    assert len(fake.requests_for(SPEECH)) == 1
    speech.synthesize_async("")  # never raises
    fake.fail_next(500, path=SPEECH)
    speech.synthesize_async("Will fail.")
    assert _wait_for(lambda: len(fake.requests_for(SPEECH)) == 2)


def test_warm_counts(fake, speech, cache):
    cache.put(speech.key_for("Already here."), silent_mp3())
    fake.fail_next(500, n=1, path=SPEECH)
    counts = speech.warm(["Already here.", "One.", "Two.", "One.", "", "Already  here."])
    assert counts == {"cached": 1, "synthesized": 1, "failed": 2}
    assert len(fake.requests_for(SPEECH)) == 2
    assert speech.warm(["One.", "Two."]) == {"cached": 1, "synthesized": 1, "failed": 0}  # the failed one retried
    assert speech.warm(["One.", "Two."]) == {"cached": 2, "synthesized": 0, "failed": 0}


def test_public_base_url_must_be_absolute_or_empty(fake, client, cache):
    with pytest.raises(ValueError):
        _speech(client, cache, public_base_url="/relative")
    tts = _speech(client, cache, public_base_url="")
    assert tts.audio_url("Hello") is None  # nowhere Twilio could fetch it: <Say>
    assert fake.requests == []
    assert tts.warm(["Hello"]) == {"cached": 0, "synthesized": 1, "failed": 0}
    tts.close()


def test_looks_like_mp3():
    assert looks_like_mp3(silent_mp3(1))
    assert looks_like_mp3(silent_mp3(5) + b"TAG" + bytes(125))
    assert looks_like_mp3(MPEG1_FRAME * 2)
    id3 = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + bytes(10)  # 10-byte tag body
    assert looks_like_mp3(id3 + silent_mp3(2))
    assert not looks_like_mp3(b"")
    assert not looks_like_mp3(id3)
    assert not looks_like_mp3(silent_mp3(1)[:50])  # truncated frame
    assert not looks_like_mp3(silent_mp3(1) + b"garbage!")  # no second frame
    assert not looks_like_mp3(b"RIFF" + bytes(200))
    assert not looks_like_mp3(bytes((0xFF, 0xFF, 0xFF, 0xFF)) + bytes(200))  # reserved bits


def test_cache_put_is_atomic_and_validated(cache):
    key = TTSCache.key("x", "alloy", "m")
    with pytest.raises(ValueError):
        cache.put(key, b"not audio")
    with pytest.raises(ValueError):
        cache.path("../../etc/passwd")
    assert not cache.has("../../etc/passwd")
    cache.put(key, silent_mp3())
    cache.put(key, silent_mp3(3))
    assert cache.has(key)
    assert os.listdir(cache.directory) == [f"{key}.mp3"]
    assert cache.path(key).read_bytes() == silent_mp3(3)


@pytest.fixture
def route_client(cache):
    """A tiny Flask app with only the TTS blueprint."""
    app = Flask(__name__)
    app.config["TESTING"] = True
    app.extensions["tts_cache"] = cache
    app.register_blueprint(bp)
    return app.test_client()


def test_route_serves_cached_mp3(route_client, cache):
    key = TTSCache.key("Hello", "alloy", "gpt-4o-mini-tts")
    cache.put(key, silent_mp3(4))

    # A WSGI server closes response bodies (file wrappers); with the test client the test does it.
    with route_client.get(f"/tts/{key}.mp3") as response:
        data = response.data
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "audio/mpeg"
    assert data == silent_mp3(4)
    assert response.headers["ETag"] == f'"{key}"'
    directives = {d.strip() for d in response.headers["Cache-Control"].split(",")}
    assert directives == {"public", "max-age=31536000", "immutable"}
    assert response.content_length == len(silent_mp3(4))

    with route_client.get(f"/tts/{key}.mp3", headers={"If-None-Match": f'"{key}"'}) as cached:
        assert cached.status_code == 304 and cached.data == b""
        assert cached.headers["ETag"] == f'"{key}"'
    with route_client.head(f"/tts/{key}.mp3") as head:
        assert head.status_code == 200 and head.headers["Content-Type"] == "audio/mpeg"
    with route_client.get(f"/tts/{key}.mp3", headers={"Range": "bytes=0-3"}) as partial:
        assert partial.status_code == 206 and partial.data == silent_mp3(1)[:4]


@pytest.mark.parametrize(
    "name",
    ["abc", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "..%2F..%2Fetc%2Fpasswd", "0" * 64],  # last: valid but missing
)
def test_route_404s(route_client, name):
    with route_client.get(f"/tts/{name}.mp3") as response:
        assert response.status_code == 404


def test_cache_get_and_source(cache):
    key = TTSCache.key("Hello", "alloy", "gpt-4o-mini-tts")
    assert cache.get(key) is None and cache.source(key) is None
    assert cache.get("../../etc/passwd") is None and cache.source("nothex") is None
    cache.put(key, silent_mp3(2))
    assert cache.get(key) == silent_mp3(2)
    assert cache.source(key) == cache.path(key)


def test_route_revalidation_needs_no_read_and_404s_when_missing(route_client, cache):
    key = TTSCache.key("Hello", "alloy", "gpt-4o-mini-tts")
    with route_client.get(f"/tts/{key}.mp3", headers={"If-None-Match": f'"{key}"'}) as missing:
        assert missing.status_code == 404
    cache.put(key, silent_mp3(2))
    for tag in (f'W/"{key}"', "*", f'"other", "{key}"'):
        with route_client.get(f"/tts/{key}.mp3", headers={"If-None-Match": tag}) as cached:
            assert cached.status_code == 304 and cached.data == b""
            assert cached.headers["ETag"] == f'"{key}"' and "immutable" in cached.headers["Cache-Control"]
    with route_client.get(f"/tts/{key}.mp3", headers={"If-None-Match": '"other"'}) as changed:
        assert changed.status_code == 200 and changed.data == silent_mp3(2)


def test_route_unreadable_directory_is_503(route_client, cache, monkeypatch):
    key = TTSCache.key("Hello", "alloy", "gpt-4o-mini-tts")
    cache.put(key, silent_mp3(2))

    def broken(_key):
        raise PermissionError("shared mount gone")

    monkeypatch.setattr(cache, "source", broken)
    with route_client.get(f"/tts/{key}.mp3") as response:
        assert response.status_code == 503
