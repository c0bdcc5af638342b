"""The baseline for ``bench/throughput.py``: a bare Flask app that answers every POST with a
fixed Gather TwiML.

No database, no state machine, no KB: what gunicorn + Flask + one TwiML document cost on
this machine. The document is built once with twilio's ``VoiceResponse`` (the same library
callflow renders with); its Gather action points back to the same URL, so a load generator
that follows the Gather action (``bench/loadgen.py``) keeps posting here. Every response
carries ``Server-Timing: app;dur=<ms>`` measured the same way as ``callflow.voice`` does
(``before_request`` to ``after_request``).

Serve it with the same gunicorn settings as callflow::

    .venv/bin/gunicorn -c gunicorn.conf.py --workers 2 --pythonpath bench bare_app:app
"""
from __future__ import annotations

import os
import sys
import time
from typing import Callable, Optional

from flask import Flask, Response, g
from twilio.twiml.voice_response import Gather, VoiceResponse

PATH = "/voice/bare"


def _document() -> str:
    response = VoiceResponse()
    gather = Gather(
        input="speech dtmf",
        action=PATH,
        method="POST",
        language="en-US",
        speech_timeout="auto",
        timeout=6,
        num_digits=1,
        action_on_empty_result=True,
    )
    gather.say("Thanks. And what is your email address?", voice="Polly.Joanna-Neural", language="en-US")
    response.append(gather)
    response.redirect(PATH, method="POST")
    return str(response)


DOCUMENT = _document()


def create_app(before_answer: Optional[Callable[[], None]] = None) -> Flask:
    """The bare app; ``before_answer`` (for ``bench/bare_db_app.py``) runs in each POST first."""
    app = Flask(__name__)

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _timing(response: Response) -> Response:
        started = g.get("started")
        if started is not None:
            response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    @app.post(PATH)
    def answer() -> Response:
        if before_answer is not None:
            before_answer()
        return Response(DOCUMENT, mimetype="text/xml")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


app = create_app()
# bench/throughput.py waits for one such line per worker before it starts the load.
print(f"bare_app ready in pid {os.getpid()}", file=sys.stderr, flush=True)
