"""Render a :class:`~callflow.conversation.Reply` as TwiML with twilio's ``VoiceResponse``.

Rules from https://www.twilio.com/docs/voice/twiml/gather and /twiml/say:
``input="speech dtmf"``, ``speechTimeout="auto"`` (only valid without ``speechModel``; a whole
number of seconds where the caller spells, see ``speech_timeout``),
``actionOnEmptyResult="true"`` so silence still reaches the action URL, ``hints`` at most
500 phrases of at most 100 characters, ``<Say>`` at most 3000 characters for Polly voices,
only ``<Say>``/``<Play>``/``<Pause>`` inside ``<Gather>``. Served as ``text/xml``.
"""
from __future__ import annotations

import time
from functools import lru_cache
from typing import Iterable
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from flask import Response
from twilio.twiml.voice_response import Gather, VoiceResponse

from .control_chars import CONTROL_CHARS
from .prompts import FIXED_PROMPTS

MAX_SAY_CHARS = 3000
MAX_HINTS = 500
MAX_HINT_CHARS = 100


def format_hints(phrases: Iterable[str], limit: int = 100) -> str | None:
    """Join up to ``limit`` (≤ 500) distinct phrases of ≤ 100 characters into Twilio's hints CSV."""
    seen: dict[str, str] = {}
    cap = min(limit, MAX_HINTS)
    for phrase in phrases:
        clean = " ".join(str(phrase).replace(",", " ").split())[:MAX_HINT_CHARS]
        if clean:
            seen.setdefault(clean.lower(), clean)
        if len(seen) >= cap:
            break
    return ",".join(seen.values()) or None


def _audio_scope(text: str, call_sid: str | None) -> dict:
    """``audio_url``'s keyword for ``text``: fixed prompts share one cache entry; anything else may carry caller
    data, so its audio belongs to the call (deleted when the call ends), or is not synthesized without a call."""
    if text in _FIXED:
        return {}
    return {"call_sid": call_sid} if call_sid else None


def _audio(text: str, *, speech, deadline: float | None, call_sid: str | None = None) -> str | None:
    """The audio URL of ``text``, or None for ``<Say>`` (no speech, no call for caller data, or any failure)."""
    try:
        scope = _audio_scope(text, call_sid)
        if speech is None or scope is None:
            return None
        if deadline is None:
            return speech.audio_url(text, **scope)
        return speech.audio_url(text, timeout=max(0.0, deadline - time.monotonic()), **scope)
    except Exception:  # speech is an optional nicety: <Say> always works
        return None


def _speak(parent, texts: list[str], *, speech, voice: str, language: str, deadline: float | None,
           call_sid: str | None = None) -> None:
    """Append the prompts to ``parent`` in one voice: all ``<Play>``, or all ``<Say>`` as soon as one prompt has
    no audio (an answer whose synthesis missed the turn's deadline). A ``<Say>`` (``voice``, e.g. Polly) between
    ``<Play>``s (the TTS voice) changed the speaker mid-sentence: "... click Send reset link." in one voice, "Did
    that solve your issue?" in another."""
    urls = [_audio(text, speech=speech, deadline=deadline, call_sid=call_sid) for text in texts]
    if not all(urls):
        urls = [None] * len(texts)
    for text, url in zip(texts, urls):
        if url:
            parent.play(url)
        else:
            parent.say(text, voice=voice, language=language)


def render(
    prompts: list[str],
    *,
    listen: bool,
    action_url: str,
    speech,
    voice: str,
    language: str = "en-US",
    hints: str | None = None,
    timeout_s: int = 6,
    deadline: float | None = None,
    call_sid: str | None = None,
    speech_timeout: str = "auto",
    num_digits: int | None = 1,
) -> str:
    """Return the TwiML document: prompts inside a Gather (then a Redirect), or prompts then Hangup.

    Audio (``<Play>``): a fixed prompt (:data:`~callflow.prompts.FIXED_PROMPTS`) uses the shared cache; any other
    text may carry caller data and is stored as ``call_sid``'s personal audio (deleted when the call ends, see
    :mod:`callflow.tts`), or spoken with ``<Say>`` when no ``call_sid`` is given.

    ``num_digits`` is the Gather's ``numDigits``: 1 (a key answers: 1 yes, 2 no, 0 a person), or ``None`` for
    none, so that Twilio collects keys until ``finishOnKey`` ("#", its default) or ``timeout_s`` seconds pass (a
    phone number typed on the keypad).

    ``deadline`` (``time.monotonic()`` seconds) bounds how long audio synthesis may take;
    every prompt's synthesis starts at once, so their waits overlap. One voice per document: if any prompt has no
    audio by then, every prompt is a ``<Say>``. A ``speech`` provider
    with ``always_say = True`` (the embedded default) never gives audio, so a document made
    only of :data:`~callflow.prompts.FIXED_PROMPTS` is built once and reused. A prompt with
    caller data (a name, an email read-back) is never cached: personal data stays in the
    database and the ticket, where ``calls forget`` can erase it.
    """
    if (
        getattr(speech, "always_say", False)
        and all(text in _FIXED for text in prompts)
        and (hints is None or _ACTION_SLOT not in hints)
    ):
        # No audio and no caller data: the document depends on the fixed texts alone.
        return _said(tuple(prompts), listen, voice, language, hints, timeout_s, speech_timeout, num_digits).replace(
            _ACTION_SLOT, escape(action_url, {'"': "&quot;"})
        )
    return _render(prompts, listen=listen, action_url=action_url, speech=speech, voice=voice,
                   language=language, hints=hints, timeout_s=timeout_s, deadline=deadline, call_sid=call_sid,
                   speech_timeout=speech_timeout, num_digits=num_digits)


_ACTION_SLOT = "callflow-action-url-slot"
_FIXED = frozenset(FIXED_PROMPTS)


@lru_cache(maxsize=512)
def _said(prompts: tuple[str, ...], listen: bool, voice: str, language: str, hints: str | None, timeout_s: int,
          speech_timeout: str = "auto", num_digits: int | None = 1) -> str:
    """The ``<Say>``-only document for these prompts, with a slot for the Gather action URL.

    A call's turns repeat the same few fixed prompt sets, and only the action URL (its ``t``
    sequence number) differs, so the builder runs once per prompt set (~0.2 ms saved a turn).
    """
    return _render(list(prompts), listen=listen, action_url=_ACTION_SLOT, speech=None, voice=voice,
                   language=language, hints=hints, timeout_s=timeout_s, deadline=None, speech_timeout=speech_timeout,
                   num_digits=num_digits)


def _render(
    prompts: list[str],
    *,
    listen: bool,
    action_url: str,
    speech,
    voice: str,
    language: str,
    hints: str | None,
    timeout_s: int,
    deadline: float | None,
    call_sid: str | None = None,
    speech_timeout: str = "auto",
    num_digits: int | None = 1,
) -> str:
    # Last gate, once: a character XML forbids breaks the document, and what is prefetched is what is spoken.
    prompts = [CONTROL_CHARS.sub(" ", text[:MAX_SAY_CHARS]) for text in prompts]
    prefetch = getattr(speech, "synthesize_async", None)
    if prefetch is not None and len(prompts) > 1:
        for text in prompts:
            scope = _audio_scope(text, call_sid)
            if scope is not None:
                prefetch(text, **scope)
    response = VoiceResponse()
    if listen:
        gather = Gather(
            input="speech dtmf",
            action=action_url,
            method="POST",
            language=language,
            speech_timeout=speech_timeout,
            timeout=timeout_s,
            **({"num_digits": num_digits} if num_digits else {}),
            action_on_empty_result=True,
            profanity_filter=False,
            **({"hints": hints} if hints else {}),
        )
        _speak(gather, prompts, speech=speech, voice=voice, language=language, deadline=deadline,
               call_sid=call_sid)
        response.append(gather)
        response.redirect(action_url, method="POST")
    else:
        _speak(response, prompts, speech=speech, voice=voice, language=language, deadline=deadline,
               call_sid=call_sid)
        response.hangup()
    return str(response)


def replay(document: str | None, action_url: str) -> str | None:
    """``document`` (a listening TwiML document this app rendered, e.g. ``Call.last_twiml``) again, its Gather
    action and Redirect pointed at ``action_url``: the same ``<Say>`` and ``<Play>`` (cached audio), hints and
    timeouts. None when ``document`` is missing, unreadable or does not listen (no ``<Gather>``)."""
    if not document:
        return None
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError:
        return None
    gather = root.find("Gather")
    if root.tag != "Response" or gather is None:
        return None
    gather.set("action", action_url)
    for redirect in root.iter("Redirect"):
        redirect.text = action_url
    return '<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(root, encoding="unicode")


def say_and_hangup(texts: list[str], voice: str = "Polly.Joanna-Neural", language: str = "en-US") -> str:
    """A static ``<Say>…<Hangup/>`` document (needs no service; used when things fail)."""
    response = VoiceResponse()
    for text in texts:
        response.say(text[:MAX_SAY_CHARS], voice=voice, language=language)
    response.hangup()
    return str(response)


def hold_and_retry(text: str, url: str, voice: str = "Polly.Joanna-Neural", language: str = "en-US") -> str:
    """``<Say>`` a holding line, ``<Pause length="1"/>``, then ``<Redirect>`` to ``url`` (POST)."""
    response = VoiceResponse()
    response.say(text[:MAX_SAY_CHARS], voice=voice, language=language)
    response.pause(length=1)
    response.redirect(url, method="POST")
    return str(response)


def twiml_response(document: str, status: int = 200) -> Response:
    """Wrap a TwiML document as a ``text/xml`` response."""
    return Response(document, status=status, mimetype="text/xml")
