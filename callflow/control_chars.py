"""Control characters in text from outside: Twilio form fields, Kayako articles, OpenAI output,
the admin's query strings.

None of them belongs in what callflow stores or speaks: PostgreSQL ``text`` refuses NUL
(https://www.postgresql.org/docs/current/datatype-character.html), XML 1.0, and so TwiML,
allows no C0 control but tab and line breaks (https://www.w3.org/TR/xml/#charsets), and a
voice has nothing to say for any of them. The set is Unicode's category Cc: U+0000-U+001F
and U+007F-U+009F; plus what XML 1.0 also excludes and JSON can still carry (``\ud800``,
``\ufffe``): lone surrogates U+D800-U+DFFF, which no UTF-8 encoder or database accepts, and the
noncharacters U+FFFE and U+FFFF. One of these in a ``<Say>`` makes the TwiML malformed
(Twilio error 12100: https://www.twilio.com/docs/api/errors/12100).
"""
from __future__ import annotations

import re

#: Every control character (category Cc), lone surrogate and U+FFFE/U+FFFF.
CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
#: The same but tab, line feed and carriage return, for text whose lines still matter
#: (article HTML, a model's markdown before it becomes one spoken line).
CONTROL_CHARS_BUT_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
