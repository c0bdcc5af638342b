"""Turn help-center HTML into plain text that a text-to-speech voice can read.

Kayako (and most help centers) store article bodies as HTML.  Phone callers
hear the text through Twilio ``<Say>``, so tags must go, entities must be
decoded, and block boundaries (paragraphs, list items, headings, table
cells) must become sentence boundaries, otherwise "Click Save</li><li>Open
the page" would be spoken as one run-on sentence "Click Save Open the page".

Only the standard library is used (:mod:`html.parser`).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

__all__ = ["html_to_text", "split_sentences"]

# Elements whose start and end delimit a block of text (a line in the output).
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd",
        "details", "dialog", "div", "dl", "dt", "fieldset", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
        "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)
# Elements whose content is never spoken.
_SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "head", "title", "iframe",
     "object", "embed", "svg", "canvas", "select", "button"}
)
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
     "meta", "param", "source", "track", "wbr"}
)
# Characters that end a spoken sentence; a block ending in none of these
# gets a period so that the TTS voice pauses.
_TERMINAL = ".!?:;…"
_WS_RE = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZERO_WIDTH_RE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
_TAG_RE = re.compile(r"<[^>]*>?")
_UNCLOSED_RE = re.compile(r"<(?=[^<>]*(?:<|$))")  # a "<" whose tag never closes


class _TextExtractor(HTMLParser):
    """Collects text, starting a new block at every block-level tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._buf: list[str] = []
        self._skip_depth = 0
        self._skip_stack: list[str] = []

    # -- block handling -------------------------------------------------
    def _flush(self) -> None:
        if self._buf:
            self.blocks.append("".join(self._buf))
            self._buf = []

    def handle_starttag(self, tag: str, attrs) -> None:  # noqa: D401
        tag = tag.lower()
        if tag in _SKIP_TAGS:
            if tag not in _VOID_TAGS:
                self._skip_stack.append(tag)
                self._skip_depth += 1
            return
        if self._skip_depth:
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        elif tag == "img":
            # Images are not spoken; keep words on either side apart.
            self._buf.append(" ")

    def handle_startendtag(self, tag: str, attrs) -> None:
        tag = tag.lower()
        if self._skip_depth or tag in _SKIP_TAGS:
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        else:
            self._buf.append(" ")

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if tag in _SKIP_TAGS:
            if tag in self._skip_stack:
                # Pop up to and including the matching open tag (tolerates
                # malformed nesting such as <style><script></style>).
                while self._skip_stack:
                    self._skip_depth -= 1
                    if self._skip_stack.pop() == tag:
                        break
            return
        if self._skip_depth:
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        elif tag in ("td", "th"):
            self._buf.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self._buf.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def _finish_block(block: str) -> str:
    block = _ZERO_WIDTH_RE.sub("", block)
    block = _WS_RE.sub(" ", block.replace("\n", " ")).strip()
    if not block:
        return ""
    if not any(ch.isalnum() for ch in block):
        # Decorative separators such as "—" or "•" are not spoken.
        return ""
    # Closing quotes/brackets after the final punctuation are fine.
    tail = block.rstrip("\"')]}»”’")
    if tail and tail[-1] not in _TERMINAL:
        block += "."
    return block


def html_to_text(html_source: str) -> str:
    """Convert an HTML fragment to plain text suitable for speech.

    Args:
        html_source: HTML (any size; a plain string without tags works too).
            ``None`` or non-string input is treated as empty.

    Returns:
        Text with tags removed, entities unescaped (``&amp;`` -> ``&``,
        ``&nbsp;`` -> space), ``<script>``/``<style>``/``<noscript>`` etc.
        content dropped and link text kept (the ``href`` is not spoken).
        Every block element (``<p>``, ``<li>``, ``<h1>``-``<h6>``, ``<div>``,
        ``<br>``, table cells...) becomes its own line, and a line that does
        not already end in ``. ! ? : ;`` gets a period so a TTS voice pauses
        between list items.  Lines are joined with ``"\\n"``; whitespace inside
        a line is collapsed to single spaces; no leading/trailing whitespace.
        Returns ``""`` for empty input.

    Never raises: malformed HTML (unclosed tags, stray ``<``, bad entities)
    is handled by :class:`html.parser.HTMLParser`'s lenient parsing, and any
    unexpected parser failure falls back to a regex tag strip.
    """
    if not isinstance(html_source, str) or not html_source:
        return ""
    try:
        parser = _TextExtractor()
        parser.feed(_UNCLOSED_RE.sub("&lt;", html_source))
        parser.close()
        blocks = parser.blocks
    except Exception:  # pragma: no cover - defensive fallback
        try:
            blocks = [html.unescape(_TAG_RE.sub(" ", html_source))]
        except Exception:
            return ""
    lines = [b for b in (_finish_block(b) for b in blocks) if b]
    return "\n".join(lines)


# Abbreviations after which a period does not end a sentence.
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "vs", "mr", "mrs", "ms", "dr", "st", "approx",
     "inc", "ltd", "co", "jr", "sr", "fig", "incl", "p.s", "a.m",
     "p.m", "u.s", "cf", "dept", "est", "jan", "feb", "mar", "apr", "jun",
     "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
)
# Candidate boundary: terminal punctuation (plus closing quotes) followed by
# whitespace and something that can start a sentence.
_BOUNDARY_RE = re.compile(r"([.!?…]+[\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """Split plain text into sentences.

    Args:
        text: Plain text, e.g. the output of :func:`html_to_text`.

    Returns:
        Sentences in original order, each stripped, none empty.  Newlines are
        always boundaries (block elements from :func:`html_to_text`); inside a
        line a boundary is ``.``, ``!``, ``?`` or ``…`` followed by whitespace
        and an upper-case letter, digit or opening quote.  Periods after
        common abbreviations ("e.g.", "i.e.", "Dr.", "vs.") and single
        initials do not split, and decimals such as "1.5" never split because
        no whitespace follows the period.  ``[]`` for empty or non-string
        input.  Never raises.
    """
    if not isinstance(text, str) or not text.strip():
        return []
    out: list[str] = []
    for line in text.splitlines():
        line = _WS_RE.sub(" ", line).strip()
        if not line:
            continue
        start = 0
        for m in _BOUNDARY_RE.finditer(line):
            end = m.end(1)
            before = line[start:m.start(1)]
            last_word = before.rsplit(" ", 1)[-1].lower().lstrip("(\"'")
            if m.group(1).startswith(".") and (
                last_word in _ABBREVIATIONS
                or (len(last_word) == 1 and last_word.isalpha())
            ):
                continue
            sentence = line[start:end].strip()
            if sentence:
                out.append(sentence)
            start = m.end()
        rest = line[start:].strip()
        if rest:
            out.append(rest)
    return out
